//! The sources' spellings of the catalogue's codes (`backend/catalog/vocabulary.csv`): the
//! ETIC survey writes the same band `50pctOuPlus` one year and `50OuPlus` the next, `InfA50`
//! in another file; the annuaire writes `REP+`. One table, read by every importer, so that a
//! spelling found in a new file is one line added there.
//!
//! Spellings are compared folded (case and accents aside) and without spaces, underscores,
//! hyphens or dots, but `+` is kept: `REP` and `REP+` are different codes.

use std::{collections::HashMap, sync::OnceLock};

use super::{
    catalog::{Catalog, FieldType},
    text::fold,
};

pub(crate) const VOCABULARY_CSV: &str = include_str!("../../catalog/vocabulary.csv");

/// One source spelling of a catalogue code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spelling {
    pub spelling: &'static str,
    pub code: &'static str,
    /// Where the spelling was seen (or why it is admitted), for the documentation.
    pub origin: &'static str,
}

pub struct Vocabulary {
    by_field: HashMap<&'static str, Vec<Spelling>>,
    /// Per field, each spelling's key and code, worked out once: looked up for every cell.
    keys: HashMap<&'static str, Vec<(String, &'static str)>>,
}

/// The key two spellings are compared by.
pub fn spelling_key(raw: &str) -> String {
    fold(raw)
        .chars()
        .filter(|c| c.is_alphanumeric() || *c == '+')
        .collect()
}

/// Whether a source spelling is the code itself, written with other case or punctuation
/// (`Non` for `non`, `REP+` for `rep_plus`): nothing worth keeping beside the code.
pub fn is_the_code(raw: &str, code: &str) -> bool {
    let key = |s: &str| spelling_key(s).replace('+', "plus");
    key(raw) == key(code)
}

impl Vocabulary {
    /// The table, parsed once. A malformed table is a build defect caught by this module's
    /// tests, so parsing cannot fail at run time.
    pub fn get() -> &'static Vocabulary {
        static VOCABULARY: OnceLock<Vocabulary> = OnceLock::new();
        VOCABULARY
            .get_or_init(|| Vocabulary::parse(VOCABULARY_CSV).unwrap_or_else(|e| panic!("{e}")))
    }

    fn parse(text: &'static str) -> Result<Vocabulary, String> {
        let catalog = Catalog::get();
        let mut by_field: HashMap<&'static str, Vec<Spelling>> = HashMap::new();
        for (i, line) in text.lines().enumerate().skip(1) {
            if line.trim().is_empty() {
                continue;
            }
            let cols: Vec<&'static str> = line.split(';').collect();
            let [field, spelling, code, origin] = cols[..] else {
                return Err(format!("vocabulary.csv line {}: 4 columns expected", i + 1));
            };
            let Some(f) = catalog.field(field) else {
                return Err(format!(
                    "vocabulary.csv line {}: unknown field {field}",
                    i + 1
                ));
            };
            if !matches!(f.field_type, FieldType::Enum | FieldType::Band)
                || !f.allowed.contains(&code)
            {
                return Err(format!(
                    "vocabulary.csv line {}: {code} is not a code of {field}",
                    i + 1
                ));
            }
            let list = by_field.entry(f.name).or_default();
            if list
                .iter()
                .any(|s| spelling_key(s.spelling) == spelling_key(spelling))
            {
                return Err(format!(
                    "vocabulary.csv line {}: {spelling} is listed twice for {field}",
                    i + 1
                ));
            }
            list.push(Spelling {
                spelling,
                code,
                origin,
            });
        }
        let keys = by_field
            .iter()
            .map(|(field, list)| {
                let keys = list
                    .iter()
                    .map(|s| (spelling_key(s.spelling), s.code))
                    .chain(
                        catalog
                            .field(field)
                            .map(|f| f.allowed.clone())
                            .unwrap_or_default()
                            .into_iter()
                            .map(|code| (spelling_key(code), code)),
                    )
                    .collect();
                (*field, keys)
            })
            .collect();
        Ok(Vocabulary { by_field, keys })
    }

    /// The code a source spelling stands for: a listed spelling, or the catalogue's own code.
    pub fn code(&self, field: &str, raw: &str) -> Option<&'static str> {
        let key = spelling_key(raw);
        if let Some(keys) = self.keys.get(field) {
            return keys.iter().find(|(k, _)| *k == key).map(|(_, code)| *code);
        }
        Catalog::get()
            .field(field)?
            .allowed
            .iter()
            .copied()
            .find(|code| spelling_key(code) == key)
    }

    /// The spellings known for a field, in the table's order.
    pub fn spellings(&self, field: &str) -> &[Spelling] {
        self.by_field.get(field).map_or(&[], Vec::as_slice)
    }

    /// Every field that has spellings, with them: the documentation's table.
    pub fn all(&self) -> impl Iterator<Item = (&'static str, &[Spelling])> {
        let catalog = Catalog::get();
        let mut fields: Vec<_> = self
            .by_field
            .iter()
            .map(|(f, s)| (*f, s.as_slice()))
            .collect();
        fields.sort_by_key(|(f, _)| catalog.index_of(f));
        fields.into_iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_parses_and_names_catalogue_codes() {
        let v = Vocabulary::get();
        assert!(v.all().count() >= 6);
        assert_eq!(
            v.code("part_classes_internet", "50pctOuPlus"),
            Some("50_plus")
        );
        assert_eq!(v.code("part_classes_internet", "50OuPlus"), Some("50_plus"));
        assert_eq!(v.code("part_classes_internet", "infa50"), Some("moins_50"));
        assert_eq!(
            v.code("part_classes_internet", "Moins20pct"),
            Some("moins_20")
        );
        // The catalogue's own codes are spellings too.
        assert_eq!(v.code("part_classes_internet", "20_50"), Some("20_50"));
        assert_eq!(v.code("part_classes_internet", "InfA30"), None);
        // `+` is significant.
        assert_eq!(v.code("education_prioritaire", "REP"), Some("rep"));
        assert_eq!(v.code("education_prioritaire", "rep+"), Some("rep_plus"));
        assert_eq!(
            v.code("education_prioritaire", "Hors REP"),
            Some("hors_rep")
        );
        assert!(is_the_code("REP+", "rep_plus") && is_the_code("Non", "non"));
        assert!(!is_the_code("50OuPlus", "50_plus") && !is_the_code("InfA50", "moins_50"));
    }

    #[test]
    fn malformed_tables_are_refused() {
        let bad = |t: &'static str| Vocabulary::parse(t).err().unwrap_or_default();
        assert!(bad("h\nwifi;Oui;oui;x\n").contains("not a code of wifi"));
        assert!(bad("h\nnope;Oui;oui;x\n").contains("unknown field"));
        assert!(bad("h\nwifi;Non;non;x\nwifi;NON;non;y\n").contains("twice"));
        assert!(bad("h\nwifi;Non\n").contains("4 columns"));
    }
}
