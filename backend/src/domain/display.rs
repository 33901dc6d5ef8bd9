//! Published values as people read them in French: « Oui » and « Non », a decimal comma,
//! dates as JJ/MM/AAAA, codes as their labels (`codes.csv`), lists joined by commas.

use serde_json::Value;

use super::catalog::{Catalog, FieldType};

/// A number with a decimal comma and a narrow no-break space every three digits.
pub fn number(x: f64) -> String {
    let negative = x < 0.0;
    let (int, frac) = if x.fract() == 0.0 {
        (format!("{:.0}", x.abs()), String::new())
    } else {
        let s = format!("{:.6}", x.abs());
        let s = s.trim_end_matches('0').to_owned();
        match s.split_once('.') {
            Some((i, f)) => (i.to_owned(), f.to_owned()),
            None => (s, String::new()),
        }
    };
    let mut grouped = String::new();
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            grouped.push('\u{202f}');
        }
        grouped.push(c);
    }
    let sign = if negative { "-" } else { "" };
    if frac.is_empty() {
        format!("{sign}{grouped}")
    } else {
        format!("{sign}{grouped},{frac}")
    }
}

/// A file's size in French units: `340 ko`, `1,2 Mo`.
pub fn bytes(n: i64) -> String {
    let n = n.max(0) as f64;
    if n < 1_000_000.0 {
        format!("{}\u{a0}ko", number((n / 1_000.0).ceil()))
    } else {
        format!("{}\u{a0}Mo", number((n / 100_000.0).round() / 10.0))
    }
}

/// A rate as a percentage: `87,3 %`, `–` when there is nothing to divide.
pub fn percent(rate: Option<f64>) -> String {
    match rate {
        Some(r) => format!("{:.1}\u{a0}%", r * 100.0).replace('.', ","),
        None => "–".to_owned(),
    }
}

/// An ISO date (`2023-06-08`) as `08/06/2023`; a year or anything else as it is.
pub fn date(iso: &str) -> String {
    let parts: Vec<&str> = iso.get(..10).unwrap_or(iso).split('-').collect();
    match parts[..] {
        [y, m, d] if y.len() == 4 && m.len() == 2 && d.len() == 2 => format!("{d}/{m}/{y}"),
        _ => iso.to_owned(),
    }
}

/// A value that may be missing: « non communiqué » then, as [`value`] says of a null.
pub fn value_or_missing(field: &str, v: Option<&Value>) -> String {
    value(field, v.unwrap_or(&Value::Null))
}

/// Where a value comes from and as of when: « Annuaire de l'Éducation, 08/06/2023 ».
pub fn source_and_date(source_code: &str, millesime: Option<&str>) -> String {
    format!(
        "{}, {}",
        source(source_code),
        millesime.map_or("non datée".into(), date)
    )
}

/// One published value of a field, in French.
pub fn value(field: &str, v: &Value) -> String {
    let catalog = Catalog::get();
    let kind = catalog.field(field).map(|f| f.field_type);
    let code = |s: &str| catalog.code_label(field, s).unwrap_or(s).to_owned();
    match v {
        Value::Null => "non communiqué".to_owned(),
        Value::Bool(true) => "Oui".to_owned(),
        Value::Bool(false) => "Non".to_owned(),
        Value::Number(n) => n.as_f64().map(number).unwrap_or_else(|| n.to_string()),
        Value::String(s) => match kind {
            Some(FieldType::Date) => date(s),
            _ => code(s),
        },
        Value::Array(items) => items
            .iter()
            .map(|i| match i {
                Value::String(s) => code(s),
                other => value(field, other),
            })
            .collect::<Vec<_>>()
            .join(", "),
        Value::Object(_) => v.to_string(),
    }
}

/// The name of a source as the open data's readers know it.
pub fn source(code: &str) -> &str {
    match code {
        "annuaire" => "Annuaire de l'éducation",
        "etic" => "Enquête ETIC",
        "contribution" => "Contribution relue",
        "france_thd" => "Observatoire France THD",
        "arcep" => "Arcep",
        "banque_des_territoires" => "Banque des Territoires",
        "ministere" => "Ministère de l'Éducation nationale",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_read_in_french() {
        assert_eq!(
            value("wifi", &Value::from("borne_mobile")),
            "Oui, par borne mobile"
        );
        assert_eq!(value("acces_internet", &Value::Bool(true)), "Oui");
        assert_eq!(value("latitude", &serde_json::json!(47.98614)), "47,98614");
        assert_eq!(
            value("nb_terminaux", &serde_json::json!(1250)),
            "1\u{202f}250"
        );
        assert_eq!(
            value("date_ouverture", &Value::from("1965-10-01")),
            "01/10/1965"
        );
        assert_eq!(
            value(
                "types_etablissement",
                &serde_json::json!(["college", "lycee"])
            ),
            "Collège, Lycée"
        );
        assert_eq!(value("appellation_officielle", &Value::from("rep")), "rep");
        assert_eq!(percent(Some(0.873)), "87,3\u{a0}%");
        assert_eq!(number(-12.5), "-12,5");
        assert_eq!(date("2019"), "2019");
    }
}
