//! A territory's completeness, quality and indicators as readers get them: from the scores
//! job's stored runs (current or at a date or dataset version), or computed from the records
//! where nothing is stored. Every rate comes with the counts it is made of.

use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    QuerySelect,
};
use serde::Serialize;

use crate::{
    config::ScoresConfig,
    domain::{
        scores::{self, CompletenessView, Cube, IndicatorsView, QualityView},
        territory::Level,
    },
    entities::{commune, school},
    error::{AppError, AppResult},
    services::scores::{At, Basis, scores_of},
};

pub use crate::domain::scores::Filter;

/// The schools of a territory (its code already normalised).
pub async fn schools_in<C: ConnectionTrait>(
    db: &C,
    level: Level,
    code: &str,
) -> AppResult<Vec<String>> {
    let mut q = school::Entity::find()
        .select_only()
        .column(school::Column::Uai);
    q = match level {
        Level::National => q,
        Level::Region => q.filter(school::Column::CodeRegion.eq(code)),
        Level::Academie => q.filter(school::Column::CodeAcademie.eq(code)),
        Level::Departement => q.filter(school::Column::CodeDepartement.eq(code)),
        Level::Commune | Level::Epci => {
            // A commune's municipal arrondissements, or an EPCI's member communes (and their
            // arrondissements).
            let codes: Vec<String> = if level == Level::Commune {
                commune::Entity::find()
                    .select_only()
                    .column(commune::Column::Code)
                    .filter(commune::Column::ParentCode.eq(code))
                    .into_tuple()
                    .all(db)
                    .await?
            } else {
                let members: Vec<String> = commune::Entity::find()
                    .select_only()
                    .column(commune::Column::Code)
                    .filter(commune::Column::EpciSiren.eq(code))
                    .into_tuple()
                    .all(db)
                    .await?;
                let arrondissements: Vec<String> = commune::Entity::find()
                    .select_only()
                    .column(commune::Column::Code)
                    .filter(commune::Column::ParentCode.is_in(members.clone()))
                    .into_tuple()
                    .all(db)
                    .await?;
                members.into_iter().chain(arrondissements).collect()
            };
            let mut cond = Condition::any();
            for chunk in codes.chunks(500) {
                cond = cond.add(school::Column::CodeCommune.is_in(chunk.iter().cloned()));
            }
            if level == Level::Commune {
                cond = cond.add(school::Column::CodeCommune.eq(code));
            }
            q.filter(cond)
        }
    };
    Ok(q.into_tuple().all(db).await?)
}

fn check(filter: &Filter) -> AppResult<()> {
    filter
        .check()
        .map_err(|(param, msg)| AppError::bad_request(param, msg))
}

/// A territory's scores as one view reads them, with where they come from.
#[derive(Debug, Serialize)]
pub struct TerritoryScores<T> {
    pub level: &'static str,
    pub code: String,
    /// The dataset version the scores are computed on.
    pub version: Option<i32>,
    pub basis: Basis,
    pub filter: Filter,
    #[serde(flatten)]
    pub scores: T,
}

/// One view (completeness, quality, indicators) of a territory's counts, once the filter is
/// known to name real themes and fields.
pub async fn view<T>(
    db: &DatabaseConnection,
    cfg: &ScoresConfig,
    (level, code): (Level, &str),
    filter: Filter,
    at: At,
    read: impl FnOnce(&Cube, &Filter) -> T,
) -> AppResult<TerritoryScores<T>> {
    check(&filter)?;
    let (basis, cube) = scores_of(db, cfg, level, code, at).await?;
    Ok(TerritoryScores {
        level: level.as_str(),
        code: code.to_owned(),
        version: basis.dataset_version,
        scores: read(&cube, &filter),
        basis,
        filter,
    })
}

/// One point of a territory's completeness over time.
#[derive(Debug, Serialize)]
pub struct HistoryPoint {
    pub run_id: i64,
    pub computed_at: chrono::DateTime<chrono::Utc>,
    pub dataset_version: Option<i32>,
    pub schools: u32,
    #[serde(flatten)]
    pub total: crate::domain::completeness::Score,
}

