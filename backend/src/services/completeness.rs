//! Completeness of a territory, computed from the published records of its schools: filled /
//! expected values by field, theme, school type and secteur, each with its counts so that
//! anyone can check the rate.

use std::collections::BTreeMap;

use sea_orm::{ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect};
use serde::{Deserialize, Serialize};

use crate::{
    domain::{
        catalog::Catalog,
        completeness::{SchoolKind, Score, is_expected, is_filled},
        record::SchoolRecord,
        territory::Level,
    },
    entities::{commune, school},
    error::{AppError, AppResult},
    services::datasets,
};

#[derive(Debug, Default, Clone, Deserialize, Serialize)]
pub struct Filter {
    pub theme: Option<String>,
    pub field: Option<String>,
    /// `type_etablissement`: ecole, college, lycee, erea, autre.
    #[serde(rename = "type")]
    pub school_type: Option<String>,
    pub secteur: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct FieldScore {
    pub field: &'static str,
    pub theme: &'static str,
    #[serde(flatten)]
    pub score: Score,
}

#[derive(Debug, Serialize)]
pub struct TerritoryCompleteness {
    pub level: &'static str,
    pub code: String,
    /// The dataset version the scores are computed on.
    pub version: Option<i32>,
    pub filter: Filter,
    pub schools: u64,
    pub total: Score,
    pub by_theme: BTreeMap<&'static str, Score>,
    pub by_type: BTreeMap<String, Score>,
    pub by_secteur: BTreeMap<String, Score>,
    pub by_field: Vec<FieldScore>,
}

fn add(score: &mut Score, filled: bool) {
    score.expected += 1;
    if filled {
        score.filled += 1;
    }
    score.rate = Some(f64::from(score.filled) / f64::from(score.expected));
}

/// The schools of a territory (its code already normalised).
async fn schools_in<C: ConnectionTrait>(
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
            // A commune's municipal arrondissements, or an EPCI's member communes.
            let column = if level == Level::Commune {
                commune::Column::ParentCode
            } else {
                commune::Column::EpciSiren
            };
            let codes: Vec<String> = commune::Entity::find()
                .select_only()
                .column(commune::Column::Code)
                .filter(column.eq(code))
                .into_tuple()
                .all(db)
                .await?;
            let mut cond = Condition::any().add(school::Column::CodeCommune.is_in(codes));
            if level == Level::Commune {
                cond = cond.add(school::Column::CodeCommune.eq(code));
            }
            q.filter(cond)
        }
    };
    Ok(q.into_tuple().all(db).await?)
}

pub async fn territory<C: ConnectionTrait>(
    db: &C,
    level: Level,
    code: &str,
    filter: Filter,
) -> AppResult<TerritoryCompleteness> {
    let catalog = Catalog::get();
    if let Some(f) = &filter.field
        && catalog.field(f).is_none()
    {
        return Err(AppError::bad_request(
            "field",
            format!("champ inconnu « {f} » : voir GET /api/v1/fields"),
        ));
    }
    let uais = schools_in(db, level, code).await?;
    let fields: Vec<_> = catalog
        .fields()
        .iter()
        .filter(|f| filter.field.as_deref().is_none_or(|x| x == f.name))
        .filter(|f| filter.theme.as_deref().is_none_or(|t| t == f.theme.code()))
        .collect();
    let mut out = TerritoryCompleteness {
        level: level.as_str(),
        code: code.to_owned(),
        version: datasets::latest_version(db).await?,
        filter: filter.clone(),
        schools: 0,
        total: Score::default(),
        by_theme: BTreeMap::new(),
        by_type: BTreeMap::new(),
        by_secteur: BTreeMap::new(),
        by_field: Vec::new(),
    };
    let mut by_field: Vec<Score> = vec![Score::default(); fields.len()];
    for chunk in uais.chunks(500) {
        let records = datasets::current_records(db, chunk.iter().cloned()).await?;
        for r in records.values() {
            let record: SchoolRecord = serde_json::from_str(&r.data).map_err(AppError::internal)?;
            let kind = SchoolKind::of(&record);
            let school_type = kind.school_type.unwrap_or("autre").to_owned();
            let secteur = kind.secteur.unwrap_or("inconnu").to_owned();
            if filter
                .school_type
                .as_ref()
                .is_some_and(|t| *t != school_type)
                || filter.secteur.as_ref().is_some_and(|s| *s != secteur)
            {
                continue;
            }
            out.schools += 1;
            for (i, f) in fields.iter().enumerate() {
                if !is_expected(f, kind) {
                    continue;
                }
                let filled = is_filled(&record, f);
                add(&mut by_field[i], filled);
                add(&mut out.total, filled);
                add(out.by_theme.entry(f.theme.code()).or_default(), filled);
                add(out.by_type.entry(school_type.clone()).or_default(), filled);
                add(out.by_secteur.entry(secteur.clone()).or_default(), filled);
            }
        }
    }
    out.by_field = fields
        .iter()
        .zip(by_field)
        .filter(|(_, s)| s.expected > 0)
        .map(|(f, score)| FieldScore {
            field: f.name,
            theme: f.theme.code(),
            score,
        })
        .collect();
    Ok(out)
}

/// The scores by field as CSV (`;`, UTF-8): field, theme, filled, expected, rate.
pub fn to_csv(t: &TerritoryCompleteness) -> String {
    let mut out = String::from("champ;theme;renseignes;attendus;taux\n");
    for f in &t.by_field {
        out.push_str(&format!(
            "{};{};{};{};{}\n",
            f.field,
            f.theme,
            f.score.filled,
            f.score.expected,
            f.score.rate.map(|r| format!("{r:.4}")).unwrap_or_default()
        ));
    }
    out
}
