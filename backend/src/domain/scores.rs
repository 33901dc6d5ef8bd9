//! The scores of a territory beyond one school: completeness, quality (validity, freshness,
//! consistency, contribution coverage) and the 2018 état des lieux indicators.
//!
//! Every score is a sum of counts, so that a territory's scores are the sum of its schools'
//! (and a région's the sum of its départements'), and every rate can be checked from the
//! counts published beside it. Counts are kept per group of schools (type × secteur), so that
//! filtering by type or secteur is a sum over groups.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{
    catalog::{Catalog, FastHasher, Field, FieldType},
    completeness::{Expectations, SchoolKind, Score, has_value},
    record::{ProvenanceId, StoredValue},
    uai::Uai,
};

/// Provenance → (as-of date `YYYY-MM-DD` if the source dates its values, from a
/// contribution).
pub type ProvenanceMap =
    HashMap<ProvenanceId, (Option<String>, bool), std::hash::BuildHasherDefault<FastHasher>>;

/// What a school's values are measured against, besides the record itself.
pub struct Context<'a> {
    pub provenance: &'a ProvenanceMap,
    /// Values dated before this day are stale.
    pub stale_before: String,
}

/// Counts of one field over a group of schools.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FieldCounts {
    /// Schools with a value, expected or not (the coverage of opt-in data).
    pub present: u32,
    pub expected: u32,
    /// Expected and present: completeness is `filled / expected`.
    pub filled: u32,
    /// Present values breaking the catalogue's rules.
    pub invalid: u32,
    /// Present values dated before the freshness limit.
    pub stale: u32,
    /// Present values whose source gives no date.
    pub undated: u32,
}

impl FieldCounts {
    fn as_array(self) -> [u32; 6] {
        [
            self.present,
            self.expected,
            self.filled,
            self.invalid,
            self.stale,
            self.undated,
        ]
    }

    fn from_array(a: [u32; 6]) -> Self {
        Self {
            present: a[0],
            expected: a[1],
            filled: a[2],
            invalid: a[3],
            stale: a[4],
            undated: a[5],
        }
    }

    fn add(&mut self, o: &Self) {
        self.present += o.present;
        self.expected += o.expected;
        self.filled += o.filled;
        self.invalid += o.invalid;
        self.stale += o.stale;
        self.undated += o.undated;
    }
}

/// A school's values by catalogue position, read by name without a map lookup per read.
pub struct Values<'a>(Vec<Option<&'a StoredValue>>);

impl<'a> Values<'a> {
    pub fn get(&self, field: &str) -> Option<&'a Value> {
        let i = Catalog::get().index_of(field)?;
        self.0[i].map(|v| &v.0)
    }

    fn at(&self, i: Option<usize>) -> Option<&'a Value> {
        i.and_then(|i| self.0[i]).map(|v| &v.0)
    }

    pub fn f64(&self, field: &str) -> Option<f64> {
        self.get(field).and_then(Value::as_f64)
    }

    pub fn str(&self, field: &str) -> Option<&'a str> {
        self.get(field).and_then(Value::as_str)
    }

    /// Whether the school counts at all: listed in the annuaire and open
    /// ([`super::completeness::is_counted`]).
    pub fn is_open(&self) -> bool {
        super::completeness::is_counted(self.str("presence_annuaire"), self.str("etat"))
    }

    pub fn kind(&self) -> SchoolKind<'a> {
        SchoolKind {
            school_type: self.str("type_etablissement"),
            secteur: self.str("secteur"),
            ministere: self.str("ministere_tutelle"),
            types: self
                .get("types_etablissement")
                .and_then(Value::as_array)
                .map(Vec::as_slice),
        }
    }
}

