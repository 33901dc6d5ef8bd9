//! Organisations and their competence as data: seeded from `reference/organisations.csv` and
//! `competences.csv` (the general rule and its special cases), communes and EPCIs created from
//! the territory reference when someone of theirs first appears, overrides and delegations
//! added by admins.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder, Set, TransactionTrait,
};
use serde::Serialize;
use serde_json::json;

use crate::{
    domain::{
        competence::{CompetenceLine, Effect, Level, Origin, TerritoryRef},
        territory::Siren,
    },
    entities::{commune, competence, epci, organisation},
    error::{AppError, AppResult},
    services::audit,
};

const SEED_ORGANISATIONS: &str = include_str!("../../reference/organisations.csv");
const SEED_COMPETENCES: &str = include_str!("../../reference/competences.csv");

pub const KINDS: [&str; 6] = [
    "commune",
    "epci",
    "departement",
    "region",
    "collectivite-statut-particulier",
    "academie",
];

pub const SCHOOL_TYPES: [&str; 5] = ["ecole", "college", "lycee", "erea", "autre"];

/// Loads the seeded organisations into a database that has none. Returns how many.
pub async fn ensure_seeded(db: &DatabaseConnection) -> Result<Option<usize>, AppError> {
    if organisation::Entity::find().count(db).await? > 0 {
        return Ok(None);
    }
    let now = Utc::now();
    let txn = db.begin().await?;
    let mut ids: HashMap<String, i64> = HashMap::new();
    for (i, line) in SEED_ORGANISATIONS.lines().enumerate().skip(1) {
        let f: Vec<&str> = line.split(';').collect();
        let [key, siren, kind, name, territory] = f[..] else {
            return Err(AppError::internal(format!(
                "organisations.csv ligne {} : 5 colonnes attendues",
                i + 1
            )));
        };
        let territory: TerritoryRef = territory.parse().map_err(AppError::internal)?;
        let m = organisation::ActiveModel {
            siren: Set((!siren.is_empty()).then(|| siren.to_owned())),
            kind: Set(kind.to_owned()),
            name: Set(name.to_owned()),
            territory_level: Set(territory.level.as_str().to_owned()),
            territory_code: Set(territory.code.clone()),
            school_competence: Set(false),
            created_at: Set(now),
            ..Default::default()
        }
        .insert(&txn)
        .await?;
        ids.insert(key.to_owned(), m.id);
    }
    let mut csv = csv::ReaderBuilder::new()
        .delimiter(b';')
        .from_reader(SEED_COMPETENCES.as_bytes());
    for (i, row) in csv.records().enumerate() {
        let row = row.map_err(AppError::internal)?;
        let get = |n: usize| row.get(n).unwrap_or("").to_owned();
        let org = *ids.get(&get(0)).ok_or_else(|| {
            AppError::internal(format!(
                "competences.csv ligne {} : organisation inconnue {}",
                i + 2,
                get(0)
            ))
        })?;
        let territory: TerritoryRef = get(4).parse().map_err(AppError::internal)?;
        competence::ActiveModel {
            organisation_id: Set(org),
            effect: Set(get(1)),
            school_types: Set(get(2)),
            secteur: Set(Some(get(3)).filter(|s| !s.is_empty())),
            territory_level: Set(territory.level.as_str().to_owned()),
            territory_code: Set(territory.code),
            origin: Set("rule".into()),
            reason: Set(get(5)),
            created_at: Set(now),
            ..Default::default()
        }
        .insert(&txn)
        .await?;
    }
    txn.commit().await?;
    Ok(Some(ids.len()))
}

/// The organisation of a SIREN (or of the SIREN at the start of a SIRET): a known one, or a
/// commune or EPCI of the territory reference, created now with its general-rule competence.
pub async fn by_siren(
    db: &DatabaseConnection,
    siren_or_siret: &str,
) -> AppResult<Option<organisation::Model>> {
    match find_or_create_by_siren(db, siren_or_siret).await {
        Ok(found) => Ok(found),
        // Two people of one commune signing in at once: the unique SIREN let one create it.
        Err(AppError::Db(e)) => {
            let digits: String = siren_or_siret
                .chars()
                .filter(|c| c.is_ascii_digit())
                .collect();
            match organisation::Entity::find()
                .filter(organisation::Column::Siren.eq(digits.get(..9).unwrap_or("")))
                .one(db)
                .await?
            {
                Some(org) => Ok(Some(org)),
                None => Err(AppError::Db(e)),
            }
        }
        Err(e) => Err(e),
    }
}

