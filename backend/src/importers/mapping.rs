//! Mapping source columns onto catalogue fields: a table per file format says which columns
//! feed each field and how they are read; every value ends in `domain::values::parse_cell`,
//! so the catalogue's types are enforced whatever the source.

use std::collections::HashMap;

use csv::StringRecord;
use serde_json::Value;

use crate::domain::{
    catalog::{Catalog, Field, FieldType},
    nature::school_type,
    text::{fold, header_key},
    values::{parse_bool, parse_cell},
    vocabulary::{Vocabulary, is_the_code},
};

/// How the cells of a mapping's columns become one value.
#[derive(Debug, Clone, Copy)]
pub enum Rule {
    /// The first present column, read by `parse_cell`.
    Cell,
    /// A label folded into a catalogue code: « A FERMER » → `a_fermer`, « Privé » → `prive`.
    Label,
    /// A coded field: the source's spellings of the catalogue's codes, from
    /// `domain::vocabulary` (`InfA2` → `inf_2`, `REP+` → `rep_plus`); the catalogue's own codes
    /// are accepted too. The spelling is kept beside the code when they differ.
    Vocabulary,
    /// The non-empty cells of every present column, joined with `, `.
    Join,
    /// The opposite of a yes/no cell (`AccWeb_Aucun` = non means there is an access).
    Not,
    /// Yes when any column says yes; no when every column says no; else not communicated.
    Any,
    /// A text whose placeholder values (`SANS OBJET`) mean "not applicable": left out.
    TextExcept(&'static [&'static str]),
    /// A number within bounds (latitude, longitude).
    Range(f64, f64),
    /// A French postal code: 5 digits.
    PostalCode,
    /// The school type from a label column then a nature-code column.
    SchoolType,
}

/// One catalogue field fed by some columns of a file format.
#[derive(Debug, Clone, Copy)]
pub struct Mapping {
    pub field: &'static str,
    /// Header names as the source writes them; matched with `header_key`.
    pub columns: &'static [&'static str],
    pub rule: Rule,
}

pub const fn map(field: &'static str, columns: &'static [&'static str], rule: Rule) -> Mapping {
    Mapping {
        field,
        columns,
        rule,
    }
}

/// The header row of a file, looked up without regard to case, accents, spaces or underscores.
pub struct Columns<'h> {
    headers: &'h [String],
    by_key: HashMap<String, usize>,
}

impl<'h> Columns<'h> {
    pub fn new(headers: &'h [String]) -> Self {
        let mut by_key = HashMap::with_capacity(headers.len());
        for (i, h) in headers.iter().enumerate() {
            // The first of two columns with the same key is the one read.
            by_key.entry(header_key(h)).or_insert(i);
        }
        Self { headers, by_key }
    }

    pub fn find(&self, name: &str) -> Option<usize> {
        self.by_key.get(&header_key(name)).copied()
    }

    pub fn has(&self, name: &str) -> bool {
        self.find(name).is_some()
    }

    /// The header as written in the file, for messages.
    pub fn name(&self, index: usize) -> &str {
        self.headers.get(index).map_or("", String::as_str)
    }

    pub fn len(&self) -> usize {
        self.headers.len()
    }

    pub fn is_empty(&self) -> bool {
        self.headers.is_empty()
    }
}

/// A mapping whose columns were found in the file's header.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub field: &'static Field,
    /// The index of each of the mapping's columns, in the mapping's order; `None` if absent.
    pub columns: Vec<Option<usize>>,
    /// The first present column: the one a single-column rule reads.
    pub first: usize,
    pub rule: Rule,
}

/// What one field of one record reads as.
#[derive(Debug, Clone, PartialEq)]
pub enum Read {
    /// Every cell empty: not communicated.
    Empty,
    /// A value; `raw` is the source's spelling when it was translated into a catalogue code.
    Value { value: Value, raw: Option<String> },
    /// A code of a coded field (enum, band, yes/no) that no spelling of the vocabulary
    /// matches: kept as written, as an observation, never published nor dropped.
    Unrecognised {
        column: usize,
        raw: String,
        expected: String,
    },
}

impl Read {
    fn of(value: Option<Value>) -> Self {
        match value {
            Some(value) => Read::Value { value, raw: None },
            None => Read::Empty,
        }
    }
}

/// A cell that could not be read: which column, its raw value, and what was expected. Its
/// value is left out; the report says where it is and what to write instead.
#[derive(Debug, Clone, PartialEq)]
pub struct CellError {
    pub column: usize,
    pub value: String,
    pub expected: String,
}

