//! Which values are expected of a school, and how many of them are filled: the "n.c." rate.
//! A field a source never covers for a kind of school is not missing for it (ETIC does not
//! survey private schools, nor lycées outside the ministry of education); opt-in data is
//! never missing.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use super::{
    catalog::{Catalog, ExpectedFor, Field},
    record::SchoolRecord,
};

/// What expectations depend on.
#[derive(Debug, Clone, Copy, Default)]
pub struct SchoolKind<'a> {
    pub school_type: Option<&'a str>,
    pub secteur: Option<&'a str>,
    /// The annuaire's `ministere_tutelle`.
    pub ministere: Option<&'a str>,
    /// `types_etablissement`: every type of a multi-line school (a cité scolaire is a collège
    /// and a lycée), each expected its type's fields.
    pub types: Option<&'a [Value]>,
}

impl<'a> SchoolKind<'a> {
    pub fn of(record: &'a SchoolRecord) -> Self {
        Self {
            school_type: record.str("type_etablissement"),
            secteur: record.str("secteur"),
            ministere: record.str("ministere_tutelle"),
            types: record
                .get("types_etablissement")
                .and_then(Value::as_array)
                .map(Vec::as_slice),
        }
    }
}

/// Whether a school counts in the official denominator of completeness, quality and
/// indicators: the annuaire's open schools. A school the annuaire does not list (absent from
/// its latest import, or never listed: known from ETIC only) keeps its values and its page,
/// but is expected nothing; nor is a closed school, nor one not open yet.
pub fn is_counted(presence_annuaire: Option<&str>, etat: Option<&str>) -> bool {
    presence_annuaire == Some("present") && !matches!(etat, Some("ferme" | "a_ouvrir"))
}

/// The `etat` values of schools that count nowhere even when listed.
pub const NOT_OPEN: [&str; 2] = ["ferme", "a_ouvrir"];

pub fn is_expected(field: &Field, school: SchoolKind<'_>) -> bool {
    Expectations::of(school).expects(field)
}

/// What a school's kind decides about every field, worked out once per school rather than
/// once per field.
#[derive(Debug, Clone, Copy)]
pub struct Expectations<'a> {
    school_type: Option<&'a str>,
    types: Option<&'a [Value]>,
    public: bool,
    prive: bool,
    etic: bool,
}

impl<'a> Expectations<'a> {
    pub fn of(school: SchoolKind<'a>) -> Self {
        let public = school.secteur == Some("public");
        Self {
            school_type: school.school_type,
            types: school.types,
            public,
            prive: school.secteur == Some("prive"),
            etic: public
                && matches!(
                    school.school_type,
                    Some("ecole" | "college" | "lycee" | "erea")
                )
                // An unknown ministry counts as the ministry of education, the annuaire's
                // usual case.
                && school
                    .ministere
                    .is_none_or(|m| m.to_uppercase().contains("EDUCATION NATIONALE")),
        }
    }