/// A cross-field rule: a school is checked when it has the values the rule reads.
pub struct Rule {
    pub name: &'static str,
    pub label_fr: &'static str,
    /// `None`: not checkable; `Some(true)`: violated.
    check: fn(&Values<'_>) -> Option<bool>,
}

fn int(r: &Values<'_>, f: &str) -> Option<f64> {
    r.f64(f)
}

fn flag(r: &Values<'_>, f: &str) -> Option<bool> {
    r.get(f).and_then(Value::as_bool)
}

fn le(r: &Values<'_>, part: &str, whole: &str) -> Option<bool> {
    Some(int(r, part)? > int(r, whole)?)
}

/// "None of these" declared together with one of them.
fn none_and_some(r: &Values<'_>, none: &str, others: &[&str]) -> Option<bool> {
    let n = flag(r, none)?;
    let any = others.iter().filter_map(|o| flag(r, o)).collect::<Vec<_>>();
    if any.is_empty() {
        return None;
    }
    Some(n && any.iter().any(|x| *x))
}

pub static RULES: [Rule; 9] = [
    Rule {
        name: "tablettes_sous_terminaux",
        label_fr: "Tablettes ≤ terminaux",
        check: |r| le(r, "nb_tablettes", "nb_terminaux"),
    },
    Rule {
        name: "mobiles_sous_terminaux",
        label_fr: "Terminaux mobiles ≤ terminaux",
        check: |r| le(r, "nb_terminaux_mobiles", "nb_terminaux"),
    },
    Rule {
        name: "moins_5_ans_sous_terminaux",
        label_fr: "Terminaux de moins de 5 ans ≤ terminaux",
        check: |r| le(r, "nb_terminaux_moins_5_ans", "nb_terminaux"),
    },
    Rule {
        name: "mobiles_affectes_sous_mobiles",
        label_fr: "Mobiles affectés aux élèves et aux enseignants ≤ terminaux mobiles",
        check: |r| {
            let e = int(r, "nb_mobiles_affectes_eleves")?;
            let t = int(r, "nb_mobiles_affectes_enseignants")?;
            Some(e + t > int(r, "nb_terminaux_mobiles")?)
        },
    },
    Rule {
        name: "type_acces_sans_internet",
        label_fr: "Un type d'accès déclaré sans accès à internet",
        check: |r| {
            let internet = flag(r, "acces_internet")?;
            let types: Vec<bool> = [
                "acces_adsl",
                "acces_fibre",
                "acces_rtc",
                "acces_autre_haut_debit",
            ]
            .iter()
            .filter_map(|f| flag(r, f))
            .collect();
            if types.is_empty() {
                return None;
            }
            Some(!internet && types.iter().any(|x| *x))
        },
    },
    Rule {
        name: "aucune_ressource_et_ressources",
        label_fr: "« Aucune ressource » avec une ressource utilisée",
        check: |r| {
            none_and_some(
                r,
                "ress_aucune",
                &[
                    "ress_manuels_numeriques",
                    "ress_animations_simulation",
                    "ress_banques_documents",
                    "ress_logiciels_outils",
                    "ress_ouvrages_reference",
                    "ress_entrainement",
                ],
            )
        },
    },
    Rule {
        name: "aucune_maintenance_et_maintenance",
        label_fr: "« Aucune maintenance » avec un mainteneur déclaré",
        check: |r| {
            none_and_some(
                r,
                "maintenance_aucune",
                &[
                    "maintenance_collectivite",
                    "maintenance_prestataire",
                    "maintenance_education_nationale",
                ],
            )
        },
    },
    Rule {
        name: "thd_sans_debit_potentiel",
        label_fr: "Couvert en très haut débit sans débit potentiel > 30 Mbit/s",
        check: |r| {
            let thd = flag(r, "couverture_thd")?;
            let max = [
                "debit_potentiel_dsl_max",
                "debit_potentiel_ftth_max",
                "debit_potentiel_cable_max",
            ]
            .iter()
            .map(|f| r.f64(f))
            .collect::<Option<Vec<f64>>>()?
            .into_iter()
            .fold(0.0, f64::max);
            Some(thd && max <= 30.0)
        },
    },
    Rule {
        name: "byod_sans_politique",
        label_fr: "Élèves en BYOD sans politique BYOD",
        check: |r| {
            let politique = r.str("byod_politique")?;
            Some(politique == "aucune" && int(r, "byod_part_eleves")? > 0.0)
        },
    },
];

/// How an indicator reads a school.
enum Measure {
    /// Share of the schools with a value for which `test` holds.
    Share {
        field: &'static str,
        test: fn(&Value) -> bool,
    },
    /// `sum(num) / sum(den)` over the schools that have both, `den > 0`.
    Ratio {
        num: &'static str,
        den: &'static str,
    },
    /// Schools of the group for which the opt-in `test` holds (no n.c.: opt-in data).
    Count {
        field: &'static str,
        test: fn(&Value) -> bool,
    },
}

pub struct Indicator {
    pub name: &'static str,
    pub label_fr: &'static str,
    /// `share` (num / den, a proportion), `ratio` (num / den, e.g. pupils per terminal) or
    /// `count` (num schools).
    pub kind: &'static str,
    measure: Measure,
    /// Restriction to part of the schools (e.g. a REP band).
    only: Option<fn(&Values<'_>) -> bool>,
}

fn is_true(v: &Value) -> bool {
    v.as_bool() == Some(true)
}

fn positive(v: &Value) -> bool {
    v.as_f64().is_some_and(|n| n > 0.0)
}

fn non_empty(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::String(s) => !s.trim().is_empty(),
        Value::Array(a) => !a.is_empty(),
        _ => true,
    }
}

macro_rules! share {
    ($name:literal, $label:literal, $field:literal, $test:expr) => {
        Indicator {
            name: $name,
            label_fr: $label,
            kind: "share",
            measure: Measure::Share {
                field: $field,
                test: $test,
            },
            only: None,
        }
    };
}

pub static INDICATORS: [Indicator; 27] = [
    share!(
        "acces_internet",
        "Écoles et établissements déclarant un accès à internet",
        "acces_internet",
        is_true
    ),
    share!("acces_adsl", "Accès ADSL", "acces_adsl", is_true),
    share!(
        "acces_fibre",
        "Accès fibre optique / câble",
        "acces_fibre",
        is_true
    ),
    share!("acces_rtc", "Accès RTC", "acces_rtc", is_true),
    share!(
        "classes_internet_moins_20",
        "Moins de 20 % des classes connectées",
        "part_classes_internet",
        |v| v == "moins_20"
    ),
    share!(
        "classes_internet_20_50",
        "20 à 50 % des classes connectées",
        "part_classes_internet",
        |v| v == "20_50"
    ),
    share!(
        "classes_internet_50_plus",
        "Plus de la moitié des classes connectées",
        "part_classes_internet",
        |v| v == "50_plus"
    ),
    share!(
        "couverture_thd",
        "Couverts en très haut débit (> 30 Mbit/s potentiel)",
        "couverture_thd",
        is_true
    ),
    share!(
        "couverture_3g",
        "Couverts en 3G par au moins un opérateur",
        "nb_operateurs_3g",
        positive
    ),
    share!(
        "couverture_4g",
        "Couverts en 4G par au moins un opérateur",
        "nb_operateurs_4g",
        positive
    ),
    share!("sans_wifi", "Sans wifi", "wifi", |v| v == "non"),
    Indicator {
        name: "eleves_par_terminal",
        label_fr: "Élèves par terminal",
        kind: "ratio",
        measure: Measure::Ratio {
            num: "nombre_eleves",
            den: "nb_terminaux",
        },
        only: None,
    },
    Indicator {
        name: "eleves_par_terminal_hors_rep",
        label_fr: "Élèves par terminal, hors éducation prioritaire",
        kind: "ratio",
        measure: Measure::Ratio {
            num: "nombre_eleves",
            den: "nb_terminaux",
        },
        only: Some(|r| r.str("education_prioritaire") == Some("hors_rep")),
    },
    Indicator {
        name: "eleves_par_terminal_rep",
        label_fr: "Élèves par terminal, REP",
        kind: "ratio",
        measure: Measure::Ratio {
            num: "nombre_eleves",
            den: "nb_terminaux",
        },
        only: Some(|r| r.str("education_prioritaire") == Some("rep")),
    },
    Indicator {
        name: "eleves_par_terminal_rep_plus",
        label_fr: "Élèves par terminal, REP+",
        kind: "ratio",
        measure: Measure::Ratio {
            num: "nombre_eleves",
            den: "nb_terminaux",
        },
        only: Some(|r| r.str("education_prioritaire") == Some("rep_plus")),
    },
    Indicator {
        name: "part_terminaux_mobiles",
        label_fr: "Part des terminaux qui sont mobiles",
        kind: "share",
        measure: Measure::Ratio {
            num: "nb_terminaux_mobiles",
            den: "nb_terminaux",
        },
        only: None,
    },
    Indicator {
        name: "part_terminaux_moins_5_ans",
        label_fr: "Part des terminaux de moins de 5 ans",
        kind: "share",
        measure: Measure::Ratio {
            num: "nb_terminaux_moins_5_ans",
            den: "nb_terminaux",
        },
        only: None,
    },
    share!(
        "maintenance_collectivite",
        "Maintenance par le personnel de la collectivité",
        "maintenance_collectivite",
        is_true
    ),
    share!(
        "maintenance_aucune",
        "Aucune maintenance",
        "maintenance_aucune",
        is_true
    ),
    share!("au_moins_un_tni", "Au moins un TNI", "nb_tni", positive),
    share!(
        "au_moins_une_imprimante_3d",
        "Au moins une imprimante 3D",
        "nb_imprimantes_3d",
        positive
    ),
    share!(
        "ent_disponible",
        "Accès à un ENT",
        "ent_disponible",
        is_true
    ),
    Indicator {
        name: "efran",
        label_fr: "Écoles et établissements d'un projet e-FRAN",
        kind: "count",
        measure: Measure::Count {
            field: "efran",
            test: non_empty,
        },
        only: None,
    },
    Indicator {
        name: "profan",
        label_fr: "Lycées de l'expérimentation ProFan",
        kind: "count",
        measure: Measure::Count {
            field: "profan",
            test: is_true,
        },
        only: None,
    },
    Indicator {
        name: "college_lab",
        label_fr: "Collèges lab",
        kind: "count",
        measure: Measure::Count {
            field: "college_lab",
            test: is_true,
        },
        only: None,
    },
    Indicator {
        name: "experimentations_locales",
        label_fr: "Écoles et établissements d'une expérimentation locale",
        kind: "count",
        measure: Measure::Count {
            field: "experimentations_locales",
            test: non_empty,
        },
        only: None,
    },
    Indicator {
        name: "byod",
        label_fr: "Écoles et établissements avec une politique BYOD (expérimentée ou généralisée)",
        kind: "count",
        measure: Measure::Count {
            field: "byod_politique",
            test: |v| v.as_str().is_some_and(|p| p != "aucune"),
        },
        only: None,
    },
];

/// Counts of an indicator: `value = num / den`; n.c. = `1 - answered / expected`.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct IndicatorCounts {
    pub num: f64,
    pub den: f64,
    pub answered: u32,
    pub expected: u32,
}