#[derive(Debug, Serialize)]
pub struct TerritoryHistory {
    pub level: &'static str,
    pub code: String,
    pub filter: Filter,
    /// `stored`: the scores each run stored; `live` (communes): worked out now from the
    /// records of the dataset version each run computed on, as of that run's day.
    pub source: &'static str,
    /// One point per run that changed the territory's scores, oldest first; between two
    /// points the scores stayed as the earlier one says.
    pub points: Vec<HistoryPoint>,
}

pub async fn history(
    db: &DatabaseConnection,
    cfg: &ScoresConfig,
    level: Level,
    code: &str,
    filter: Filter,
) -> AppResult<TerritoryHistory> {
    check(&filter)?;
    let source = if crate::services::scores::STORED_LEVELS.contains(&level) {
        "stored"
    } else {
        "live"
    };
    let points = crate::services::scores::history(db, cfg, level, code)
        .await?
        .into_iter()
        .map(|p| {
            let view = scores::completeness(&p.cube, &filter);
            HistoryPoint {
                run_id: p.run.id,
                computed_at: p.run.finished_at,
                dataset_version: p.run.dataset_version,
                schools: view.schools,
                total: view.total,
            }
        })
        .collect();
    Ok(TerritoryHistory {
        level: level.as_str(),
        code: code.to_owned(),
        filter,
        source,
        points,
    })
}

fn num(r: Option<f64>) -> String {
    r.map(|r| format!("{r:.4}")).unwrap_or_default()
}

/// The scores by field as CSV (`;`, UTF-8): field, theme, filled, expected, rate.
pub fn to_csv(t: &TerritoryScores<CompletenessView>) -> String {
    let mut out = String::from("champ;theme;renseignes;attendus;taux\n");
    for f in &t.scores.by_field {
        out.push_str(&format!(
            "{};{};{};{};{}\n",
            f.field,
            f.theme,
            f.score.filled,
            f.score.expected,
            num(f.score.rate)
        ));
    }
    out
}

/// Quality by field, then the cross-field rules, as CSV.
pub fn quality_csv(t: &TerritoryScores<QualityView>) -> String {
    let mut out = String::from("champ;theme;presents;invalides;anciens;non_dates\n");
    for f in &t.scores.by_field {
        out.push_str(&format!(
            "{};{};{};{};{};{}\n",
            f.field, f.theme, f.present, f.invalid, f.stale, f.undated
        ));
    }
    out
}

/// The indicators as CSV, one line per indicator and school type (`ensemble` for all).
pub fn indicators_csv(t: &TerritoryScores<IndicatorsView>) -> String {
    let mut out = String::from(
        "indicateur;libelle;type_etablissement;valeur;numerateur;denominateur;repondants;attendus;taux_nc\n",
    );
    for i in &t.scores.indicators {
        let rows = std::iter::once(("ensemble", &i.value))
            .chain(i.by_type.iter().map(|(t, v)| (t.as_str(), v)));
        for (t, v) in rows {
            out.push_str(&format!(
                "{};{};{};{};{};{};{};{};{}\n",
                i.name,
                i.label_fr,
                t,
                num(v.value),
                v.numerator,
                v.denominator,
                v.answered,
                v.expected,
                num(v.nc_rate)
            ));
        }
    }
    out
}

pub fn history_csv(t: &TerritoryHistory) -> String {
    let mut out = String::from("calcul;date;version;etablissements;renseignes;attendus;taux\n");
    for p in &t.points {
        out.push_str(&format!(
            "{};{};{};{};{};{};{}\n",
            p.run_id,
            p.computed_at.to_rfc3339(),
            p.dataset_version.map(|v| v.to_string()).unwrap_or_default(),
            p.schools,
            p.total.filled,
            p.total.expected,
            num(p.total.rate)
        ));
    }
    out
}

/// A school with expected values not communicated.
#[derive(Debug, Serialize)]
pub struct MissingSchool {
    pub uai: String,
    pub name: String,
    #[serde(rename = "type")]
    pub school_type: Option<String>,
    pub secteur: Option<String>,
    pub code_commune: Option<String>,
    pub missing: Vec<&'static str>,
}