    pub fn expects(&self, field: &Field) -> bool {
        match &field.expected_for {
            ExpectedFor::All => true,
            ExpectedFor::Public => self.public,
            ExpectedFor::Prive => self.prive,
            ExpectedFor::None => false,
            ExpectedFor::Types(types) => {
                let of_type = |t: &str| types.iter().any(|x| x == t);
                self.school_type.is_some_and(of_type)
                    || self
                        .types
                        .is_some_and(|all| all.iter().filter_map(Value::as_str).any(of_type))
            }
            ExpectedFor::Etic => self.etic,
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Score {
    pub filled: u32,
    pub expected: u32,
    /// `filled / expected`; absent when nothing is expected.
    pub rate: Option<f64>,
}

impl Score {
    fn add(&mut self, filled: bool) {
        self.expected += 1;
        if filled {
            self.filled += 1;
        }
        self.rate = Some(f64::from(self.filled) / f64::from(self.expected));
    }
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct SchoolCompleteness {
    pub total: Score,
    pub by_theme: BTreeMap<&'static str, Score>,
    /// The expected fields without a value: what a contributor could fill.
    pub missing: Vec<&'static str>,
}

/// Whether a record has a value for the field; the UAI, the record's key, always has one.
pub fn is_filled(record: &SchoolRecord, field: &Field) -> bool {
    if field.name == "uai" {
        return true;
    }
    record.get(field.name).is_some_and(has_value)
}

/// Whether a stored value communicates something: not null, not a blank string.
pub fn has_value(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::String(s) => !s.trim().is_empty(),
        _ => true,
    }
}

/// The completeness of one school's published record.
pub fn of_school(record: &SchoolRecord) -> SchoolCompleteness {
    let kind = SchoolKind::of(record);
    let mut out = SchoolCompleteness::default();
    for field in Catalog::get().fields() {
        if !is_expected(field, kind) {
            continue;
        }
        let has = is_filled(record, field);
        out.total.add(has);
        out.by_theme.entry(field.theme.code()).or_default().add(has);
        if !has {
            out.missing.push(field.name);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(name: &str) -> &'static Field {
        Catalog::get().field(name).expect("catalogue field")
    }

    fn kind<'a>(t: &'a str, secteur: &'a str, ministere: Option<&'a str>) -> SchoolKind<'a> {
        SchoolKind {
            school_type: Some(t),
            secteur: Some(secteur),
            ministere,
            types: None,
        }
    }

    #[test]
    fn a_cite_scolaire_is_expected_the_fields_of_each_of_its_types() {
        let segpa = field("segpa");
        let voie = field("voie_generale");
        let types = [Value::from("college"), Value::from("lycee")];
        let cite = SchoolKind {
            types: Some(&types),
            ..kind("lycee", "public", None)
        };
        assert!(is_expected(segpa, cite) && is_expected(voie, cite));
        assert!(!is_expected(segpa, kind("lycee", "public", None)));
    }

    #[test]
    fn only_the_annuaires_open_schools_count() {
        assert!(is_counted(Some("present"), Some("ouvert")));
        assert!(is_counted(Some("present"), Some("a_fermer")));
        assert!(is_counted(Some("present"), None));
        assert!(!is_counted(Some("present"), Some("ferme")));
        assert!(!is_counted(Some("present"), Some("a_ouvrir")));
        assert!(!is_counted(Some("absent"), Some("ouvert")));
        assert!(!is_counted(None, Some("ouvert")));
    }

    #[test]
    fn etic_fields_are_not_missing_where_the_survey_does_not_go() {
        let terminaux = field("nb_terminaux");
        assert!(is_expected(terminaux, kind("college", "public", None)));
        assert!(is_expected(
            terminaux,
            kind(
                "lycee",
                "public",
                Some("MINISTERE DE L'EDUCATION NATIONALE")
            )
        ));
        assert!(!is_expected(terminaux, kind("college", "prive", None)));
        assert!(!is_expected(
            terminaux,
            kind("lycee", "public", Some("AGRICULTURE"))
        ));
        assert!(!is_expected(terminaux, kind("autre", "public", None)));
        // Identity fields are expected of every school.
        assert!(is_expected(
            field("appellation_officielle"),
            kind("lycee", "prive", None)
        ));
    }

    #[test]
    fn opt_in_fields_are_never_missing() {
        let opt_in: Vec<&Field> = Catalog::get()
            .fields()
            .iter()
            .filter(|f| f.expected_for == ExpectedFor::None)
            .collect();
        assert!(!opt_in.is_empty());
        for f in opt_in {
            assert!(
                !is_expected(f, kind("college", "public", None)),
                "{}",
                f.name
            );
        }
    }

    #[test]
    fn a_school_counts_its_filled_expected_values_by_theme() {
        let record: SchoolRecord = serde_json::from_str(
            r#"{"type_etablissement": ["college", 1], "secteur": ["prive", 1],
                "appellation_officielle": ["Collège X", 1], "nb_terminaux": [12, 2]}"#,
        )
        .expect("record");
        let c = of_school(&record);
        // A private collège: ETIC's terminals are not expected, so they do not count.
        assert!(!c.missing.contains(&"nb_terminaux"));
        assert!(c.missing.contains(&"adresse"));
        let e = c.by_theme["etablissement"];
        assert_eq!(e.filled, 4, "the UAI, the record's key, counts as filled");
        assert!(e.expected > 3);
        assert_eq!(
            c.total.filled, 4,
            "the ETIC value is filled but not counted"
        );
    }
}