impl IndicatorCounts {
    fn add(&mut self, o: &Self) {
        self.num += o.num;
        self.den += o.den;
        self.answered += o.answered;
        self.expected += o.expected;
    }
}

/// The counts of one group of schools (one type × secteur) of a territory.
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    pub schools: u32,
    /// Schools with at least one value from a merged contribution.
    pub contributed: u32,
    /// Schools with at least one checkable cross-field rule, and those breaking one.
    pub checked: u32,
    pub inconsistent: u32,
    /// By catalogue position.
    pub fields: Vec<FieldCounts>,
    /// By position in [`RULES`]: (checked, violated).
    pub rules: Vec<(u32, u32)>,
    /// By position in [`INDICATORS`].
    pub indicators: Vec<IndicatorCounts>,
}

impl Default for Group {
    fn default() -> Self {
        Self {
            schools: 0,
            contributed: 0,
            checked: 0,
            inconsistent: 0,
            fields: vec![FieldCounts::default(); Catalog::get().fields().len()],
            rules: vec![(0, 0); RULES.len()],
            indicators: vec![IndicatorCounts::default(); INDICATORS.len()],
        }
    }
}

impl Group {
    pub fn add(&mut self, o: &Group) {
        self.schools += o.schools;
        self.contributed += o.contributed;
        self.checked += o.checked;
        self.inconsistent += o.inconsistent;
        for (a, b) in self.fields.iter_mut().zip(&o.fields) {
            a.add(b);
        }
        for (a, b) in self.rules.iter_mut().zip(&o.rules) {
            a.0 += b.0;
            a.1 += b.1;
        }
        for (a, b) in self.indicators.iter_mut().zip(&o.indicators) {
            a.add(b);
        }
    }
}

/// A school's type and secteur as a group key: `"college|public"`.
pub fn group_key(kind: SchoolKind<'_>) -> String {
    format!(
        "{}|{}",
        kind.school_type.unwrap_or("autre"),
        kind.secteur.unwrap_or("inconnu")
    )
}

/// The scores of a territory: its groups' counts.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Cube {
    pub groups: BTreeMap<String, Group>,
}

impl Cube {
    pub fn add(&mut self, o: &Cube) {
        for (k, g) in &o.groups {
            self.groups.entry(k.clone()).or_default().add(g);
        }
    }

    pub fn schools(&self) -> u32 {
        self.groups.values().map(|g| g.schools).sum()
    }
}

/// Whether a stored value keeps to the catalogue's rules: its type, its codes, its range.
pub fn is_valid(field: &Field, value: &Value) -> bool {
    let non_negative = |v: &Value| v.as_f64().is_some_and(|n| n.is_finite() && n >= 0.0);
    match field.field_type {
        FieldType::Uai => value.as_str().is_some_and(|s| Uai::parse(s).is_ok()),
        FieldType::Text | FieldType::Date => value.is_string(),
        FieldType::Enum | FieldType::Band => {
            value.as_str().is_some_and(|s| field.allowed.contains(&s))
        }
        FieldType::Boolean => value.is_boolean(),
        FieldType::List => value.is_array(),
        FieldType::Integer => {
            let ok = value.is_i64() || value.is_u64();
            let range = field.values_or_unit.split_once('-').and_then(|(a, b)| {
                Some((a.trim().parse::<f64>().ok()?, b.trim().parse::<f64>().ok()?))
            });
            ok && non_negative(value)
                && range.is_none_or(|(lo, hi)| value.as_f64().is_some_and(|n| n >= lo && n <= hi))
        }
        FieldType::Number => {
            let Some(n) = value.as_f64() else {
                return false;
            };
            match field.name {
                "latitude" => (-90.0..=90.0).contains(&n),
                "longitude" => (-180.0..=180.0).contains(&n),
                _ if field.values_or_unit == "%" => (0.0..=100.0).contains(&n),
                // Lambert coordinates and bandwidths are never negative.
                _ => n >= 0.0,
            }
        }
        FieldType::InseeCommune
        | FieldType::InseeDepartement
        | FieldType::Academie
        | FieldType::InseeRegion => value.as_str().is_some_and(|s| !s.is_empty()),
    }
}

/// The catalogue positions of the fields each indicator reads.
fn indicator_fields() -> &'static [(Option<usize>, Option<usize>)] {
    static FIELDS: std::sync::OnceLock<Vec<(Option<usize>, Option<usize>)>> =
        std::sync::OnceLock::new();
    FIELDS.get_or_init(|| {
        let catalog = Catalog::get();
        INDICATORS
            .iter()
            .map(|i| match &i.measure {
                Measure::Share { field, .. } | Measure::Count { field, .. } => {
                    (catalog.index_of(field), None)
                }
                Measure::Ratio { num, den } => (catalog.index_of(num), catalog.index_of(den)),
            })
            .collect()
    })
}

/// A stored record read straight into catalogue positions, without the map of
/// [`super::record::SchoolRecord`]: a full recompute parses 65,000 of them, and looking each
/// field up by name was its largest cost. Fields the catalogue no longer knows are skipped.
pub struct ParsedRecord(Vec<Option<StoredValue>>);

impl<'de> Deserialize<'de> for ParsedRecord {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = ParsedRecord;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a map of field names to [value, provenance id]")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<ParsedRecord, A::Error> {
                let catalog = Catalog::get();
                let mut out = vec![None; catalog.fields().len()];
                while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
                    match catalog.index_of(&key) {
                        Some(i) => out[i] = Some(map.next_value::<StoredValue>()?),
                        None => {
                            map.next_value::<serde::de::IgnoredAny>()?;
                        }
                    }
                }
                Ok(ParsedRecord(out))
            }
        }
        d.deserialize_map(V)
    }
}