async fn find_or_create_by_siren(
    db: &DatabaseConnection,
    siren_or_siret: &str,
) -> AppResult<Option<organisation::Model>> {
    let digits: String = siren_or_siret
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    let Some(siren) = digits.get(..9).and_then(|s| Siren::parse(s).ok()) else {
        return Ok(None);
    };
    let siren = siren.as_str().to_owned();
    if let Some(org) = organisation::Entity::find()
        .filter(organisation::Column::Siren.eq(&siren))
        .one(db)
        .await?
    {
        return Ok(Some(org));
    }
    let now = Utc::now();
    if let Some(c) = commune::Entity::find()
        .filter(commune::Column::Siren.eq(&siren))
        .one(db)
        .await?
    {
        let txn = db.begin().await?;
        let org = organisation::ActiveModel {
            siren: Set(Some(siren)),
            kind: Set("commune".into()),
            name: Set(format!("Commune de {}", c.name)),
            territory_level: Set("commune".into()),
            territory_code: Set(c.code.clone()),
            school_competence: Set(true),
            created_at: Set(now),
            ..Default::default()
        }
        .insert(&txn)
        .await?;
        insert_line(
            &txn,
            org.id,
            NewCompetence {
                effect: Effect::Grant,
                school_types: vec!["ecole".into()],
                secteur: Some("public".into()),
                territory: TerritoryRef::new(Level::Commune, c.code),
                origin: Origin::Rule,
                delegated_by: None,
                valid_from: None,
                valid_until: None,
                reason: "règle générale : écoles publiques de la commune".into(),
            },
            None,
        )
        .await?;
        txn.commit().await?;
        return Ok(Some(org));
    }
    if let Some(e) = epci::Entity::find_by_id(siren.clone()).one(db).await? {
        // The school competence of an EPCI is not in the reference: an admin sets it.
        let org = organisation::ActiveModel {
            siren: Set(Some(siren)),
            kind: Set("epci".into()),
            name: Set(e.name),
            territory_level: Set("epci".into()),
            territory_code: Set(e.siren),
            school_competence: Set(false),
            created_at: Set(now),
            ..Default::default()
        }
        .insert(db)
        .await?;
        return Ok(Some(org));
    }
    Ok(None)
}

pub async fn by_id<C: ConnectionTrait>(db: &C, id: i64) -> AppResult<organisation::Model> {
    organisation::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("organisation {id} inconnue")))
}

/// An organisation named by id, by SIREN or SIRET, or by the territory it is named after
/// (`departement:69`, `academie:11`).
pub async fn resolve(db: &DatabaseConnection, name: &str) -> AppResult<organisation::Model> {
    let name = name.trim();
    if name.len() < 9
        && let Ok(id) = name.parse::<i64>()
    {
        return by_id(db, id).await;
    }
    if let Some(org) = by_siren(db, name).await? {
        return Ok(org);
    }
    if let Ok(t) = name.parse::<TerritoryRef>()
        && let Some(org) = organisation::Entity::find()
            .filter(organisation::Column::TerritoryLevel.eq(t.level.as_str()))
            .filter(organisation::Column::TerritoryCode.eq(t.code))
            .order_by_asc(organisation::Column::Id)
            .one(db)
            .await?
    {
        return Ok(org);
    }
    Err(AppError::NotFound(format!(
        "organisation « {name} » inconnue : attendu un identifiant, un SIREN connu (ou celui \
         d'une commune ou d'un EPCI) ou le territoire qui la nomme (departement:34, academie:11)"
    )))
}

