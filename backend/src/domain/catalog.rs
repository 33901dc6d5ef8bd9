//! The field catalogue of the published dataset (`backend/catalog/fields.csv`): one definition
//! that drives storage, the API, exports, completeness and documentation.

use std::{collections::HashMap, sync::OnceLock};

use serde::Serialize;

pub(crate) const FIELDS_CSV: &str = include_str!("../../catalog/fields.csv");
/// The French label of each code of the coded fields, for pages and forms.
const CODES_CSV: &str = include_str!("../../catalog/codes.csv");

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Theme {
    Etablissement,
    Connectivite,
    Equipement,
    Ressources,
    Experimentations,
    Byod,
}

impl Theme {
    pub const ALL: [Theme; 6] = [
        Theme::Etablissement,
        Theme::Connectivite,
        Theme::Equipement,
        Theme::Ressources,
        Theme::Experimentations,
        Theme::Byod,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Theme::Etablissement => "etablissement",
            Theme::Connectivite => "connectivite",
            Theme::Equipement => "equipement",
            Theme::Ressources => "ressources",
            Theme::Experimentations => "experimentations",
            Theme::Byod => "byod",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.code() == s)
    }
}

/// The type of a field's values, which decides how a raw cell is read and how it is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldType {
    Uai,
    Text,
    Enum,
    Band,
    Date,
    Number,
    Integer,
    Boolean,
    List,
    InseeCommune,
    InseeDepartement,
    Academie,
    InseeRegion,
}

impl FieldType {
    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "uai" => Self::Uai,
            "text" => Self::Text,
            "enum" => Self::Enum,
            "band" => Self::Band,
            "date" => Self::Date,
            "number" => Self::Number,
            "integer" => Self::Integer,
            "boolean" => Self::Boolean,
            "list" => Self::List,
            "insee_commune" => Self::InseeCommune,
            "insee_departement" => Self::InseeDepartement,
            "academie" => Self::Academie,
            "insee_region" => Self::InseeRegion,
            _ => return None,
        })
    }
}

/// For which schools a field is expected, i.e. counted as missing when empty.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "types")]
pub enum ExpectedFor {
    All,
    Public,
    Prive,
    /// The ETIC survey's population: public schools under the ministry of education.
    Etic,
    Types(Vec<String>),
    /// Opt-in data, never counted as missing.
    None,
}

#[derive(Debug, Clone, Serialize)]
pub struct Field {
    pub name: &'static str,
    pub theme: Theme,
    pub label_fr: &'static str,
    #[serde(rename = "type")]
    pub field_type: FieldType,
    pub values_or_unit: &'static str,
    /// The codes an enum or band field accepts, in the catalogue's order.
    pub allowed: Vec<&'static str>,
    pub expected_for: ExpectedFor,
    pub source: &'static str,
    pub from_columns: &'static str,
}

/// A multiply-and-shift hasher for the short keys looked up for every value of every school
/// (field names, provenance ids), where SipHash costs more than the rest of the lookup. The
/// keys come from the platform itself, not from callers, so flooding is not a concern.
#[derive(Default)]
pub struct FastHasher(u64);