impl ParsedRecord {
    pub fn values(&self) -> Values<'_> {
        Values(self.0.iter().map(Option::as_ref).collect())
    }
}

impl<'a> Values<'a> {
    /// A record being published, read by catalogue position.
    pub fn of_record(record: &'a super::record::SchoolRecord) -> Self {
        let catalog = Catalog::get();
        let mut out = vec![None; catalog.fields().len()];
        for (name, value) in &record.0 {
            if let Some(i) = catalog.index_of(name) {
                out[i] = Some(value);
            }
        }
        Values(out)
    }
}

/// A provenance as scores see it: its as-of date and whether it is a merged contribution. A
/// millésime year stands for its last day, as when values are ranked.
pub fn provenance_entry(
    millesime: Option<&str>,
    from_contribution: bool,
) -> (Option<String>, bool) {
    let as_of = millesime.map(|m| {
        if m.len() == 4 {
            format!("{m}-12-31")
        } else {
            m.to_owned()
        }
    });
    (as_of, from_contribution)
}

/// What a school adds to its territories' scores, all but freshness worked out once: when its
/// record is published, stored beside it (`schools.score_facts`), so that a recompute reads a
/// few hundred bytes per school instead of parsing its whole record. Freshness depends on the
/// day of the run, so each value's date is kept instead.
///
/// Stored as compact JSON (about 230 bytes): one character per catalogue position, per rule
/// and per indicator, and the few indicator terms that are not 0 or 1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SchoolFacts {
    /// A school out of the official denominator (closed, not open yet, not in the annuaire)
    /// is expected nothing and counts nowhere.
    #[serde(rename = "x", default, skip_serializing_if = "std::ops::Not::not")]
    closed: bool,
    /// Type × secteur, as [`group_key`].
    #[serde(rename = "g", default)]
    group: String,
    #[serde(rename = "c", default)]
    contributed: bool,
    /// Per catalogue position, `'0' + flags + 32 × slot`: the `FACT_*` flags, and the value's
    /// date as `dates[slot - 1]` (slot 0: none). Always a valid `char`: at most a few
    /// thousand above `'0'`.
    #[serde(rename = "f", default)]
    fields: String,
    #[serde(rename = "d", default)]
    dates: Vec<String>,
    /// Per rule: `-` not checkable, `0` kept, `1` broken.
    #[serde(rename = "r", default)]
    rules: String,
    /// Per indicator, `'0'` + the `IND_*` flags.
    #[serde(rename = "i", default)]
    indicators: String,
    /// `(position in INDICATORS, num, den)` of the indicators whose terms are not 0 or 1
    /// (ratios such as pupils per terminal).
    #[serde(rename = "v", default, skip_serializing_if = "Vec::is_empty")]
    terms: Vec<(u16, f64, f64)>,
}

const IND_NUM: u32 = 1;
const IND_DEN: u32 = 2;
const IND_ANSWERED: u32 = 4;
const IND_EXPECTED: u32 = 8;

const FACT_PRESENT: u32 = 1;
const FACT_EXPECTED: u32 = 2;
const FACT_FILLED: u32 = 4;
const FACT_INVALID: u32 = 8;
/// Present, stored, and its source gives no date.
const FACT_UNDATED: u32 = 16;
const FACT_SLOT: u32 = 32;

/// Bumped whenever what [`SchoolFacts::of`] works out changes (rules, indicators, validity),
/// so that stored facts are worked out again; a change of the catalogue is seen on its own.
const FACTS_FORMAT: u32 = 3;

