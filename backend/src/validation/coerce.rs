//! From the agent's cell to a typed value, before JSON Schema sees it, so that messages speak
//! of the cell: decimal commas, spaces between thousands, `oui`/`non`, `dd/mm/yyyy` dates,
//! enumeration values written with capitals, accents or spaces.

use ecarto_contrib_schemas::{Column, ColumnKind, quote};
use serde_json::{Number, Value};

use crate::domain::catalog::{Catalog, FieldType};
use crate::domain::text::fold;
use crate::domain::uai::{Uai, UaiError};

/// A cell that could not be typed: the rule and the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CellError {
    pub rule: &'static str,
    pub message: String,
}

/// A typed cell, and a warning when the cell was accepted in a form to avoid.
#[derive(Debug)]
pub struct Coerced {
    pub value: Value,
    pub warning: Option<CellError>,
}

fn err(rule: &'static str, message: String) -> CellError {
    CellError { rule, message }
}

/// Types one non-empty, trimmed cell.
pub fn coerce(column: &Column, cell: &str) -> Result<Coerced, CellError> {
    coerce_kind(column, &column.kind, cell)
}

fn coerce_kind(column: &Column, kind: &ColumnKind, cell: &str) -> Result<Coerced, CellError> {
    let plain = |value| {
        Ok(Coerced {
            value,
            warning: None,
        })
    };
    match kind {
        ColumnKind::Integer => integer(cell).map(|n| Coerced {
            value: n.into(),
            warning: None,
        }),
        ColumnKind::Number => number(cell).and_then(|n| {
            Number::from_f64(n)
                .map(|n| Coerced {
                    value: Value::Number(n),
                    warning: None,
                })
                .ok_or_else(|| {
                    err(
                        "type",
                        format!("« {} » n'est pas un nombre utilisable.", quote(cell)),
                    )
                })
        }),
        ColumnKind::Boolean => boolean(cell).map(|b| Coerced {
            value: b.into(),
            warning: None,
        }),
        ColumnKind::Date => date(cell),
        ColumnKind::Url => plain(cell.into()),
        ColumnKind::Text if column.uai => uai(cell).map(|u| Coerced {
            value: u.into(),
            warning: None,
        }),
        ColumnKind::Text => plain(enumeration(column, cell).into()),
        ColumnKind::List(inner) => {
            let mut items = Vec::new();
            let mut warning = None;
            for (i, item) in split_list(cell).enumerate() {
                let typed = if column.uai {
                    uai(item).map(|u| Coerced {
                        value: u.into(),
                        warning: None,
                    })
                } else {
                    coerce_kind(column, inner, item)
                }
                .map_err(|e| CellError {
                    rule: e.rule,
                    message: format!("élément n° {} de la liste : {}", i + 1, e.message),
                })?;
                warning = warning.or(typed.warning);
                items.push(typed.value);
            }
            Ok(Coerced {
                value: Value::Array(items),
                warning,
            })
        }
    }
}

/// List items are separated by `|` (the documented separator), or by `;` or `,` as people
/// also write them.
pub fn split_list(cell: &str) -> impl Iterator<Item = &str> {
    let sep: &[char] = if cell.contains('|') {
        &['|']
    } else {
        &[';', ',']
    };
    cell.split(sep).map(str::trim).filter(|s| !s.is_empty())
}

/// Spaces (also the non-breaking ones spreadsheets put between thousands) removed.
fn compact(cell: &str) -> String {
    cell.chars()
        .filter(|c| !matches!(c, ' ' | '\u{a0}' | '\u{202f}' | '\''))
        .collect()
}

fn integer(cell: &str) -> Result<i64, CellError> {
    // Most cells are plain digits: no copy for them.
    if let Ok(n) = cell.parse::<i64>() {
        return Ok(n);
    }
    let s = compact(cell);
    if let Ok(n) = s.parse::<i64>() {
        return Ok(n);
    }
    // « 12,0 » or « 12.0 » from a spreadsheet is still a whole number.
    if let Ok(f) = s.replace(',', ".").parse::<f64>()
        && f.fract() == 0.0
        && f.abs() < 9e15
    {
        return Ok(f as i64);
    }
    let digits = s.strip_prefix('-').unwrap_or(&s);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(err(
            "maximum",
            format!(
                "« {} » est un nombre bien trop grand : vérifiez la saisie.",
                quote(cell)
            ),
        ));
    }
    let hint = if s.replace(',', ".").parse::<f64>().is_ok_and(f64::is_finite) {
        "un nombre entier, sans décimale"
    } else {
        "un nombre entier (chiffres seulement, par exemple 12)"
    };
    Err(err(
        "type",
        format!("« {} » n'est pas un nombre : il faut {hint}.", quote(cell)),
    ))
}