/// Resolves a format's table against a header. Mappings none of whose columns is present are
/// returned apart, so that the report can say which fields this file does not give.
pub fn resolve(
    table: &'static [Mapping],
    columns: &Columns<'_>,
) -> (Vec<Resolved>, Vec<&'static Mapping>) {
    let catalog = Catalog::get();
    let mut found = Vec::with_capacity(table.len());
    let mut absent = Vec::new();
    for m in table {
        // A table naming an unknown field is a defect caught by the importers' tests.
        let Some(field) = catalog.field(m.field) else {
            continue;
        };
        let idx: Vec<Option<usize>> = m.columns.iter().map(|c| columns.find(c)).collect();
        match idx.iter().flatten().next() {
            None => absent.push(m),
            Some(&first) => found.push(Resolved {
                field,
                columns: idx,
                first,
                rule: m.rule,
            }),
        }
    }
    (found, absent)
}

fn cell(record: &StringRecord, index: usize) -> &str {
    record.get(index).map_or("", str::trim)
}

impl Resolved {
    /// Whether a value this field cannot read is a code to keep as written (enum, band,
    /// yes/no) rather than a malformed cell to report and leave out (numbers, dates…).
    fn coded(&self) -> bool {
        matches!(
            self.field.field_type,
            FieldType::Enum | FieldType::Band | FieldType::Boolean
        )
    }