impl SchoolFacts {
    /// The catalogue and scoring rules facts are worked out with: stored facts with another
    /// key are stale.
    pub fn key() -> &'static str {
        static KEY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
        KEY.get_or_init(|| {
            use sha2::{Digest, Sha256};
            let mut h = Sha256::new();
            h.update(super::catalog::FIELDS_CSV.as_bytes());
            for r in &RULES {
                h.update(r.name.as_bytes());
            }
            for i in &INDICATORS {
                h.update(i.name.as_bytes());
            }
            format!("{FACTS_FORMAT}-{}", hex::encode(&h.finalize()[..6]))
        })
    }

    /// Works out a school's facts from its values and the provenances they cite.
    pub fn of(values: &Values<'_>, provenance: &ProvenanceMap) -> Self {
        if !values.is_open() {
            return Self {
                closed: true,
                group: String::new(),
                contributed: false,
                fields: String::new(),
                dates: Vec::new(),
                rules: String::new(),
                indicators: String::new(),
                terms: Vec::new(),
            };
        }
        let kind = values.kind();
        let expectations = Expectations::of(kind);
        let slots = &values.0;
        let fields = Catalog::get().fields();
        let mut contributed = false;
        let mut dates: Vec<String> = Vec::new();
        let mut codes = String::with_capacity(fields.len());
        let mut expected_at = vec![false; fields.len()];
        for (i, field) in fields.iter().enumerate() {
            let expected = expectations.expects(field);
            expected_at[i] = expected;
            let filled = field.name == "uai" || slots[i].is_some_and(|v| has_value(&v.0));
            let mut flags = 0;
            let mut slot = 0;
            if expected {
                flags |= FACT_EXPECTED;
                if filled {
                    flags |= FACT_FILLED;
                }
            }
            match slots[i] {
                // The UAI is the record's key: filled, never stored as a value.
                None if filled => flags |= FACT_PRESENT,
                Some(stored) if filled => {
                    flags |= FACT_PRESENT;
                    if !is_valid(field, &stored.0) {
                        flags |= FACT_INVALID;
                    }
                    match provenance.get(&stored.1) {
                        Some((Some(as_of), from_contribution)) => {
                            contributed |= *from_contribution;
                            slot = match dates.iter().position(|d| d == as_of) {
                                Some(p) => p + 1,
                                None => {
                                    dates.push(as_of.clone());
                                    dates.len()
                                }
                            };
                        }
                        Some((None, from_contribution)) => {
                            contributed |= *from_contribution;
                            flags |= FACT_UNDATED;
                        }
                        None => flags |= FACT_UNDATED,
                    }
                }
                _ => {}
            }
            // At most 32 × (positions + 1) above '0': far below the surrogates.
            codes.push(char::from_u32('0' as u32 + flags + FACT_SLOT * slot as u32).unwrap_or('0'));
        }
        let rules = RULES
            .iter()
            .map(|rule| match (rule.check)(values) {
                None => '-',
                Some(false) => '0',
                Some(true) => '1',
            })
            .collect();
        let positions = indicator_fields();
        let expects = |at: Option<usize>| at.is_some_and(|i| expected_at[i]);
        let mut indicators = String::with_capacity(INDICATORS.len());
        let mut terms = Vec::new();
        for (i, ind) in INDICATORS.iter().enumerate() {
            let mut c = IndicatorCounts::default();
            if ind.only.is_some_and(|only| !only(values)) {
                indicators.push('0');
                continue;
            }
            let (a, b) = positions[i];
            match &ind.measure {
                Measure::Share { test, .. } => {
                    c.expected = u32::from(expects(a));
                    if let Some(v) = values.at(a).filter(|v| !v.is_null()) {
                        c.answered = 1;
                        c.den = 1.0;
                        c.num = if test(v) { 1.0 } else { 0.0 };
                    }
                }
                Measure::Ratio { .. } => {
                    c.expected = u32::from(expects(a) && expects(b));
                    if let (Some(n), Some(d)) = (
                        values.at(a).and_then(Value::as_f64),
                        values.at(b).and_then(Value::as_f64),
                    ) && d > 0.0
                    {
                        c.answered = 1;
                        c.num = n;
                        c.den = d;
                    }
                }
                Measure::Count { test, .. } => {
                    c.den = 1.0;
                    if values.at(a).is_some_and(test) {
                        c.num = 1.0;
                        c.answered = 1;
                    }
                }
            }
            let bit = |on: bool, flag: u32| if on { flag } else { 0 };
            let flags = bit(c.num == 1.0, IND_NUM)
                | bit(c.den == 1.0, IND_DEN)
                | bit(c.answered == 1, IND_ANSWERED)
                | bit(c.expected == 1, IND_EXPECTED);
            indicators.push(char::from_u32('0' as u32 + flags).unwrap_or('0'));
            let plain = |x: f64| x == 0.0 || x == 1.0;
            if !plain(c.num) || !plain(c.den) {
                terms.push((i as u16, c.num, c.den));
            }
        }
        Self {
            closed: false,
            group: group_key(kind),
            contributed,
            fields: codes,
            dates,
            rules,
            indicators,
            terms,
        }
    }

    pub fn is_open(&self) -> bool {
        !self.closed
    }

    /// Type × secteur: the group of a territory's scores this school counts in.
    pub fn group_key(&self) -> &str {
        &self.group
    }

    /// The school's counts on a run that finds values dated before `stale_before` stale;
    /// `None` for a closed school. Facts that do not fit the catalogue (stored by other rules)
    /// are an error: their school is scored from its record instead.
    pub fn group(&self, stale_before: &str) -> Result<Option<Group>, String> {
        let mut g = Group::default();
        Ok(self.group_into(&mut g, stale_before)?.then_some(g))
    }

    /// [`Self::group`] written over `g`, a buffer reused from school to school: `false` for a
    /// closed school.
    pub fn group_into(&self, g: &mut Group, stale_before: &str) -> Result<bool, String> {
        if self.closed {
            return Ok(false);
        }
        if self.fields.len() != g.fields.len() && self.fields.chars().count() != g.fields.len()
            || self.rules.len() != g.rules.len()
            || self.indicators.len() != g.indicators.len()
            || self
                .terms
                .iter()
                .any(|t| usize::from(t.0) >= g.indicators.len())
        {
            return Err("faits de score d'un autre catalogue".into());
        }
        let stale = |slot: usize| -> Result<bool, String> {
            self.dates
                .get(slot)
                .map(|d| d.as_str() < stale_before)
                .ok_or_else(|| "date de valeur hors de la liste".to_owned())
        };
        g.schools = 1;
        g.contributed = u32::from(self.contributed);
        for (c, code) in g.fields.iter_mut().zip(self.fields.chars()) {
            let n = (code as u32).saturating_sub('0' as u32);
            let flags = n % FACT_SLOT;
            c.present = u32::from(flags & FACT_PRESENT != 0);
            c.expected = u32::from(flags & FACT_EXPECTED != 0);
            c.filled = u32::from(flags & FACT_FILLED != 0);
            c.invalid = u32::from(flags & FACT_INVALID != 0);
            c.undated = u32::from(flags & FACT_UNDATED != 0);
            c.stale = match ((n / FACT_SLOT) as usize).checked_sub(1) {
                Some(slot) => u32::from(stale(slot)?),
                None => 0,
            };
        }
        for (r, code) in g.rules.iter_mut().zip(self.rules.bytes()) {
            *r = match code {
                b'0' => (1, 0),
                b'1' => (1, 1),
                _ => (0, 0),
            };
        }
        g.checked = u32::from(g.rules.iter().any(|r| r.0 == 1));
        g.inconsistent = u32::from(g.rules.iter().any(|r| r.1 == 1));
        for (c, code) in g.indicators.iter_mut().zip(self.indicators.bytes()) {
            let flags = u32::from(code.saturating_sub(b'0'));
            let one = |flag: u32| if flags & flag != 0 { 1 } else { 0 };
            *c = IndicatorCounts {
                num: f64::from(one(IND_NUM)),
                den: f64::from(one(IND_DEN)),
                answered: one(IND_ANSWERED),
                expected: one(IND_EXPECTED),
            };
        }
        for &(i, num, den) in &self.terms {
            let c = &mut g.indicators[usize::from(i)];
            c.num = num;
            c.den = den;
        }
        Ok(true)
    }
}

/// One open school's counts from its values by catalogue position.
pub fn of_values(values: &Values<'_>, ctx: &Context<'_>) -> Group {
    SchoolFacts::of(values, ctx.provenance)
        .group(&ctx.stale_before)
        .ok()
        .flatten()
        .unwrap_or_default()
}

// ---- What readers see: sums over the groups and fields a filter keeps.

/// Which schools and fields a view sums over.
#[derive(Debug, Default, Clone, Deserialize, Serialize)]
pub struct Filter {
    pub theme: Option<String>,
    pub field: Option<String>,
    /// `type_etablissement`: ecole, college, lycee, erea, autre.
    #[serde(rename = "type")]
    pub school_type: Option<String>,
    pub secteur: Option<String>,
}

impl Filter {
    /// The filter's problem, named after its parameter, if it names an unknown value.
    pub fn check(&self) -> Result<(), (&'static str, String)> {
        let catalog = Catalog::get();
        if let Some(f) = &self.field
            && catalog.field(f).is_none()
        {
            return Err((
                "field",
                format!("champ inconnu « {f} » : voir GET /api/v1/fields"),
            ));
        }
        if let Some(t) = &self.theme
            && !super::catalog::Theme::ALL.iter().any(|x| x.code() == t)
        {
            return Err((
                "theme",
                format!(
                    "thème inconnu « {t} » : attendu {}",
                    super::catalog::Theme::ALL.map(|x| x.code()).join(", ")
                ),
            ));
        }
        // The group keys: the catalogue's codes, and what a school without one counts as.
        for (param, field, fallback, value) in [
            ("type", "type_etablissement", "autre", &self.school_type),
            ("secteur", "secteur", "inconnu", &self.secteur),
        ] {
            let mut allowed: Vec<&str> = catalog
                .field(field)
                .map(|f| f.allowed.clone())
                .unwrap_or_default();
            if !allowed.contains(&fallback) {
                allowed.push(fallback);
            }
            if let Some(v) = value
                && !allowed.contains(&v.as_str())
            {
                return Err((
                    param,
                    format!("« {v} » inconnu : attendu {}", allowed.join(", ")),
                ));
            }
        }
        Ok(())
    }