fn number(cell: &str) -> Result<f64, CellError> {
    if let Ok(n) = cell.parse::<f64>()
        && n.is_finite()
    {
        return Ok(n);
    }
    let s = compact(cell);
    let s = s.strip_suffix('%').unwrap_or(&s);
    let normalised = if s.contains(',') && !s.contains('.') {
        s.replacen(',', ".", 1)
    } else {
        s.to_owned()
    };
    normalised
        .parse::<f64>()
        .ok()
        .filter(|f| f.is_finite())
        .ok_or_else(|| {
            err(
                "type",
                format!(
                    "« {} » n'est pas un nombre : écrivez par exemple 12 ou 12,5.",
                    quote(cell)
                ),
            )
        })
}

fn boolean(cell: &str) -> Result<bool, CellError> {
    match fold(cell).trim() {
        "oui" | "o" | "vrai" | "true" | "1" | "yes" | "x" => Ok(true),
        "non" | "n" | "faux" | "false" | "0" | "no" => Ok(false),
        _ => Err(err(
            "type",
            format!(
                "« {} » n'est pas une réponse oui/non : écrivez « oui » ou « non ».",
                quote(cell)
            ),
        )),
    }
}

fn date(cell: &str) -> Result<Coerced, CellError> {
    let invalid = || {
        err(
            "format",
            format!(
                "« {} » n'est pas une date réelle : écrivez-la AAAA-MM-JJ (par exemple 2026-09-01).",
                quote(cell)
            ),
        )
    };
    let s = cell.trim();
    // The usual ISO date: checked without parsing a format string, kept as written.
    let b = s.as_bytes();
    if b.len() == 10 && b[4] == b'-' && b[7] == b'-' {
        let num = |r: std::ops::Range<usize>| s.get(r).and_then(|p| p.parse::<u32>().ok());
        if let (Some(y), Some(m), Some(d)) = (num(0..4), num(5..7), num(8..10))
            && chrono::NaiveDate::from_ymd_opt(y as i32, m, d).is_some()
            && b.iter()
                .enumerate()
                .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
        {
            return Ok(Coerced {
                value: s.into(),
                warning: None,
            });
        }
    }
    // A date-time keeps its date.
    let s = s.split(['T', ' ']).next().unwrap_or(s);
    if let Ok(d) = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Ok(Coerced {
            value: d.format("%Y-%m-%d").to_string().into(),
            warning: None,
        });
    }
    for fmt in ["%d/%m/%Y", "%d-%m-%Y", "%d.%m.%Y"] {
        if let Ok(d) = chrono::NaiveDate::parse_from_str(s, fmt) {
            // Two-digit years parse as years 0–99.
            if d.format("%Y").to_string().starts_with("00") {
                return Err(invalid());
            }
            let iso = d.format("%Y-%m-%d").to_string();
            return Ok(Coerced {
                warning: Some(err(
                    "date_format",
                    format!(
                        "La date « {cell} » a été lue comme le {} ({iso}) ; préférez le format AAAA-MM-JJ, sans ambiguïté.",
                        d.format("%d/%m/%Y")
                    ),
                )),
                value: iso.into(),
            });
        }
    }
    Err(invalid())
}