#[derive(Debug, Clone)]
pub struct NewCompetence {
    pub effect: Effect,
    pub school_types: Vec<String>,
    pub secteur: Option<String>,
    pub territory: TerritoryRef,
    pub origin: Origin,
    pub delegated_by: Option<i64>,
    pub valid_from: Option<DateTime<Utc>>,
    pub valid_until: Option<DateTime<Utc>>,
    pub reason: String,
}

impl NewCompetence {
    /// Checks what a person typed: every problem at once, each naming its field.
    pub fn check(&self) -> AppResult<()> {
        let mut violations = Vec::new();
        if self.school_types.is_empty() {
            violations.push((
                "school_types",
                "au moins un type d'établissement".to_owned(),
            ));
        }
        for t in &self.school_types {
            if !SCHOOL_TYPES.contains(&t.as_str()) {
                violations.push((
                    "school_types",
                    format!("« {t} » : attendu ecole, college, lycee, erea ou autre"),
                ));
            }
        }
        if let Some(s) = &self.secteur
            && s != "public"
            && s != "prive"
        {
            violations.push(("secteur", format!("« {s} » : attendu public ou prive")));
        }
        if let (Some(from), Some(until)) = (self.valid_from, self.valid_until)
            && until <= from
        {
            violations.push(("valid_until", "la fin doit suivre le début".to_owned()));
        }
        if self.origin == Origin::Delegation && self.delegated_by.is_none() {
            violations.push((
                "delegated_by",
                "une délégation nomme l'organisation qui délègue".to_owned(),
            ));
        }
        if self.reason.trim().is_empty() {
            violations.push((
                "reason",
                "une raison, montrée aux personnes concernées".into(),
            ));
        }
        if violations.is_empty() {
            return Ok(());
        }
        Err(AppError::BadRequest {
            title: format!("{} champ(s) invalide(s)", violations.len()),
            violations: violations
                .into_iter()
                .map(|(p, d)| crate::error::Violation {
                    pointer: p.into(),
                    detail: d,
                })
                .collect(),
        })
    }
}

async fn insert_line<C: ConnectionTrait>(
    db: &C,
    organisation_id: i64,
    c: NewCompetence,
    created_by: Option<i64>,
) -> AppResult<competence::Model> {
    Ok(competence::ActiveModel {
        organisation_id: Set(organisation_id),
        effect: Set(match c.effect {
            Effect::Grant => "grant".into(),
            Effect::Exclude => "exclude".into(),
        }),
        school_types: Set(c.school_types.join(",")),
        secteur: Set(c.secteur),
        territory_level: Set(c.territory.level.as_str().to_owned()),
        territory_code: Set(c.territory.code),
        origin: Set(origin_str(c.origin).into()),
        delegated_by: Set(c.delegated_by),
        valid_from: Set(c.valid_from),
        valid_until: Set(c.valid_until),
        reason: Set(c.reason),
        created_at: Set(Utc::now()),
        created_by: Set(created_by),
        ..Default::default()
    }
    .insert(db)
    .await?)
}

fn origin_str(o: Origin) -> &'static str {
    match o {
        Origin::Rule => "rule",
        Origin::Override => "override",
        Origin::Delegation => "delegation",
    }
}