    fn keeps_group(&self, key: &str) -> bool {
        let (t, s) = key.split_once('|').unwrap_or((key, ""));
        self.school_type.as_deref().is_none_or(|x| x == t)
            && self.secteur.as_deref().is_none_or(|x| x == s)
    }

    fn keeps_field(&self, f: &Field) -> bool {
        self.field.as_deref().is_none_or(|x| x == f.name)
            && self.theme.as_deref().is_none_or(|t| t == f.theme.code())
    }
}

fn rate(num: f64, den: f64) -> Option<f64> {
    (den > 0.0).then(|| num / den)
}

fn score(filled: u32, expected: u32) -> Score {
    Score {
        filled,
        expected,
        rate: rate(f64::from(filled), f64::from(expected)),
    }
}

#[derive(Debug, Serialize)]
pub struct FieldScore {
    pub field: &'static str,
    pub theme: &'static str,
    #[serde(flatten)]
    pub score: Score,
}

/// Opt-in data is never missing: its coverage is the share of schools that have it.
#[derive(Debug, Serialize)]
pub struct Coverage {
    pub field: &'static str,
    pub theme: &'static str,
    pub present: u32,
    pub schools: u32,
    pub rate: Option<f64>,
}

#[derive(Debug, Serialize)]
pub struct CompletenessView {
    pub schools: u32,
    pub total: Score,
    pub by_theme: BTreeMap<&'static str, Score>,
    pub by_type: BTreeMap<String, Score>,
    pub by_secteur: BTreeMap<String, Score>,
    pub by_field: Vec<FieldScore>,
    pub coverage: Vec<Coverage>,
}

fn split(key: &str) -> (&str, &str) {
    key.split_once('|').unwrap_or((key, ""))
}

pub fn completeness(cube: &Cube, filter: &Filter) -> CompletenessView {
    let fields = Catalog::get().fields();
    let groups: Vec<(&String, &Group)> = cube
        .groups
        .iter()
        .filter(|(k, _)| filter.keeps_group(k))
        .collect();
    let mut totals = vec![FieldCounts::default(); fields.len()];
    let mut by_type: BTreeMap<String, (u32, u32)> = BTreeMap::new();
    let mut by_secteur: BTreeMap<String, (u32, u32)> = BTreeMap::new();
    let mut schools = 0;
    for (key, g) in &groups {
        schools += g.schools;
        let (t, s) = split(key);
        for (i, f) in fields.iter().enumerate() {
            totals[i].add(&g.fields[i]);
            if filter.keeps_field(f) {
                let c = g.fields[i];
                for e in [
                    by_type.entry(t.to_owned()).or_default(),
                    by_secteur.entry(s.to_owned()).or_default(),
                ] {
                    e.0 += c.filled;
                    e.1 += c.expected;
                }
            }
        }
    }
    let mut total = (0, 0);
    let mut by_theme: BTreeMap<&'static str, (u32, u32)> = BTreeMap::new();
    let mut by_field = Vec::new();
    let mut coverage = Vec::new();
    for (f, c) in fields.iter().zip(&totals) {
        if !filter.keeps_field(f) {
            continue;
        }
        if c.expected > 0 {
            total.0 += c.filled;
            total.1 += c.expected;
            let t = by_theme.entry(f.theme.code()).or_default();
            t.0 += c.filled;
            t.1 += c.expected;
            by_field.push(FieldScore {
                field: f.name,
                theme: f.theme.code(),
                score: score(c.filled, c.expected),
            });
        } else if f.expected_for == super::catalog::ExpectedFor::None {
            coverage.push(Coverage {
                field: f.name,
                theme: f.theme.code(),
                present: c.present,
                schools,
                rate: rate(f64::from(c.present), f64::from(schools)),
            });
        }
    }
    let scores = |m: BTreeMap<String, (u32, u32)>| {
        m.into_iter()
            .filter(|(_, (_, e))| *e > 0)
            .map(|(k, (f, e))| (k, score(f, e)))
            .collect()
    };
    CompletenessView {
        schools,
        total: score(total.0, total.1),
        by_theme: by_theme
            .into_iter()
            .map(|(k, (f, e))| (k, score(f, e)))
            .collect(),
        by_type: scores(by_type),
        by_secteur: scores(by_secteur),
        by_field,
        coverage,
    }
}

/// A count out of a total, with its share.
#[derive(Debug, Serialize)]
pub struct Share {
    pub count: u32,
    pub total: u32,
    pub rate: Option<f64>,
}

fn share(count: u32, total: u32) -> Share {
    Share {
        count,
        total,
        rate: rate(f64::from(count), f64::from(total)),
    }
}

#[derive(Debug, Serialize)]
pub struct FieldQuality {
    pub field: &'static str,
    pub theme: &'static str,
    pub present: u32,
    pub invalid: u32,
    pub stale: u32,
    pub undated: u32,
}

#[derive(Debug, Serialize)]
pub struct RuleQuality {
    pub rule: &'static str,
    pub label_fr: &'static str,
    pub checked: u32,
    pub violated: u32,
}

#[derive(Debug, Serialize)]
pub struct QualityView {
    pub schools: u32,
    /// Values breaking the catalogue's rules, out of the values present.
    pub invalid: Share,
    /// Values dated before the freshness limit, out of the values present.
    pub stale: Share,
    /// Values whose source gives no date, out of the values present.
    pub undated: Share,
    /// Schools breaking at least one cross-field rule, out of the schools checked.
    pub inconsistent: Share,
    /// Schools with at least one value from a merged contribution.
    pub contributed: Share,
    pub by_rule: Vec<RuleQuality>,
    pub by_field: Vec<FieldQuality>,
}