fn uai(cell: &str) -> Result<String, CellError> {
    Uai::parse(cell).map(Uai::into_string).map_err(|e| {
        let rule = if matches!(e, UaiError::CheckLetter(..)) {
            "uai_check_letter"
        } else {
            "uai_format"
        };
        err(
            rule,
            format!(
                "{} : vérifiez le code UAI de l'établissement.",
                capitalise(&e.to_string())
            ),
        )
    })
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// An enumeration value as the schema spells it when the cell spells it differently
/// (« Collectivité », « education nationale »), or by its French label; otherwise the cell
/// unchanged, for the schema to report.
fn enumeration(column: &Column, cell: &str) -> String {
    if column.allowed.is_empty() || column.allowed.iter().any(|a| a == cell) {
        return cell.to_owned();
    }
    let key = enum_key(cell);
    column
        .allowed
        .iter()
        .find(|a| enum_key(a) == key)
        .or_else(|| {
            column
                .labels
                .iter()
                .find(|(_, label)| enum_key(label) == key)
                .map(|(value, _)| value)
        })
        .cloned()
        .unwrap_or_else(|| cell.to_owned())
}

fn enum_key(s: &str) -> String {
    fold(s).chars().filter(|c| c.is_alphanumeric()).collect()
}

/// Types a cell by a catalogue field (the value a beta-tester proposes for `champ`).
pub fn coerce_for_field(field_name: &str, cell: &str) -> Result<Value, CellError> {
    let Some(field) = Catalog::get().field(field_name) else {
        // The `champ` column reports the unknown field itself.
        return Ok(cell.into());
    };
    let choose = |allowed: &[&str]| {
        let key = enum_key(cell);
        allowed
            .iter()
            .find(|a| enum_key(a) == key)
            .map(|a| Value::from(*a))
            .ok_or_else(|| {
                err(
                    "enum",
                    format!(
                        "« {} » n'est pas une valeur possible pour le champ {} ({}) : valeurs possibles : {}.",
                        quote(cell),
                        field.name,
                        field.label_fr,
                        allowed.join(", ")
                    ),
                )
            })
    };
    match field.field_type {
        FieldType::Integer => integer(cell).map(Value::from),
        FieldType::Number => {
            number(cell).map(|n| Number::from_f64(n).map_or(Value::Null, Value::Number))
        }
        FieldType::Boolean => boolean(cell).map(Value::from),
        FieldType::Date => date(cell).map(|c| c.value),
        FieldType::Uai => uai(cell).map(Value::from),
        FieldType::Enum | FieldType::Band if !field.allowed.is_empty() => choose(&field.allowed),
        FieldType::List => Ok(Value::Array(split_list(cell).map(Value::from).collect())),
        _ => Ok(cell.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_as_spreadsheets_write_them() {
        assert_eq!(integer("1 234").unwrap(), 1234);
        assert_eq!(integer("1\u{a0}234").unwrap(), 1234);
        assert_eq!(integer("12,0").unwrap(), 12);
        assert!(
            integer("12,5")
                .unwrap_err()
                .message
                .contains("sans décimale")
        );
        assert!(integer("douze").is_err());
        assert_eq!(number("12,5").unwrap(), 12.5);
        assert_eq!(number("45 %").unwrap(), 45.0);
        assert!(number("1,2,3").is_err());
    }

    #[test]
    fn booleans_and_dates() {
        assert!(boolean("Oui").unwrap());
        assert!(!boolean("NON").unwrap());
        assert!(boolean("peut-être").is_err());
        let d = date("01/09/2025").unwrap();
        assert_eq!(d.value, "2025-09-01");
        assert_eq!(d.warning.unwrap().rule, "date_format");
        assert!(date("2025-09-01").unwrap().warning.is_none());
        assert_eq!(date("2025-09-01T00:00:00").unwrap().value, "2025-09-01");
        assert_eq!(date("31/02/2025").unwrap_err().rule, "format");
        assert!(date("01/09/25").is_err());
    }

    #[test]
    fn lists_split_on_pipes_or_semicolons() {
        assert_eq!(split_list("a | b|c").collect::<Vec<_>>(), ["a", "b", "c"]);
        assert_eq!(split_list("a; b").collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(split_list("a, b").collect::<Vec<_>>(), ["a", "b"]);
    }

    #[test]
    fn uai_rules() {
        assert_eq!(uai("0350006s").unwrap(), "0350006S");
        assert_eq!(uai("0350006N").unwrap_err().rule, "uai_check_letter");
        assert_eq!(uai("035").unwrap_err().rule, "uai_format");
    }
}
