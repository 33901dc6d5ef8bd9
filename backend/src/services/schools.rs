//! The school register: search and the full published record of one school.

use std::collections::BTreeMap;

use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect,
    sea_query::{Expr, ExprTrait, Query},
};
use serde::Serialize;
use serde_json::Value;

use crate::{
    domain::{
        catalog::{Catalog, Theme},
        record::{SchoolRecord, StoredValue},
        territory::{AcademieCode, CommuneCode, DepartementCode, RegionCode},
        text::fold,
        uai::Uai,
    },
    entities::{commune, observation, school, school_revision},
    error::Violation,
    services::{
        datasets,
        provenance::{self, ProvenanceView},
    },
};

/// Search filters, all optional and combined with AND.
#[derive(Debug, Clone, Default)]
pub struct SchoolFilter {
    pub region: Option<RegionCode>,
    pub academie: Option<AcademieCode>,
    pub departement: Option<DepartementCode>,
    pub commune: Option<CommuneCode>,
    pub school_type: Option<String>,
    pub secteur: Option<String>,
    pub q: Option<String>,
    /// Also the schools the annuaire does not list (absent from its latest import, or never
    /// listed); by default lists keep to the official list.
    pub include_absent: bool,
    pub page: u64,
    pub per_page: u64,
}

pub const MAX_PER_PAGE: u64 = 500;

/// Raw query parameters as received, before they are read into a [`SchoolFilter`].
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct SchoolQuery {
    pub region: Option<String>,
    pub academie: Option<String>,
    pub departement: Option<String>,
    pub commune: Option<String>,
    #[serde(rename = "type")]
    pub school_type: Option<String>,
    pub secteur: Option<String>,
    pub q: Option<String>,
    pub include: Option<String>,
    pub page: Option<String>,
    pub per_page: Option<String>,
}

impl SchoolQuery {
    /// Reads every parameter, reporting all the malformed ones at once.
    pub fn parse(self) -> Result<SchoolFilter, Vec<Violation>> {
        let mut errors = Vec::new();
        let filter = SchoolFilter {
            region: read(&mut errors, "region", self.region, |v| {
                RegionCode::parse(v).map_err(|e| e.to_string())
            }),
            academie: read(&mut errors, "academie", self.academie, |v| {
                AcademieCode::parse(v).map_err(|e| e.to_string())
            }),
            departement: read(&mut errors, "departement", self.departement, |v| {
                DepartementCode::parse(v).map_err(|e| e.to_string())
            }),
            commune: read(&mut errors, "commune", self.commune, |v| {
                CommuneCode::parse(v).map_err(|e| e.to_string())
            }),
            school_type: read(&mut errors, "type", self.school_type, |v| {
                allowed("type_etablissement", v)
            }),
            secteur: read(&mut errors, "secteur", self.secteur, |v| {
                allowed("secteur", v)
            }),
            q: present(self.q).map(|q| fold(q.trim())),
            include_absent: read(&mut errors, "include", self.include, parse_include)
                .unwrap_or(false),
            page: read(&mut errors, "page", self.page, |v| {
                number(v, u64::from(u32::MAX))
            })
            .unwrap_or(1),
            per_page: read(&mut errors, "per_page", self.per_page, |v| {
                number(v, MAX_PER_PAGE)
            })
            .unwrap_or(50),
        };
        if errors.is_empty() {
            Ok(filter)
        } else {
            Err(errors)
        }
    }
}

fn present(v: Option<String>) -> Option<String> {
    v.filter(|s| !s.trim().is_empty())
}

/// Reads one optional parameter, recording why it is malformed.
fn read<T>(
    errors: &mut Vec<Violation>,
    name: &str,
    raw: Option<String>,
    parse: impl FnOnce(&str) -> Result<T, String>,
) -> Option<T> {
    let raw = present(raw)?;
    match parse(raw.trim()) {
        Ok(v) => Some(v),
        Err(detail) => {
            errors.push(Violation {
                pointer: name.to_owned(),
                detail,
            });
            None
        }
    }
}

/// A code among the catalogue's values for an enum field.
fn allowed(field: &str, v: &str) -> Result<String, String> {
    let codes = Catalog::get()
        .field(field)
        .map(|f| f.allowed.clone())
        .unwrap_or_default();
    let code = v.to_lowercase();
    if codes.contains(&code.as_str()) {
        Ok(code)
    } else {
        Err(format!(
            "« {v} » n'est pas une valeur admise ; valeurs : {}",
            codes.join(", ")
        ))
    }
}