/// Adds a line to an organisation's competence. A delegation must come from an organisation
/// that itself holds the competence it hands over, on the day it starts.
pub async fn add_competence(
    db: &DatabaseConnection,
    ctx: &audit::Context,
    organisation_id: i64,
    c: NewCompetence,
) -> AppResult<competence::Model> {
    c.check()?;
    let org = by_id(db, organisation_id).await?;
    known_territory(db, &c.territory).await?;
    if let Some(from) = c.delegated_by {
        let delegator = by_id(db, from).await?;
        let theirs = lines(db, from).await?;
        let covered = theirs.iter().any(|l| {
            l.effect == Effect::Grant
                && c.school_types.iter().all(|t| l.school_types.contains(t))
                && (l.secteur.is_none() || l.secteur == c.secteur)
                && territory_within(&c.territory, &l.territory)
        });
        if !covered {
            return Err(AppError::bad_request(
                "territory",
                format!(
                    "{} ne détient pas la compétence qu'elle déléguerait ({} sur {})",
                    delegator.name,
                    c.school_types.join(", "),
                    c.territory
                ),
            ));
        }
    }
    let txn = db.begin().await?;
    let detail = json!({
        "organisation": org.name,
        "effect": format!("{:?}", c.effect).to_lowercase(),
        "school_types": c.school_types,
        "secteur": c.secteur,
        "territory": c.territory.to_string(),
        "origin": origin_str(c.origin),
        "delegated_by": c.delegated_by,
        "valid_from": c.valid_from,
        "valid_until": c.valid_until,
        "reason": c.reason,
    });
    let line = insert_line(&txn, organisation_id, c, ctx.actor).await?;
    audit::record(
        &txn,
        ctx,
        "competence.added",
        Some(format!("organisation:{organisation_id}")),
        json!({"line": line.id, "detail": detail}),
    )
    .await?;
    txn.commit().await?;
    Ok(line)
}

/// Whether `inner` is `outer` or named inside it in a way the reference alone tells (the same
/// territory, or anything inside national). Finer nesting is checked by the delegator's line
/// naming the same territory.
fn territory_within(inner: &TerritoryRef, outer: &TerritoryRef) -> bool {
    outer.level == Level::National || inner == outer
}

pub async fn remove_competence(
    db: &DatabaseConnection,
    ctx: &audit::Context,
    id: i64,
) -> AppResult<competence::Model> {
    let line = competence::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("ligne de compétence {id} inconnue")))?;
    let txn = db.begin().await?;
    competence::Entity::delete_by_id(id).exec(&txn).await?;
    audit::record(
        &txn,
        ctx,
        "competence.removed",
        Some(format!("organisation:{}", line.organisation_id)),
        json!({"line": id, "school_types": line.school_types, "territory":
            format!("{}:{}", line.territory_level, line.territory_code), "origin": line.origin}),
    )
    .await?;
    txn.commit().await?;
    Ok(line)
}

/// Records whether an EPCI holds the school competence: its écoles' line comes and goes
/// with the flag.
pub async fn set_school_competence(
    db: &DatabaseConnection,
    ctx: &audit::Context,
    organisation_id: i64,
    holds: bool,
) -> AppResult<organisation::Model> {
    let org = by_id(db, organisation_id).await?;
    if org.kind != "epci" {
        return Err(AppError::bad_request(
            "school_competence",
            format!("{} n'est pas un EPCI", org.name),
        ));
    }
    let txn = db.begin().await?;
    competence::Entity::delete_many()
        .filter(competence::Column::OrganisationId.eq(org.id))
        .filter(competence::Column::Origin.eq("rule"))
        .exec(&txn)
        .await?;
    if holds {
        insert_line(
            &txn,
            org.id,
            NewCompetence {
                effect: Effect::Grant,
                school_types: vec!["ecole".into()],
                secteur: Some("public".into()),
                territory: TerritoryRef::new(Level::Epci, org.territory_code.clone()),
                origin: Origin::Rule,
                delegated_by: None,
                valid_from: None,
                valid_until: None,
                reason: "l'EPCI exerce la compétence scolaire : écoles publiques de ses communes"
                    .into(),
            },
            ctx.actor,
        )
        .await?;
    }
    let mut m: organisation::ActiveModel = org.into();
    m.school_competence = Set(holds);
    let org = m.update(&txn).await?;
    audit::record(
        &txn,
        ctx,
        "organisation.school-competence-set",
        Some(format!("organisation:{}", org.id)),
        json!({"organisation": org.name, "school_competence": holds}),
    )
    .await?;
    txn.commit().await?;
    Ok(org)
}