pub fn quality(cube: &Cube, filter: &Filter) -> QualityView {
    let fields = Catalog::get().fields();
    let mut totals = vec![FieldCounts::default(); fields.len()];
    let mut rules = vec![(0, 0); RULES.len()];
    let (mut schools, mut checked, mut inconsistent, mut contributed) = (0, 0, 0, 0);
    for (_, g) in cube.groups.iter().filter(|(k, _)| filter.keeps_group(k)) {
        schools += g.schools;
        checked += g.checked;
        inconsistent += g.inconsistent;
        contributed += g.contributed;
        for (a, b) in totals.iter_mut().zip(&g.fields) {
            a.add(b);
        }
        for (a, b) in rules.iter_mut().zip(&g.rules) {
            a.0 += b.0;
            a.1 += b.1;
        }
    }
    let mut sum = FieldCounts::default();
    let mut by_field = Vec::new();
    for (f, c) in fields.iter().zip(&totals) {
        if !filter.keeps_field(f) || c.present == 0 {
            continue;
        }
        sum.add(c);
        by_field.push(FieldQuality {
            field: f.name,
            theme: f.theme.code(),
            present: c.present,
            invalid: c.invalid,
            stale: c.stale,
            undated: c.undated,
        });
    }
    QualityView {
        schools,
        invalid: share(sum.invalid, sum.present),
        stale: share(sum.stale, sum.present),
        undated: share(sum.undated, sum.present),
        inconsistent: share(inconsistent, checked),
        contributed: share(contributed, schools),
        by_rule: RULES
            .iter()
            .zip(rules)
            .map(|(r, (checked, violated))| RuleQuality {
                rule: r.name,
                label_fr: r.label_fr,
                checked,
                violated,
            })
            .collect(),
        by_field,
    }
}

#[derive(Debug, Serialize)]
pub struct IndicatorValue {
    /// `numerator / denominator`: a share, a ratio (pupils per terminal) or, for a count,
    /// the count itself.
    pub value: Option<f64>,
    pub numerator: f64,
    pub denominator: f64,
    /// Schools that answered, out of those of which the answer is expected.
    pub answered: u32,
    pub expected: u32,
    /// The share of expected answers not communicated ("n.c."); absent for opt-in data.
    pub nc_rate: Option<f64>,
}

fn indicator_value(kind: &str, c: &IndicatorCounts) -> IndicatorValue {
    IndicatorValue {
        value: if kind == "count" {
            Some(c.num)
        } else {
            rate(c.num, c.den)
        },
        numerator: c.num,
        denominator: c.den,
        answered: c.answered,
        expected: c.expected,
        nc_rate: (c.expected > 0)
            .then(|| 1.0 - f64::from(c.answered.min(c.expected)) / f64::from(c.expected)),
    }
}

#[derive(Debug, Serialize)]
pub struct IndicatorView {
    pub name: &'static str,
    pub label_fr: &'static str,
    pub kind: &'static str,
    #[serde(flatten)]
    pub value: IndicatorValue,
    pub by_type: BTreeMap<String, IndicatorValue>,
}

#[derive(Debug, Serialize)]
pub struct IndicatorsView {
    pub schools: u32,
    pub indicators: Vec<IndicatorView>,
}

pub fn indicators(cube: &Cube, filter: &Filter) -> IndicatorsView {
    let mut total = vec![IndicatorCounts::default(); INDICATORS.len()];
    let mut by_type: BTreeMap<&str, Vec<IndicatorCounts>> = BTreeMap::new();
    let mut schools = 0;
    for (key, g) in cube.groups.iter().filter(|(k, _)| filter.keeps_group(k)) {
        schools += g.schools;
        let t = by_type
            .entry(split(key).0)
            .or_insert_with(|| vec![IndicatorCounts::default(); INDICATORS.len()]);
        for (i, c) in g.indicators.iter().enumerate() {
            total[i].add(c);
            t[i].add(c);
        }
    }
    let views = INDICATORS
        .iter()
        .enumerate()
        .map(|(i, ind)| IndicatorView {
            name: ind.name,
            label_fr: ind.label_fr,
            kind: ind.kind,
            value: indicator_value(ind.kind, &total[i]),
            by_type: by_type
                .iter()
                .filter(|(_, v)| v[i] != IndicatorCounts::default())
                .map(|(t, v)| ((*t).to_owned(), indicator_value(ind.kind, &v[i])))
                .collect(),
        })
        .collect();
    IndicatorsView {
        schools,
        indicators: views,
    }
}

// ---- Storage form: named counts, zeros left out, so that a catalogue that grows keeps
// reading older scores.

#[derive(Deserialize)]
struct StoredGroup {
    schools: u32,
    contributed: u32,
    checked: u32,
    inconsistent: u32,
    #[serde(default)]
    fields: BTreeMap<String, [u32; 6]>,
    #[serde(default)]
    rules: BTreeMap<String, [u32; 2]>,
    #[serde(default)]
    indicators: BTreeMap<String, [f64; 4]>,
}

/// A group as stored, written straight from its counts (no intermediate maps: a full
/// recompute serialises every territory to compare it with its previous scores).
struct GroupOut<'a>(&'a Group);

struct FieldsOut<'a>(&'a Group);
struct RulesOut<'a>(&'a Group);
struct IndicatorsOut<'a>(&'a Group);

impl Serialize for FieldsOut<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(
            Catalog::get()
                .fields()
                .iter()
                .zip(&self.0.fields)
                .filter(|(_, c)| **c != FieldCounts::default())
                .map(|(f, c)| (f.name, c.as_array())),
        )
    }
}

impl Serialize for RulesOut<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(
            RULES
                .iter()
                .zip(&self.0.rules)
                .filter(|(_, c)| c.0 > 0)
                .map(|(r, c)| (r.name, [c.0, c.1])),
        )
    }
}

impl Serialize for IndicatorsOut<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(
            INDICATORS
                .iter()
                .zip(&self.0.indicators)
                .filter(|(_, c)| **c != IndicatorCounts::default())
                .map(|(i, c)| {
                    (
                        i.name,
                        [c.num, c.den, f64::from(c.answered), f64::from(c.expected)],
                    )
                }),
        )
    }
}

impl Serialize for GroupOut<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let g = self.0;
        let mut out = s.serialize_struct("StoredGroup", 7)?;
        out.serialize_field("schools", &g.schools)?;
        out.serialize_field("contributed", &g.contributed)?;
        out.serialize_field("checked", &g.checked)?;
        out.serialize_field("inconsistent", &g.inconsistent)?;
        out.serialize_field("fields", &FieldsOut(g))?;
        out.serialize_field("rules", &RulesOut(g))?;
        out.serialize_field("indicators", &IndicatorsOut(g))?;
        out.end()
    }
}

impl Serialize for Cube {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.groups.iter().map(|(k, g)| (k, GroupOut(g))))
    }
}

