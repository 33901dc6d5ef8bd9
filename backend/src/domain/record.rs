//! The published record of one school, and the rule that decides whether a newly observed
//! value replaces the published one.

use std::{borrow::Cow, collections::BTreeMap, fmt};

use serde::{
    Deserialize, Deserializer, Serialize,
    de::{MapAccess, Visitor},
};
use serde_json::Value;

use super::catalog::{Catalog, Field};

pub type ProvenanceId = i64;

/// A published value and the provenance that set it. Stored as `[value, provenance id]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredValue(pub Value, pub ProvenanceId);

/// A field's machine name: borrowed from the catalogue (no allocation per value, which matters
/// at 65,000 schools × 30 fields), owned only for a name the catalogue no longer knows.
pub type FieldName = Cow<'static, str>;

/// `{machine name: stored value}` for every field of one school that has a value.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(transparent)]
pub struct SchoolRecord(pub BTreeMap<FieldName, StoredValue>);

/// The catalogue's own name for `name`, so that records share the catalogue's strings.
pub fn field_name(name: &str) -> FieldName {
    match Catalog::get().field(name) {
        Some(f) => Cow::Borrowed(f.name),
        None => Cow::Owned(name.to_owned()),
    }
}

impl<'de> Deserialize<'de> for SchoolRecord {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct RecordVisitor;
        impl<'de> Visitor<'de> for RecordVisitor {
            type Value = SchoolRecord;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map of field names to [value, provenance id]")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<SchoolRecord, A::Error> {
                let mut record = BTreeMap::new();
                while let Some(key) = map.next_key::<Cow<'de, str>>()? {
                    let value = map.next_value::<StoredValue>()?;
                    record.insert(field_name(&key), value);
                }
                Ok(SchoolRecord(record))
            }
        }
        d.deserialize_map(RecordVisitor)
    }
}

/// Where a value comes from: enough to rank it against another value of the same field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    pub source: String,
    /// A year (`2019`) or an ISO date; `None` when the source gives no date.
    pub millesime: Option<String>,
    pub from_contribution: bool,
}

impl Origin {
    /// Millésimes compared as dates: a year stands for its last day, so that a survey of 2019
    /// ranks after anything dated within 2019's first months but before 2020.
    fn as_of(&self) -> Option<String> {
        self.millesime.as_ref().map(|m| {
            if m.len() == 4 {
                format!("{m}-12-31")
            } else {
                m.clone()
            }
        })
    }
}

/// Whether `new` should replace the published `current` value of `field`.
///
/// - an equal value changes nothing (re-importing a file is a no-op);
/// - within one source, the latest millésime wins (an undated observation ranks first to
///   last, so it only fills gaps or replaces another undated one);
/// - the field's own source (the catalogue's `source`) replaces another import source, and
///   replaces a reviewed contribution only when it is dated after it;
/// - any other source only fills gaps: it never overwrites a value;
/// - a reviewed contribution replaces what is published: a moderator accepted it, value by
///   value, having seen the published value beside it.
pub fn should_replace(
    field: &Field,
    current: &Value,
    current_origin: &Origin,
    new: &Value,
    new_origin: &Origin,
) -> bool {
    if current == new {
        return false;
    }
    if current_origin.source == new_origin.source {
        return new_origin.as_of() >= current_origin.as_of();
    }
    if new_origin.from_contribution {
        return true;
    }
    if new_origin.source != field.source {
        return false;
    }
    if current_origin.from_contribution {
        return new_origin.as_of() > current_origin.as_of();
    }
    true
}

impl SchoolRecord {
    pub fn get(&self, field: &str) -> Option<&Value> {
        self.0.get(field).map(|v| &v.0)
    }

    pub fn str(&self, field: &str) -> Option<&str> {
        self.get(field).and_then(Value::as_str)
    }

    pub fn f64(&self, field: &str) -> Option<f64> {
        self.get(field).and_then(Value::as_f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::catalog::Catalog;

    fn origin(source: &str, millesime: Option<&str>) -> Origin {
        Origin {
            source: source.into(),
            millesime: millesime.map(Into::into),
            from_contribution: source == "contribution",
        }
    }

    #[test]
    fn latest_millesime_of_a_source_wins() {
        let f = Catalog::get().field("nb_terminaux").unwrap();
        let (a, b) = (Value::from(10), Value::from(12));
        assert!(should_replace(
            f,
            &a,
            &origin("etic", Some("2018")),
            &b,
            &origin("etic", Some("2019"))
        ));
        assert!(!should_replace(
            f,
            &a,
            &origin("etic", Some("2019")),
            &b,
            &origin("etic", Some("2018"))
        ));
        assert!(!should_replace(
            f,
            &a,
            &origin("etic", Some("2019")),
            &a,
            &origin("etic", Some("2020"))
        ));
    }

    #[test]
    fn a_reviewed_contribution_replaces_the_published_value() {
        let f = Catalog::get().field("nb_terminaux").unwrap();
        let (a, b) = (Value::from(40), Value::from(120));
        assert!(should_replace(
            f,
            &a,
            &origin("etic", Some("2019")),
            &b,
            &origin("contribution", Some("2026-12-01"))
        ));
        assert!(!should_replace(
            f,
            &a,
            &origin("contribution", Some("2026-12-01")),
            &b,
            &origin("etic", Some("2019"))
        ));
    }

    #[test]
    fn secondary_sources_only_fill_gaps() {
        let f = Catalog::get().field("nombre_eleves").unwrap();
        let (a, b) = (Value::from(143), Value::from(150));
        assert!(!should_replace(
            f,
            &a,
            &origin("annuaire", Some("2023-06-08")),
            &b,
            &origin("etic", Some("2024"))
        ));
        assert!(should_replace(
            f,
            &a,
            &origin("etic", Some("2019")),
            &b,
            &origin("annuaire", Some("2018-01-01"))
        ));
        assert!(!should_replace(
            f,
            &a,
            &origin("contribution", Some("2025-01-01")),
            &b,
            &origin("annuaire", Some("2024-06-01"))
        ));
        assert!(should_replace(
            f,
            &a,
            &origin("contribution", Some("2025-01-01")),
            &b,
            &origin("annuaire", Some("2025-06-01"))
        ));
    }
}