pub async fn set_siren<C: ConnectionTrait>(
    db: &C,
    organisation_id: i64,
    siren: &str,
) -> AppResult<organisation::Model> {
    let siren = Siren::parse(siren)
        .map_err(|e| AppError::bad_request("siren", e.to_string()))?
        .as_str()
        .to_owned();
    if let Some(other) = organisation::Entity::find()
        .filter(organisation::Column::Siren.eq(&siren))
        .one(db)
        .await?
        && other.id != organisation_id
    {
        return Err(AppError::Conflict(format!(
            "le SIREN {siren} est déjà celui de {}",
            other.name
        )));
    }
    let mut m: organisation::ActiveModel = by_id(db, organisation_id).await?.into();
    m.siren = Set(Some(siren));
    Ok(m.update(db).await?)
}

/// A territory of the reference, or a 400 saying how to write one.
async fn known_territory<C: ConnectionTrait>(db: &C, territory: &TerritoryRef) -> AppResult<()> {
    let level = crate::domain::territory::Level::parse(territory.level.as_str())
        .map_err(AppError::internal)?;
    if crate::services::territories::exists(db, level, &territory.code).await? {
        return Ok(());
    }
    Err(AppError::bad_request(
        "territory",
        format!(
            "le territoire « {territory} » n'est pas dans le référentiel : écrivez NIVEAU:CODE avec le code officiel, par exemple commune:35360, epci:243500139 ou departement:35"
        ),
    ))
}