/// `include=absent`: the schools out of the official list too.
pub fn parse_include(v: &str) -> Result<bool, String> {
    if v.eq_ignore_ascii_case("absent") {
        Ok(true)
    } else {
        Err(format!(
            "« {v} » n'est pas une valeur admise ; valeur : absent (les établissements absents de l'annuaire aussi)"
        ))
    }
}

fn number(v: &str, max: u64) -> Result<u64, String> {
    match v.parse::<u64>() {
        Ok(n) if (1..=max).contains(&n) => Ok(n),
        _ => Err(format!(
            "« {v} » : un nombre entier entre 1 et {max} est attendu"
        )),
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct SchoolSummary {
    pub uai: String,
    pub name: String,
    pub type_etablissement: Option<String>,
    pub secteur: Option<String>,
    pub etat: Option<String>,
    pub code_commune: Option<String>,
    pub code_departement: Option<String>,
    pub code_academie: Option<String>,
    pub code_region: Option<String>,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    /// `present`, `absent` (no longer in the annuaire) or none (never listed).
    pub presence_annuaire: Option<String>,
}

impl From<school::Model> for SchoolSummary {
    fn from(s: school::Model) -> Self {
        Self {
            uai: s.uai,
            name: s.name,
            type_etablissement: s.type_etablissement,
            secteur: s.secteur,
            etat: s.etat,
            code_commune: s.code_commune,
            code_departement: s.code_departement,
            code_academie: s.code_academie,
            code_region: s.code_region,
            latitude: s.latitude,
            longitude: s.longitude,
            presence_annuaire: s.presence_annuaire,
        }
    }
}

fn like_pattern(q: &str) -> String {
    let escaped = q
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}

/// Schools matching the filter, in UAI order, with the total count of matches.
pub async fn search<C: ConnectionTrait>(
    db: &C,
    filter: &SchoolFilter,
) -> Result<(u64, Vec<SchoolSummary>), DbErr> {
    let mut cond = Condition::all();
    if let Some(r) = &filter.region {
        cond = cond.add(school::Column::CodeRegion.eq(r.as_str()));
    }
    if let Some(a) = &filter.academie {
        cond = cond.add(school::Column::CodeAcademie.eq(a.as_str()));
    }
    if let Some(d) = &filter.departement {
        cond = cond.add(school::Column::CodeDepartement.eq(d.as_str()));
    }
    if let Some(c) = &filter.commune {
        // Paris, Lyon and Marseille: the commune covers its municipal arrondissements.
        let arrondissements = Query::select()
            .column(commune::Column::Code)
            .from(commune::Entity)
            .and_where(Expr::col(commune::Column::ParentCode).eq(c.as_str()))
            .to_owned();
        cond = cond.add(
            Condition::any()
                .add(school::Column::CodeCommune.eq(c.as_str()))
                .add(school::Column::CodeCommune.in_subquery(arrondissements)),
        );
    }
    if let Some(t) = &filter.school_type {
        cond = cond.add(school::Column::TypeEtablissement.eq(t.as_str()));
    }
    if let Some(s) = &filter.secteur {
        cond = cond.add(school::Column::Secteur.eq(s.as_str()));
    }
    if !filter.include_absent {
        cond = cond.add(school::Column::PresenceAnnuaire.eq("present"));
    }
    if let Some(q) = &filter.q {
        let pattern = like_pattern(q);
        let uai_prefix = format!("{}%", q.to_uppercase().replace(['%', '_'], ""));
        // The schools of the communes whose name begins with what was typed, too.
        let communes = Query::select()
            .column(commune::Column::Code)
            .from(commune::Entity)
            .and_where(
                Expr::col(commune::Column::NameFolded).like(
                    sea_orm::sea_query::LikeExpr::new(format!(
                        "{}%",
                        pattern.trim_start_matches('%')
                    ))
                    .escape('\\'),
                ),
            )
            .to_owned();
        cond = cond.add(
            Condition::any()
                .add(
                    Expr::col(school::Column::NameFolded)
                        .like(sea_orm::sea_query::LikeExpr::new(pattern).escape('\\')),
                )
                .add(school::Column::Uai.like(uai_prefix))
                .add(school::Column::CodeCommune.in_subquery(communes)),
        );
    }
    let query = school::Entity::find().filter(cond);
    let total = query.clone().count(db).await?;
    let rows = query
        .order_by_asc(school::Column::Uai)
        .offset((filter.page - 1) * filter.per_page)
        .limit(filter.per_page)
        .all(db)
        .await?;
    Ok((total, rows.into_iter().map(SchoolSummary::from).collect()))
}

#[derive(Debug, Clone, Serialize)]
pub struct PublishedValue {
    pub value: Value,
    pub label: &'static str,
    pub provenance: Option<ProvenanceView>,
    /// How the source wrote the value, when it wrote it otherwise than the catalogue's code
    /// (`50OuPlus` for `50_plus`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub raw: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ObservationView {
    pub source: String,
    pub millesime: Option<String>,
    pub import_id: i64,
    pub values: BTreeMap<String, Value>,
    /// How the source wrote the coded values, where it differs from the code.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub raw: BTreeMap<String, String>,
    /// Codes no known spelling matches: kept as written, not published.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub unrecognised: BTreeMap<String, String>,
}

/// Whether the school is in the official list, in words and with the import that said so.
#[derive(Debug, Clone, Serialize)]
pub struct AnnuaireStatus {
    /// `present`, `absent`, or `null`: no annuaire import ever listed it.
    pub presence: Option<String>,
    /// The import that listed it, or the first that no longer listed it.
    pub import_id: Option<i64>,
    /// The date of the annuaire that said so.
    pub as_of: Option<String>,
    /// Whether it counts in completeness, quality and indicators (listed and open).
    pub counted: bool,
    pub message: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct SchoolDetail {
    pub uai: String,
    pub name: String,
    /// The dataset version that last changed this school, and the one that first published it.
    pub version: i32,
    pub created_version: i32,
    /// Whether the annuaire lists it: a school it does not list is kept, out of the official
    /// denominator, lists and exports by default.
    pub annuaire: AnnuaireStatus,
    /// Theme → field → published value with its provenance. Every theme is present, empty
    /// when nothing is known, so that what is missing shows.
    pub themes: BTreeMap<&'static str, BTreeMap<&'static str, PublishedValue>>,
    /// Earlier published values, newest first: what each version replaced, with its provenance.
    pub history: Vec<HistoryEntry>,
    /// What a source said that is not published: an earlier millésime, a value a higher-ranked
    /// source overrides, an undated value that a dated one outranks.
    pub other_observations: Vec<ObservationView>,
    /// Filled / expected values, in all and by theme, and the expected fields still empty.
    pub completeness: crate::domain::completeness::SchoolCompleteness,
}

#[derive(Debug, Clone, Serialize)]
pub struct HistoryEntry {
    pub field: String,
    pub value: Value,
    pub provenance: Option<ProvenanceView>,
    /// The dataset version that replaced this value.
    pub replaced_in_version: i32,
}

pub async fn get<C: ConnectionTrait>(db: &C, uai: &Uai) -> Result<Option<SchoolDetail>, DbErr> {
    let Some(s) = school::Entity::find_by_id(uai.as_str()).one(db).await? else {
        return Ok(None);
    };
    let data = datasets::current_records(db, [s.uai.clone()])
        .await?
        .remove(&s.uai)
        .ok_or_else(|| DbErr::Custom(format!("no revision for the record of {}", s.uai)))?
        .data;
    let record: SchoolRecord = serde_json::from_str(&data)
        .map_err(|e| DbErr::Custom(format!("corrupt record of {}: {e}", s.uai)))?;
    let provs = provenance::describe(db, record.0.values().map(|v| v.1)).await?;
    let completeness = crate::domain::completeness::of_school(&record);
    let catalog = Catalog::get();
    let mut themes: BTreeMap<&'static str, BTreeMap<&'static str, PublishedValue>> = Theme::ALL
        .iter()
        .map(|t| (t.code(), BTreeMap::new()))
        .collect();
    for field in catalog.fields() {
        if let Some(v) = record.0.get(field.name) {
            themes.entry(field.theme.code()).or_default().insert(
                field.name,
                PublishedValue {
                    value: v.0.clone(),
                    label: field.label_fr,
                    provenance: provs.get(&v.1).cloned(),
                    raw: None,
                },
            );
        }
    }
    let mut history = Vec::new();
    let revisions = school_revision::Entity::find()
        .filter(school_revision::Column::Uai.eq(uai.as_str()))
        .order_by_desc(school_revision::Column::Version)
        .all(db)
        .await?;
    for r in revisions {
        // `null`: the revision that created the school replaced nothing.
        let changes: Option<BTreeMap<String, Option<StoredValue>>> =
            serde_json::from_str(&r.changes)
                .map_err(|e| DbErr::Custom(format!("corrupt revision of {}: {e}", s.uai)))?;
        for (field, before) in changes.unwrap_or_default() {
            if let Some(StoredValue(value, pid)) = before {
                history.push((field, value, pid, r.version));
            }
        }
    }
    let history_provs = provenance::describe(db, history.iter().map(|h| h.2)).await?;
    let history = history
        .into_iter()
        .map(|(field, value, pid, version)| HistoryEntry {
            field,
            value,
            provenance: history_provs.get(&pid).cloned(),
            replaced_in_version: version,
        })
        .collect();
    let observations: Vec<ObservationView> = observation::Entity::find()
        .filter(observation::Column::Uai.eq(uai.as_str()))
        .order_by_asc(observation::Column::Source)
        .order_by_asc(observation::Column::Millesime)
        .all(db)
        .await?
        .into_iter()
        .map(|o| {
            let values: BTreeMap<String, Value> = serde_json::from_str(&o.data).unwrap_or_default();
            let all_raw: BTreeMap<String, String> = o
                .raw
                .as_deref()
                .and_then(|r| serde_json::from_str(r).ok())
                .unwrap_or_default();
            let (raw, unrecognised) = all_raw
                .into_iter()
                .partition(|(field, _)| values.contains_key(field));
            ObservationView {
                source: o.source,
                millesime: (!o.millesime.is_empty()).then_some(o.millesime),
                import_id: o.import_id,
                values,
                raw,
                unrecognised,
            }
        })
        .collect();
    // A published value's spelling is its observation's: same source and millésime.
    for (field, value) in themes.values_mut().flat_map(|t| t.iter_mut()) {
        let Some(p) = &value.provenance else {
            continue;
        };
        value.raw = observations
            .iter()
            .find(|o| o.source == p.source && o.millesime == p.millesime)
            .and_then(|o| o.raw.get(*field).cloned());
    }
    let annuaire = annuaire_status(&record, &provs);
    Ok(Some(SchoolDetail {
        uai: s.uai,
        name: s.name,
        version: s.version,
        created_version: s.created_version,
        annuaire,
        themes,
        history,
        other_observations: observations,
        completeness,
    }))
}

fn annuaire_status(
    record: &SchoolRecord,
    provs: &std::collections::HashMap<crate::domain::record::ProvenanceId, ProvenanceView>,
) -> AnnuaireStatus {
    let stored = record.0.get("presence_annuaire");
    let presence = stored.and_then(|v| v.0.as_str()).map(str::to_owned);
    let prov = stored.and_then(|v| provs.get(&v.1));
    let import_id = prov.and_then(|p| p.import.as_ref().map(|i| i.id));
    let as_of = prov.and_then(|p| p.millesime.clone());
    let counted = crate::domain::completeness::is_counted(presence.as_deref(), record.str("etat"));
    let import = import_id.map_or_else(String::new, |id| format!("l'import {id}"));
    let date = as_of
        .as_deref()
        .map_or_else(String::new, |d| format!(", annuaire au {d}"));
    let message = match presence.as_deref() {
        Some("present") if counted => format!(
            "figure dans l'annuaire de l'éducation (depuis {import}{date})"
        ),
        Some("present") => format!(
            "figure dans l'annuaire de l'éducation (depuis {import}{date}), mais n'est pas ouvert : hors complétude"
        ),
        Some(_) => format!(
            "absent de l'annuaire depuis {import}{date} : conservé avec ses valeurs et leur provenance, hors complétude, listes et exports par défaut (include=absent pour l'y voir)"
        ),
        None => "ne figure dans aucun import de l'annuaire de l'éducation (connu d'une autre source seulement) : hors complétude, listes et exports par défaut (include=absent pour l'y voir)".to_owned(),
    };
    AnnuaireStatus {
        presence,
        import_id,
        as_of,
        counted,
        message,
    }
}

/// The names of schools by UAI (the unknown ones left out), read a chunk at a time so that a
/// national file's UAIs stay within the databases' limits on bound parameters.
pub async fn names<C: ConnectionTrait>(
    db: &C,
    uais: impl IntoIterator<Item = String>,
) -> Result<std::collections::HashMap<String, String>, DbErr> {
    let uais: std::collections::BTreeSet<String> = uais.into_iter().collect();
    let uais: Vec<String> = uais.into_iter().collect();
    let mut out = std::collections::HashMap::with_capacity(uais.len());
    for chunk in uais.chunks(500) {
        let rows: Vec<(String, String)> = crate::entities::school::Entity::find()
            .select_only()
            .column(crate::entities::school::Column::Uai)
            .column(crate::entities::school::Column::Name)
            .filter(crate::entities::school::Column::Uai.is_in(chunk.iter().cloned()))
            .into_tuple()
            .all(db)
            .await?;
        out.extend(rows);
    }
    Ok(out)
}
