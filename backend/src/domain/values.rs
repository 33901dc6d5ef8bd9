//! Reading a raw cell into the catalogue's canonical value for a field.
//!
//! Canonical values are JSON: integers and numbers as numbers, booleans as booleans, enums and
//! bands as their catalogue code, dates as ISO `YYYY-MM-DD`, lists as arrays of strings, and
//! every code (UAI, INSEE, académie) as a string in its canonical form.

use chrono::{Datelike, NaiveDate};
use serde_json::Value;

use super::{
    catalog::{Field, FieldType},
    territory::{AcademieCode, CommuneCode, DepartementCode, RegionCode},
    uai::Uai,
};

/// Why a cell could not be read, in words a non-technical agent understands.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{expected}")]
pub struct ValueError {
    pub expected: String,
}

fn err(expected: impl Into<String>) -> ValueError {
    ValueError {
        expected: expected.into(),
    }
}

/// Reads a raw cell. An empty cell is `Ok(None)`: the value is not communicated.
pub fn parse_cell(field: &Field, raw: &str) -> Result<Option<Value>, ValueError> {
    let s = raw.trim();
    if s.is_empty() {
        return Ok(None);
    }
    let v = match field.field_type {
        FieldType::Uai => {
            Value::String(Uai::parse(s).map_err(|e| err(e.to_string()))?.into_string())
        }
        FieldType::Text => Value::String(s.to_owned()),
        FieldType::Enum | FieldType::Band => {
            let code = s.to_lowercase();
            match field.allowed.iter().find(|a| **a == code) {
                Some(a) => Value::String((*a).to_owned()),
                None => {
                    return Err(err(format!(
                        "une de ces valeurs : {}",
                        field.allowed.join(", ")
                    )));
                }
            }
        }
        FieldType::Date => Value::String(iso_date(parse_date(s)?)),
        FieldType::Number => {
            let n = parse_number(s).ok_or_else(|| err("un nombre (virgule ou point décimal)"))?;
            serde_json::Number::from_f64(n)
                .map(Value::Number)
                .ok_or_else(|| err("un nombre fini"))?
        }
        FieldType::Integer => Value::from(parse_count(s)?),
        FieldType::Boolean => Value::Bool(parse_bool(s).ok_or_else(|| err("oui ou non"))?),
        FieldType::List => Value::Array(
            s.split([',', '|'])
                .map(str::trim)
                .filter(|x| !x.is_empty())
                .map(|x| Value::String(x.to_owned()))
                .collect(),
        ),
        FieldType::InseeCommune => Value::String(
            CommuneCode::parse(s)
                .map_err(|e| err(e.to_string()))?
                .as_str()
                .to_owned(),
        ),
        FieldType::InseeDepartement => Value::String(
            DepartementCode::parse(s)
                .map_err(|e| err(e.to_string()))?
                .as_str()
                .to_owned(),
        ),
        FieldType::Academie => Value::String(
            AcademieCode::parse(s)
                .map_err(|e| err(e.to_string()))?
                .as_str()
                .to_owned(),
        ),
        FieldType::InseeRegion => Value::String(
            RegionCode::parse(s)
                .map_err(|e| err(e.to_string()))?
                .as_str()
                .to_owned(),
        ),
    };
    Ok(Some(v))
}

/// ISO dates, and `dd/mm/yyyy` as spreadsheets write them.
pub fn parse_date(s: &str) -> Result<NaiveDate, ValueError> {
    // ISO dates are most of what files hold: read them without chrono's format parser.
    let iso = s.as_bytes();
    let fast = (iso.len() == 10 && iso[4] == b'-' && iso[7] == b'-')
        .then(|| {
            let num = |r: std::ops::Range<usize>| s.get(r).and_then(|x| x.parse::<u32>().ok());
            NaiveDate::from_ymd_opt(i32::try_from(num(0..4)?).ok()?, num(5..7)?, num(8..10)?)
        })
        .flatten();
    let d = match fast {
        Some(d) => d,
        None => NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .or_else(|_| NaiveDate::parse_from_str(s, "%d/%m/%Y"))
            .map_err(|_| err("une date au format AAAA-MM-JJ (ou JJ/MM/AAAA)"))?,
    };
    if d.year() < 1800 || d.year() > 2200 {
        return Err(err("une date plausible (année entre 1800 et 2200)"));
    }
    Ok(d)
}

/// A date as ISO `YYYY-MM-DD`, the canonical form.
pub fn iso_date(d: NaiveDate) -> String {
    format!("{:04}-{:02}-{:02}", d.year(), d.month(), d.day())
}

/// Numbers with a decimal point or a decimal comma.
pub fn parse_number(s: &str) -> Option<f64> {
    let s = s.replace([' ', '\u{a0}'], "");
    s.replace(',', ".")
        .parse::<f64>()
        .ok()
        .filter(|n| n.is_finite())
}

/// Counts: whole numbers ≥ 0. `665.0`, as some exports write integers, is read as 665.
pub fn parse_count(s: &str) -> Result<i64, ValueError> {
    let n = parse_number(s).ok_or_else(|| err("un nombre entier positif ou nul"))?;
    if n < 0.0 || n.fract() != 0.0 || n > 1e12 {
        return Err(err("un nombre entier positif ou nul"));
    }
    Ok(n as i64)
}

pub fn parse_bool(s: &str) -> Option<bool> {
    match s.trim().to_lowercase().as_str() {
        "oui" | "o" | "true" | "vrai" | "1" | "yes" | "y" | "x" => Some(true),
        "non" | "n" | "false" | "faux" | "0" | "no" => Some(false),
        _ => None,
    }
}

/// A value as one spreadsheet cell: what exports write and what changelogs show.
pub fn to_cell(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::Bool(true) => "oui".into(),
        Value::Bool(false) => "non".into(),
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Array(items) => items.iter().map(to_cell).collect::<Vec<_>>().join("|"),
        Value::Object(_) => v.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::catalog::Catalog;

    fn cell(name: &str, raw: &str) -> Result<Option<Value>, ValueError> {
        parse_cell(Catalog::get().field(name).unwrap(), raw)
    }

    #[test]
    fn reads_cells_by_type() {
        assert_eq!(cell("nb_terminaux", "190.0"), Ok(Some(Value::from(190))));
        assert!(cell("nb_terminaux", "-3").is_err());
        assert!(cell("nb_terminaux", "12,5").is_err());
        assert_eq!(cell("latitude", "47,5"), Ok(Some(serde_json::json!(47.5))));
        assert_eq!(
            cell("wifi", "Permanent"),
            Ok(Some(Value::from("permanent")))
        );
        assert!(
            cell("wifi", "oui")
                .unwrap_err()
                .expected
                .contains("permanent, borne_mobile, non")
        );
        assert_eq!(cell("ent_disponible", "oui"), Ok(Some(Value::Bool(true))));
        assert_eq!(
            cell("date_ouverture", "01/10/1965"),
            Ok(Some(Value::from("1965-10-01")))
        );
        assert_eq!(cell("code_departement", "035"), Ok(Some(Value::from("35"))));
        assert_eq!(cell("nb_tni", "  "), Ok(None));
    }
}