    /// Reads this field's value from one record.
    pub fn read(&self, record: &StringRecord) -> Result<Read, CellError> {
        let first = self.first;
        let raw = cell(record, first);
        let fail = |column: usize, value: &str, expected: String| CellError {
            column,
            value: value.to_owned(),
            expected,
        };
        // A cell of a coded field that cannot be read is kept as written; any other is left
        // out with what was expected.
        let refuse = |column: usize, value: &str, expected: String| {
            if self.coded() {
                Ok(Read::Unrecognised {
                    column,
                    raw: value.to_owned(),
                    expected,
                })
            } else {
                Err(fail(column, value, expected))
            }
        };
        let parse = |column: usize, value: &str| match parse_cell(self.field, value) {
            Ok(v) => Ok(Read::of(v)),
            Err(e) => refuse(column, value, e.expected),
        };
        match self.rule {
            Rule::Cell => parse(first, raw),
            Rule::Label => {
                if raw.is_empty() {
                    return Ok(Read::Empty);
                }
                let mut code = fold(raw);
                if code.contains(char::is_whitespace) {
                    code = code.split_whitespace().collect::<Vec<_>>().join("_");
                }
                match parse_cell(self.field, &code) {
                    Ok(v) => Ok(Read::of(v)),
                    Err(e) => refuse(first, raw, e.expected),
                }
            }
            Rule::Vocabulary => {
                if raw.is_empty() {
                    return Ok(Read::Empty);
                }
                let vocabulary = Vocabulary::get();
                match vocabulary.code(self.field.name, raw) {
                    Some(code) => Ok(Read::Value {
                        value: Value::String(code.to_owned()),
                        raw: (!is_the_code(raw, code)).then(|| raw.to_owned()),
                    }),
                    None => {
                        let mut known: Vec<&str> = vocabulary
                            .spellings(self.field.name)
                            .iter()
                            .map(|s| s.spelling)
                            .collect();
                        if known.is_empty() {
                            known = self.field.allowed.clone();
                        }
                        refuse(
                            first,
                            raw,
                            format!("une de ces valeurs : {}", known.join(", ")),
                        )
                    }
                }
            }
            Rule::Join => {
                let parts: Vec<&str> = self
                    .columns
                    .iter()
                    .flatten()
                    .map(|&c| cell(record, c))
                    .filter(|s| !s.is_empty())
                    .collect();
                parse(first, &parts.join(", "))
            }
            Rule::Not => match parse(first, raw)? {
                Read::Value {
                    value: Value::Bool(b),
                    raw,
                } => Ok(Read::Value {
                    value: Value::Bool(!b),
                    raw,
                }),
                other => Ok(other),
            },
            Rule::Any => {
                let mut all_no = true;
                for &c in self.columns.iter().flatten() {
                    let raw = cell(record, c);
                    if raw.is_empty() {
                        all_no = false;
                        continue;
                    }
                    match parse_bool(raw) {
                        Some(true) => return Ok(Read::of(Some(Value::Bool(true)))),
                        Some(false) => {}
                        None => return refuse(c, raw, "oui ou non".into()),
                    }
                }
                Ok(Read::of(all_no.then_some(Value::Bool(false))))
            }
            Rule::TextExcept(placeholders) => {
                if placeholders.iter().any(|p| raw.eq_ignore_ascii_case(p)) {
                    Ok(Read::Empty)
                } else {
                    parse(first, raw)
                }
            }
            Rule::Range(min, max) => match parse(first, raw)? {
                Read::Value { value, .. } if value.as_f64().is_some_and(|n| n < min || n > max) => {
                    Err(fail(first, raw, format!("un nombre entre {min} et {max}")))
                }
                other => Ok(other),
            },
            Rule::PostalCode => {
                if raw.is_empty() {
                    return Ok(Read::Empty);
                }
                if raw.len() == 5 && raw.bytes().all(|b| b.is_ascii_digit()) {
                    parse(first, raw)
                } else {
                    Err(fail(first, raw, "un code postal de 5 chiffres".into()))
                }
            }
            Rule::SchoolType => {
                let at = |i: usize| {
                    self.columns
                        .get(i)
                        .copied()
                        .flatten()
                        .map_or("", |c| cell(record, c))
                };
                match school_type(at(0), at(1)) {
                    Some(t) => parse(first, t),
                    None => Ok(Read::Empty),
                }
            }
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Every mapping names a catalogue field, and its first column is one the catalogue's
    /// `from_columns` lists for that field, so that the catalogue documents the code.
    pub fn assert_table_matches_catalogue(table: &[Mapping], source: &str) {
        let catalog = Catalog::get();
        for m in table {
            let field = catalog
                .field(m.field)
                .unwrap_or_else(|| panic!("{} is no catalogue field", m.field));
            if field.source != source {
                continue;
            }
            let documented = header_key(field.from_columns);
            assert!(
                documented.contains(&header_key(m.columns[0])),
                "{}: column {} is not in from_columns « {} »",
                m.field,
                m.columns[0],
                field.from_columns
            );
        }
    }

    fn resolved(field: &str, rule: Rule, n: usize) -> Resolved {
        Resolved {
            field: Catalog::get().field(field).unwrap(),
            columns: (0..n).map(Some).collect(),
            first: 0,
            rule,
        }
    }

    fn read(r: &Resolved, cells: &[&str]) -> Result<Option<Value>, CellError> {
        match r.read(&StringRecord::from(cells.to_vec()))? {
            Read::Empty => Ok(None),
            Read::Value { value, .. } => Ok(Some(value)),
            Read::Unrecognised { raw, .. } => panic!("unrecognised {raw}"),
        }
    }

    fn read_full(r: &Resolved, cells: &[&str]) -> Read {
        r.read(&StringRecord::from(cells.to_vec())).unwrap()
    }

    #[test]
    fn rules_read_real_spellings() {
        let etat = resolved("etat", Rule::Label, 1);
        assert_eq!(read(&etat, &["A FERMER"]), Ok(Some("a_fermer".into())));
        let secteur = resolved("secteur", Rule::Label, 1);
        assert_eq!(read(&secteur, &["Privé"]), Ok(Some("prive".into())));
        let any = resolved("maintenance_education_nationale", Rule::Any, 2);
        assert_eq!(read(&any, &["non", "oui"]), Ok(Some(Value::Bool(true))));
        assert_eq!(read(&any, &["non", "non"]), Ok(Some(Value::Bool(false))));
        assert_eq!(read(&any, &["non", ""]), Ok(None));
        let lat = resolved("latitude", Rule::Range(-90.0, 90.0), 1);
        assert_eq!(
            read(&lat, &["95"]).unwrap_err().expected,
            "un nombre entre -90 et 90"
        );
        let adresse = resolved("adresse", Rule::Join, 3);
        assert_eq!(
            read(&adresse, &["6 rue Philippe", "", "35580 BAULON"]),
            Ok(Some("6 rue Philippe, 35580 BAULON".into()))
        );
    }

    #[test]
    fn coded_fields_keep_the_spelling_and_unknown_codes() {
        let band = resolved("part_classes_internet", Rule::Vocabulary, 1);
        assert_eq!(
            read_full(&band, &["InfA50"]),
            Read::Value {
                value: "moins_50".into(),
                raw: Some("InfA50".into())
            }
        );
        assert_eq!(
            read_full(&band, &["50_plus"]),
            Read::Value {
                value: "50_plus".into(),
                raw: None
            }
        );
        let Read::Unrecognised { raw, expected, .. } = read_full(&band, &["InfA30"]) else {
            panic!("InfA30 is no known spelling");
        };
        assert_eq!(raw, "InfA30");
        assert!(expected.contains("InfA50"), "{expected}");
        // A label outside the catalogue, a yes/no that is neither: kept as written too.
        let secteur = resolved("secteur", Rule::Label, 1);
        assert!(matches!(
            read_full(&secteur, &["Mixte"]),
            Read::Unrecognised { .. }
        ));
        let any = resolved("maintenance_education_nationale", Rule::Any, 2);
        assert!(matches!(
            read_full(&any, &["non", "NSP"]),
            Read::Unrecognised { column: 1, .. }
        ));
        // A number that is not one is a malformed cell: reported and left out.
        let n = resolved("nb_terminaux", Rule::Cell, 1);
        assert!(n.read(&StringRecord::from(vec!["12,5"])).is_err());
    }
}