pub async fn create<C: ConnectionTrait>(
    db: &C,
    ctx: &audit::Context,
    siren: Option<&str>,
    kind: &str,
    name: &str,
    territory: &TerritoryRef,
) -> AppResult<organisation::Model> {
    if !KINDS.contains(&kind) {
        return Err(AppError::bad_request(
            "kind",
            format!("« {kind} » : attendu {}", KINDS.join(", ")),
        ));
    }
    if name.trim().is_empty() {
        return Err(AppError::bad_request("name", "le nom est obligatoire"));
    }
    known_territory(db, territory).await?;
    let siren = match siren {
        Some(s) => Some(
            Siren::parse(s)
                .map_err(|e| AppError::bad_request("siren", e.to_string()))?
                .as_str()
                .to_owned(),
        ),
        None => None,
    };
    if let Some(s) = &siren
        && organisation::Entity::find()
            .filter(organisation::Column::Siren.eq(s))
            .count(db)
            .await?
            > 0
    {
        return Err(AppError::Conflict(format!(
            "le SIREN {s} est déjà enregistré"
        )));
    }
    let org = organisation::ActiveModel {
        siren: Set(siren),
        kind: Set(kind.to_owned()),
        name: Set(name.trim().to_owned()),
        territory_level: Set(territory.level.as_str().to_owned()),
        territory_code: Set(territory.code.clone()),
        school_competence: Set(false),
        created_at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(db)
    .await?;
    audit::record(
        db,
        ctx,
        "organisation.created",
        Some(format!("organisation:{}", org.id)),
        json!({"name": org.name, "siren": org.siren, "kind": org.kind}),
    )
    .await?;
    Ok(org)
}

/// What an admin changes of an organisation's identity: its SIREN, and for an EPCI whether it
/// holds the school competence. Only what differs from what is stored is changed (and
/// audited); the words say what was done, for the page.
pub async fn update_identity(
    db: &DatabaseConnection,
    ctx: &audit::Context,
    organisation_id: i64,
    siren: Option<&str>,
    school_competence: Option<bool>,
) -> AppResult<Vec<String>> {
    let org = by_id(db, organisation_id).await?;
    let mut done = Vec::new();
    if let Some(s) = siren.filter(|s| Some(s.trim()) != org.siren.as_deref()) {
        let o = record_siren(db, ctx, organisation_id, s).await?;
        done.push(format!("SIREN {}", o.siren.unwrap_or_default()));
    }
    if let Some(holds) = school_competence.filter(|h| *h != org.school_competence) {
        set_school_competence(db, ctx, organisation_id, holds).await?;
        done.push(if holds {
            "compétence scolaire exercée par l'EPCI".to_owned()
        } else {
            "compétence scolaire laissée aux communes".to_owned()
        });
    }
    Ok(done)
}

/// An admin sets the SIREN an organisation is recognised by.
pub async fn record_siren(
    db: &DatabaseConnection,
    ctx: &audit::Context,
    organisation_id: i64,
    siren: &str,
) -> AppResult<organisation::Model> {
    let txn = db.begin().await?;
    let org = set_siren(&txn, organisation_id, siren).await?;
    audit::record(
        &txn,
        ctx,
        "organisation.siren-set",
        Some(format!("organisation:{}", org.id)),
        json!({"organisation": org.name, "siren": org.siren}),
    )
    .await?;
    txn.commit().await?;
    Ok(org)
}

/// The competence of an organisation, as the decision reads it.
pub async fn lines<C: ConnectionTrait>(
    db: &C,
    organisation_id: i64,
) -> AppResult<Vec<CompetenceLine>> {
    let rows = competence::Entity::find()
        .filter(competence::Column::OrganisationId.eq(organisation_id))
        .order_by_asc(competence::Column::Id)
        .all(db)
        .await?;
    let delegators: Vec<i64> = rows.iter().filter_map(|r| r.delegated_by).collect();
    let names: HashMap<i64, String> = if delegators.is_empty() {
        HashMap::new()
    } else {
        organisation::Entity::find()
            .filter(organisation::Column::Id.is_in(delegators))
            .all(db)
            .await?
            .into_iter()
            .map(|o| (o.id, o.name))
            .collect()
    };
    rows.into_iter()
        .map(|r| {
            let level: Level = r.territory_level.parse().map_err(AppError::internal)?;
            Ok(CompetenceLine {
                id: r.id,
                effect: if r.effect == "exclude" {
                    Effect::Exclude
                } else {
                    Effect::Grant
                },
                school_types: r.school_types.split(',').map(str::to_owned).collect(),
                secteur: r.secteur,
                territory: TerritoryRef::new(level, r.territory_code),
                origin: match r.origin.as_str() {
                    "override" => Origin::Override,
                    "delegation" => Origin::Delegation,
                    _ => Origin::Rule,
                },
                delegated_by: r.delegated_by.and_then(|d| names.get(&d).cloned()),
                valid_from: r.valid_from,
                valid_until: r.valid_until,
                reason: r.reason,
            })
        })
        .collect()
}

#[derive(Debug, Serialize)]
pub struct OrganisationView {
    pub id: i64,
    pub siren: Option<String>,
    pub kind: String,
    pub name: String,
    pub territory: String,
    pub school_competence: bool,
    pub competence: Vec<CompetenceLine>,
}

pub async fn view<C: ConnectionTrait>(db: &C, id: i64) -> AppResult<OrganisationView> {
    let org = by_id(db, id).await?;
    Ok(OrganisationView {
        competence: lines(db, id).await?,
        id: org.id,
        siren: org.siren,
        kind: org.kind,
        name: org.name,
        territory: TerritoryRef::new(
            org.territory_level.parse().map_err(AppError::internal)?,
            org.territory_code,
        )
        .to_string(),
        school_competence: org.school_competence,
    })
}

pub async fn list<C: ConnectionTrait>(db: &C) -> AppResult<Vec<organisation::Model>> {
    Ok(organisation::Entity::find()
        .order_by_asc(organisation::Column::Name)
        .all(db)
        .await?)
}

/// The lines other organisations hold by delegation of this one: `(their id, their name,
/// the line)`, oldest first.
pub async fn delegations_given<C: ConnectionTrait>(
    db: &C,
    organisation_id: i64,
) -> AppResult<Vec<(i64, String, CompetenceLine)>> {
    let rows = competence::Entity::find()
        .filter(competence::Column::DelegatedBy.eq(organisation_id))
        .order_by_asc(competence::Column::Id)
        .all(db)
        .await?;
    let mut holders: Vec<i64> = rows.iter().map(|r| r.organisation_id).collect();
    holders.sort_unstable();
    holders.dedup();
    let mut out = Vec::new();
    for holder in holders {
        let org = by_id(db, holder).await?;
        for line in lines(db, holder).await? {
            if rows.iter().any(|r| r.id == line.id) {
                out.push((org.id, org.name.clone(), line));
            }
        }
    }
    out.sort_by_key(|(_, _, l)| l.id);
    Ok(out)
}