#[derive(Debug, Serialize)]
pub struct MissingList {
    pub level: &'static str,
    pub code: String,
    pub filter: Filter,
    /// The organisation whose competence the list is restricted to, when the caller has one.
    pub restricted_to: Option<String>,
    /// Schools with at least one missing value (before `offset` and `limit`).
    pub schools: usize,
    /// Missing values in all.
    pub values: usize,
    pub items: Vec<MissingSchool>,
}

/// The to-do list of a territory: every open school missing an expected value, with the
/// fields it misses. A caller from an organisation gets only the schools it may contribute
/// for; anyone else (any signed-in person may report an error on any school) gets them all.
pub async fn missing(
    db: &DatabaseConnection,
    level: Level,
    code: &str,
    filter: Filter,
    actor: Option<&crate::domain::competence::Actor>,
) -> AppResult<MissingList> {
    use crate::domain::{
        catalog::Catalog,
        competence::{SchemaScope, can_contribute},
        completeness::of_school,
        record::SchoolRecord,
    };
    check(&filter)?;
    let catalog = Catalog::get();
    let restricted = actor
        .filter(|a| a.organisation.is_some() && !a.has(crate::domain::competence::Role::Admin));
    let scope = SchemaScope {
        name: "à compléter".into(),
        school_types: None,
        open_to_beta_testers: false,
    };
    let now = chrono::Utc::now();
    let mut uais = schools_in(db, level, code).await?;
    uais.sort();
    let mut items = Vec::new();
    for chunk in uais.chunks(500) {
        let records = crate::services::datasets::current_records(db, chunk.iter().cloned()).await?;
        let facts =
            crate::services::competence::school_facts_many(db, chunk.iter().cloned()).await?;
        for uai in chunk {
            let (Some(r), Some(f)) = (records.get(uai), facts.get(uai)) else {
                continue;
            };
            let record: SchoolRecord = serde_json::from_str(&r.data).map_err(AppError::internal)?;
            if !crate::domain::completeness::is_counted(
                record.str("presence_annuaire"),
                record.str("etat"),
            ) || filter
                .school_type
                .as_ref()
                .is_some_and(|t| f.type_etablissement.as_ref() != Some(t))
                || filter
                    .secteur
                    .as_ref()
                    .is_some_and(|s| f.secteur.as_ref() != Some(s))
            {
                continue;
            }
            let missing: Vec<&'static str> = of_school(&record)
                .missing
                .into_iter()
                .filter(|m| {
                    catalog.field(m).is_some_and(|field| {
                        filter.field.as_deref().is_none_or(|x| x == field.name)
                            && filter
                                .theme
                                .as_deref()
                                .is_none_or(|t| t == field.theme.code())
                    })
                })
                .collect();
            if missing.is_empty() {
                continue;
            }
            if let Some(actor) = restricted
                && !can_contribute(actor, f, &scope, now).allowed
            {
                continue;
            }
            items.push(MissingSchool {
                uai: uai.clone(),
                name: f.name.clone(),
                school_type: f.type_etablissement.clone(),
                secteur: f.secteur.clone(),
                code_commune: f.commune.clone(),
                missing,
            });
        }
    }
    Ok(MissingList {
        level: level.as_str(),
        code: code.to_owned(),
        filter,
        restricted_to: restricted.and_then(|a| a.organisation.as_ref().map(|o| o.name.clone())),
        schools: items.len(),
        values: items.iter().map(|i| i.missing.len()).sum(),
        items,
    })
}

/// The to-do list as CSV: one line per school and missing field, ready to fill in.
pub fn missing_csv(list: &MissingList) -> String {
    let mut w = csv::WriterBuilder::new()
        .delimiter(b';')
        .from_writer(Vec::new());
    let _ = w.write_record([
        "uai",
        "nom",
        "type_etablissement",
        "secteur",
        "code_commune",
        "champ",
    ]);
    for s in &list.items {
        for m in &s.missing {
            let _ = w.write_record([
                s.uai.as_str(),
                s.name.as_str(),
                s.school_type.as_deref().unwrap_or(""),
                s.secteur.as_deref().unwrap_or(""),
                s.code_commune.as_deref().unwrap_or(""),
                m,
            ]);
        }
    }
    String::from_utf8(w.into_inner().unwrap_or_default()).unwrap_or_default()
}