impl std::hash::Hasher for FastHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0.rotate_left(5) ^ u64::from(*b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }

    fn write_i64(&mut self, n: i64) {
        self.0 = (self.0.rotate_left(5) ^ n as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

pub struct Catalog {
    fields: Vec<Field>,
    by_name: HashMap<&'static str, usize, std::hash::BuildHasherDefault<FastHasher>>,
    /// field → `(code, label)`, from `codes.csv`.
    code_labels: HashMap<&'static str, Vec<(&'static str, &'static str)>>,
}

impl Catalog {
    /// The catalogue, parsed once from the embedded CSV. A malformed catalogue is a build
    /// defect caught by this module's tests, so parsing it cannot fail at run time.
    pub fn get() -> &'static Catalog {
        static CATALOG: OnceLock<Catalog> = OnceLock::new();
        CATALOG.get_or_init(|| Catalog::parse(FIELDS_CSV).unwrap_or_else(|e| panic!("{e}")))
    }

    fn parse(text: &'static str) -> Result<Catalog, String> {
        let mut fields = Vec::new();
        for (i, line) in text.lines().enumerate().skip(1) {
            if line.trim().is_empty() {
                continue;
            }
            let cols: Vec<&'static str> = line.split(';').collect();
            if cols.len() != 8 {
                return Err(format!("fields.csv line {}: 8 columns expected", i + 1));
            }
            let field_type = FieldType::parse(cols[3])
                .ok_or_else(|| format!("fields.csv line {}: unknown type {}", i + 1, cols[3]))?;
            let allowed = match field_type {
                FieldType::Enum | FieldType::Band => cols[4]
                    .split(" (")
                    .next()
                    .unwrap_or_default()
                    .split(',')
                    .map(str::trim)
                    .collect(),
                _ => Vec::new(),
            };
            let expected_for = match cols[5] {
                "all" => ExpectedFor::All,
                "public" => ExpectedFor::Public,
                "prive" => ExpectedFor::Prive,
                "etic" => ExpectedFor::Etic,
                "none" => ExpectedFor::None,
                other => ExpectedFor::Types(other.split(',').map(str::to_owned).collect()),
            };
            fields.push(Field {
                name: cols[0],
                theme: Theme::parse(cols[1]).ok_or_else(|| {
                    format!("fields.csv line {}: unknown theme {}", i + 1, cols[1])
                })?,
                label_fr: cols[2],
                field_type,
                values_or_unit: cols[4],
                allowed,
                expected_for,
                source: cols[6],
                from_columns: cols[7],
            });
        }
        let by_name = fields
            .iter()
            .enumerate()
            .map(|(i, f)| (f.name, i))
            .collect();
        let mut code_labels: HashMap<&'static str, Vec<(&'static str, &'static str)>> =
            HashMap::new();
        for (i, line) in CODES_CSV.lines().enumerate().skip(1) {
            let cols: Vec<&'static str> = line.split(';').collect();
            let [field, code, label] = cols[..] else {
                return Err(format!("codes.csv line {}: 3 columns expected", i + 1));
            };
            code_labels.entry(field).or_default().push((code, label));
        }
        Ok(Catalog {
            fields,
            by_name,
            code_labels,
        })
    }

    /// The French label of a field's code (`wifi`, `borne_mobile` → « Oui, par borne
    /// mobile »), `None` for a code `codes.csv` does not name.
    pub fn code_label(&self, field: &str, code: &str) -> Option<&'static str> {
        self.code_labels
            .get(field)?
            .iter()
            .find(|(c, _)| *c == code)
            .map(|(_, label)| *label)
    }

    /// The codes a coded field accepts, with their labels, in the catalogue's order: the
    /// choices of a form. Lists (`byod_niveaux`) give their items' codes.
    pub fn choices(&self, field: &str) -> Vec<(&'static str, &'static str)> {
        let Some(f) = self.field(field) else {
            return Vec::new();
        };
        let codes: Vec<&'static str> = match f.field_type {
            FieldType::Enum | FieldType::Band => f.allowed.clone(),
            FieldType::List => f
                .values_or_unit
                .split(',')
                .map(str::trim)
                .filter(|c| self.code_label(f.name, c).is_some())
                .collect(),
            _ => Vec::new(),
        };
        codes
            .into_iter()
            .map(|c| (c, self.code_label(f.name, c).unwrap_or(c)))
            .collect()
    }

    pub fn fields(&self) -> &[Field] {
        &self.fields
    }

    pub fn field(&self, name: &str) -> Option<&Field> {
        self.by_name.get(name).map(|&i| &self.fields[i])
    }

    /// Field names in byte order with their catalogue position: stored records are written in
    /// that order (they are `BTreeMap`s), so one cursor walks a record and the catalogue
    /// together instead of looking every field up.
    pub fn names_in_byte_order(&self) -> &'static [(&'static str, usize)] {
        static SORTED: OnceLock<Vec<(&'static str, usize)>> = OnceLock::new();
        SORTED.get_or_init(|| {
            let mut v: Vec<_> = Catalog::get()
                .fields()
                .iter()
                .enumerate()
                .map(|(i, f)| (f.name, i))
                .collect();
            v.sort_unstable();
            v
        })
    }

    /// Position of a field in the catalogue: the column order of exports.
    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.by_name.get(name).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_has_a_french_label_and_every_label_a_code() {
        let c = Catalog::get();
        for f in c.fields() {
            for code in &f.allowed {
                assert!(
                    c.code_label(f.name, code).is_some(),
                    "{} {code} has no label",
                    f.name
                );
            }
        }
        for (field, codes) in &c.code_labels {
            let f = c
                .field(field)
                .unwrap_or_else(|| panic!("codes.csv: no field {field}"));
            for (code, _) in codes {
                let known = f.allowed.contains(code)
                    || (f.field_type == FieldType::List
                        && f.values_or_unit.split(',').any(|v| v.trim() == *code));
                assert!(known, "codes.csv: {code} is no code of {field}");
            }
        }
        assert_eq!(
            c.code_label("wifi", "borne_mobile"),
            Some("Oui, par borne mobile")
        );
        assert_eq!(c.choices("byod_types_appareils").len(), 3);
    }

    #[test]
    fn catalogue_parses_with_stable_names() {
        let c = Catalog::get();
        assert!(c.fields().len() >= 80);
        assert_eq!(c.fields()[0].name, "uai");
        let debit = c.field("debit_web").unwrap();
        assert_eq!(debit.field_type, FieldType::Band);
        assert_eq!(
            debit.allowed,
            ["inf_2", "2_10", "10_50", "50_100", "100_plus"]
        );
        assert_eq!(c.field("wifi").unwrap().expected_for, ExpectedFor::Etic);
        assert_eq!(
            c.field("section_arts").unwrap().expected_for,
            ExpectedFor::Types(vec!["college".into(), "lycee".into()])
        );
        let names: std::collections::HashSet<_> = c.fields().iter().map(|f| f.name).collect();
        assert_eq!(names.len(), c.fields().len(), "machine names are unique");
    }
}