impl<'de> Deserialize<'de> for Cube {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let catalog = Catalog::get();
        let stored = BTreeMap::<String, StoredGroup>::deserialize(d)?;
        let mut cube = Cube::default();
        for (k, s) in stored {
            let mut g = Group {
                schools: s.schools,
                contributed: s.contributed,
                checked: s.checked,
                inconsistent: s.inconsistent,
                ..Group::default()
            };
            for (name, a) in s.fields {
                if let Some(i) = catalog.index_of(&name) {
                    g.fields[i] = FieldCounts::from_array(a);
                }
            }
            for (name, a) in s.rules {
                if let Some(i) = RULES.iter().position(|r| r.name == name) {
                    g.rules[i] = (a[0], a[1]);
                }
            }
            for (name, a) in s.indicators {
                if let Some(i) = INDICATORS.iter().position(|r| r.name == name) {
                    g.indicators[i] = IndicatorCounts {
                        num: a[0],
                        den: a[1],
                        answered: a[2] as u32,
                        expected: a[3] as u32,
                    };
                }
            }
            cube.groups.insert(k, g);
        }
        Ok(cube)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A school of the annuaire (listed unless the record says otherwise).
    fn record(json: &str) -> ParsedRecord {
        let mut map: serde_json::Map<String, Value> = serde_json::from_str(json).expect("record");
        map.entry("presence_annuaire")
            .or_insert_with(|| serde_json::json!(["present", 3]));
        serde_json::from_value(Value::Object(map)).expect("record")
    }

    #[test]
    fn a_school_the_annuaire_does_not_list_counts_nowhere() {
        let p = provenances();
        for json in [
            r#"{"presence_annuaire": ["absent", 1], "type_etablissement": ["ecole", 1]}"#,
            r#"{"etat": ["a_ouvrir", 1], "type_etablissement": ["ecole", 1]}"#,
        ] {
            let facts = SchoolFacts::of(&record(json).values(), &p);
            assert!(!facts.is_open(), "{json}");
        }
        let never_listed: ParsedRecord =
            serde_json::from_str(r#"{"type_etablissement": ["ecole", 1]}"#).expect("record");
        assert!(!SchoolFacts::of(&never_listed.values(), &p).is_open());
        let listed = record(r#"{"type_etablissement": ["ecole", 1]}"#);
        assert!(SchoolFacts::of(&listed.values(), &p).is_open());
    }

    fn ctx(p: &ProvenanceMap) -> Context<'_> {
        Context {
            provenance: p,
            stale_before: "2020-01-01".into(),
        }
    }

    /// Provenance 1 dated 2018, 2 a contribution of 2026, 3 undated.
    fn provenances() -> ProvenanceMap {
        [
            (1, (Some("2018-12-31".to_owned()), false)),
            (2, (Some("2026-06-01".to_owned()), true)),
            (3, (None, false)),
        ]
        .into_iter()
        .collect()
    }

    #[test]
    fn a_school_counts_validity_freshness_consistency_and_contributions() {
        let p = provenances();
        let r = record(
            r#"{"type_etablissement": ["college", 3], "secteur": ["public", 3],
                "nb_terminaux": [10, 1], "nb_tablettes": [12, 2],
                "nb_operateurs_4g": [7, 2], "wifi": ["non", 1], "nombre_eleves": [500, 3]}"#,
        );
        let g = of_values(&r.values(), &ctx(&p));
        let c = |name: &str| g.fields[Catalog::get().index_of(name).unwrap()];
        assert_eq!(c("nb_terminaux").stale, 1, "dated 2018, before 2020");
        assert_eq!(c("nb_tablettes").stale, 0);
        assert_eq!(c("secteur").undated, 1);
        assert_eq!(c("nb_operateurs_4g").invalid, 1, "0-4 operators");
        assert_eq!(c("nb_terminaux").invalid, 0);
        assert_eq!(g.contributed, 1);
        let rule = RULES
            .iter()
            .position(|r| r.name == "tablettes_sous_terminaux")
            .unwrap();
        assert_eq!(g.rules[rule], (1, 1), "12 tablets out of 10 terminals");
        assert_eq!((g.checked, g.inconsistent), (1, 1));
        let ind =
            |name: &str| g.indicators[INDICATORS.iter().position(|i| i.name == name).unwrap()];
        assert_eq!(
            ind("eleves_par_terminal"),
            IndicatorCounts {
                num: 500.0,
                den: 10.0,
                answered: 1,
                expected: 1
            }
        );
        assert_eq!(ind("sans_wifi").num, 1.0);
        // ETIC expects TNIs of a public collège: unanswered, it counts as n.c.
        assert_eq!(ind("au_moins_un_tni").expected, 1);
        assert_eq!(ind("au_moins_un_tni").answered, 0);
    }

    #[test]
    fn stored_facts_give_the_same_counts_on_any_day() {
        let p = provenances();
        let r = record(
            r#"{"type_etablissement": ["lycee", 3], "secteur": ["public", 3],
                "nb_terminaux": [10, 1], "nb_tablettes": [12, 2], "wifi": ["oui", 2],
                "nb_operateurs_4g": [7, 2], "nombre_eleves": [800, 9]}"#,
        );
        let facts = SchoolFacts::of(&r.values(), &p);
        let stored: SchoolFacts =
            serde_json::from_str(&serde_json::to_string(&facts).unwrap()).unwrap();
        assert_eq!(stored, facts);
        for day in ["2010-01-01", "2020-01-01", "2030-01-01"] {
            let direct = of_values(
                &r.values(),
                &Context {
                    provenance: &p,
                    stale_before: day.into(),
                },
            );
            assert_eq!(stored.group(day).unwrap(), Some(direct));
        }
        let late = stored.group("2030-01-01").unwrap().unwrap();
        let at = |name: &str| late.fields[Catalog::get().index_of(name).unwrap()];
        assert_eq!((at("nb_terminaux").stale, at("wifi").stale), (1, 1));
        assert_eq!(at("nombre_eleves").undated, 1, "provenance 9 is unknown");
        assert_eq!(at("uai").undated, 0, "the key is not a dated value");

        let closed = record(r#"{"etat": ["ferme", 1], "type_etablissement": ["ecole", 1]}"#);
        let facts = SchoolFacts::of(&closed.values(), &p);
        assert!(!facts.is_open());
        assert_eq!(facts.group("2020-01-01"), Ok(None));
        let foreign: SchoolFacts =
            serde_json::from_str(r#"{"g": "ecole|public", "f": "04"}"#).unwrap();
        assert!(
            foreign.group("2020-01-01").is_err(),
            "not this catalogue's facts"
        );
    }

    #[test]
    fn cubes_sum_and_survive_storage() {
        let p = ProvenanceMap::default();
        let a = of_values(
            &record(r#"{"type_etablissement": ["ecole", 1], "secteur": ["prive", 1]}"#).values(),
            &ctx(&p),
        );
        let mut cube = Cube::default();
        for _ in 0..3 {
            cube.add(&Cube {
                groups: BTreeMap::from([("ecole|prive".to_owned(), a.clone())]),
            });
        }
        assert_eq!(cube.schools(), 3);
        let json = serde_json::to_string(&cube).unwrap();
        let back: Cube = serde_json::from_str(&json).unwrap();
        assert_eq!(back, cube);
    }
}
