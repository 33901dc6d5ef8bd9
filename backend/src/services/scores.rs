//! The scores job and its history: completeness, quality and indicators of every territory,
//! computed from the published records, stored per run and dataset version.
//!
//! Stored: the nation, régions, académies, départements and EPCIs (about 1,500 territories),
//! each only when its scores changed since its previous run, so that a nightly run on an
//! unchanged dataset writes nothing but its run row. Communes (35,000, a few schools each) are
//! computed on request from the records, current or of a dataset version, in milliseconds.

use std::collections::{BTreeSet, HashMap, HashSet};

use chrono::{DateTime, Utc};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Statement, TransactionTrait,
};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::{
    config::ScoresConfig,
    db,
    domain::{
        scores::{self, Context, Cube, Group, ParsedRecord, ProvenanceMap, Values},
        territory::Level,
    },
    entities::{
        commune, dataset_version, provenance, school, school_revision, score_run, territory_score,
    },
    error::{AppError, AppResult},
    services::datasets,
};

/// Schools read per batch: bounds memory whatever the size of the dataset.
const BATCH: u64 = 5_000;

/// The stored levels; communes are computed on request.
pub const STORED_LEVELS: [Level; 5] = [
    Level::National,
    Level::Region,
    Level::Academie,
    Level::Departement,
    Level::Epci,
];

#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    /// The run written, `None` when there was nothing to do.
    pub run_id: Option<i64>,
    pub scope: &'static str,
    pub dataset_version: Option<i32>,
    pub schools: u32,
    pub territories: u32,
    /// Territories whose scores changed.
    pub written: u32,
    /// Why nothing was done, for a touched recompute with nothing to do.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skipped: Option<&'static str>,
}

type Key = (Level, String);

/// Every provenance as (as-of date, from a contribution).
async fn provenance_map<C: ConnectionTrait>(db: &C) -> AppResult<ProvenanceMap> {
    let rows: Vec<(i64, Option<String>, Option<i64>)> = provenance::Entity::find()
        .select_only()
        .columns([
            provenance::Column::Id,
            provenance::Column::Millesime,
            provenance::Column::SubmissionId,
        ])
        .into_tuple()
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .map(|(id, m, s)| {
            // A millésime year stands for its last day, as when values are ranked.
            let as_of = m.map(|m| {
                if m.len() == 4 {
                    format!("{m}-12-31")
                } else {
                    m
                }
            });
            (id, (as_of, s.is_some()))
        })
        .collect())
}

/// Commune → (its parent commune for a municipal arrondissement, its EPCI).
async fn commune_map<C: ConnectionTrait>(
    db: &C,
) -> AppResult<HashMap<String, (Option<String>, Option<String>)>> {
    let rows: Vec<(String, Option<String>, Option<String>)> = commune::Entity::find()
        .select_only()
        .columns([
            commune::Column::Code,
            commune::Column::ParentCode,
            commune::Column::EpciSiren,
        ])
        .into_tuple()
        .all(db)
        .await?;
    let epci_of: HashMap<String, Option<String>> = rows
        .iter()
        .map(|(c, _, e)| (c.clone(), e.clone()))
        .collect();
    Ok(rows
        .into_iter()
        .map(|(code, parent, epci)| {
            // An arrondissement belongs to its city's EPCI.
            let epci = epci.or_else(|| {
                parent
                    .as_ref()
                    .and_then(|p| epci_of.get(p).cloned().flatten())
            });
            (code, (parent, epci))
        })
        .collect())
}

/// The next batch of published records (as stored JSON) of the selected schools after the
/// UAI `after`, and the batch's last UAI; `None` at the end.
async fn fetch_batch<C: ConnectionTrait>(
    db: &C,
    select: &Condition,
    after: Option<&str>,
) -> AppResult<Option<(Vec<String>, String)>> {
    let mut q = school::Entity::find()
        .select_only()
        .columns([school::Column::Uai, school::Column::Version])
        .filter(select.clone())
        .order_by_asc(school::Column::Uai)
        .limit(BATCH);
    if let Some(a) = after {
        q = q.filter(school::Column::Uai.gt(a));
    }
    let keys: Vec<(String, i32)> = q.into_tuple().all(db).await?;
    let Some((last, _)) = keys.last() else {
        return Ok(None);
    };
    let last = last.clone();
    let versions: BTreeSet<i32> = keys.iter().map(|(_, v)| *v).collect();
    let wanted: HashSet<(String, i32)> = keys.into_iter().collect();
    let rows: Vec<(String, i32, String)> = school_revision::Entity::find()
        .select_only()
        .columns([
            school_revision::Column::Uai,
            school_revision::Column::Version,
            school_revision::Column::Data,
        ])
        .filter(school_revision::Column::Uai.is_in(wanted.iter().map(|(u, _)| u.clone())))
        .filter(school_revision::Column::Version.is_in(versions))
        .into_tuple()
        .all(db)
        .await?;
    let data = rows
        .into_iter()
        .filter(|(uai, version, _)| wanted.contains(&(uai.clone(), *version)))
        .map(|(_, _, data)| data)
        .collect();
    Ok(Some((data, last)))
}

/// Parses stored records and scores the open schools among them: `f` gets each one's values,
/// group (type × secteur) and counts. The number of open schools.
fn score_records<'r>(
    rows: impl IntoIterator<Item = &'r str>,
    ctx: &Context<'_>,
    mut f: impl FnMut(&Values<'_>, &str, &Group),
) -> Result<u32, String> {
    let mut n = 0;
    for data in rows {
        let record: ParsedRecord = serde_json::from_str(data).map_err(|e| e.to_string())?;
        let values = record.values();
        if !values.is_open() {
            continue;
        }
        n += 1;
        let g = scores::of_values(&values, ctx);
        f(&values, &scores::group_key(values.kind()), &g);
    }
    Ok(n)
}

/// [`score_records`] over every selected school, batch after batch.
async fn score_schools<C: ConnectionTrait>(
    db: &C,
    select: Condition,
    ctx: &Context<'_>,
    mut f: impl FnMut(&Values<'_>, &str, &Group),
) -> AppResult<u32> {
    let mut after: Option<String> = None;
    let mut n = 0;
    while let Some((rows, last)) = fetch_batch(db, &select, after.as_deref()).await? {
        after = Some(last);
        n += score_records(rows.iter().map(String::as_str), ctx, &mut f)
            .map_err(AppError::internal)?;
    }
    Ok(n)
}

/// Cubes by level, then code: looked up by `&str`, allocated only for a new territory.
type Cubes = HashMap<Level, HashMap<String, Cube>>;

fn add_to(cubes: &mut Cubes, level: Level, code: &str, group: &str, g: &Group) {
    let by_code = cubes.entry(level).or_default();
    let cube = match by_code.get_mut(code) {
        Some(c) => c,
        None => by_code.entry(code.to_owned()).or_default(),
    };
    match cube.groups.get_mut(group) {
        Some(existing) => existing.add(g),
        None => {
            cube.groups.insert(group.to_owned(), g.clone());
        }
    }
}

fn merge(into: &mut Cubes, from: Cubes) {
    for (level, by_code) in from {
        let target = into.entry(level).or_default();
        for (code, cube) in by_code {
            match target.get_mut(&code) {
                Some(c) => c.add(&cube),
                None => {
                    target.insert(code, cube);
                }
            }
        }
    }
}

/// What the computing threads share.
struct Shared {
    provenance: ProvenanceMap,
    communes: HashMap<String, (Option<String>, Option<String>)>,
    stale_before: String,
}

/// Parses and scores a part of a batch on a blocking thread: one partial set of cubes.
fn score_part(shared: &Shared, rows: &[String]) -> Result<(Cubes, u32), String> {
    let ctx = Context {
        provenance: &shared.provenance,
        stale_before: shared.stale_before.clone(),
    };
    let mut cubes = Cubes::new();
    let n = score_records(rows.iter().map(String::as_str), &ctx, |values, group, g| {
        for (level, code) in places(values, &shared.communes) {
            add_to(&mut cubes, level, code, group, g);
        }
    })?;
    Ok((cubes, n))
}

/// The stored territories a school belongs to.
fn places<'a>(
    values: &Values<'a>,
    communes: &'a HashMap<String, (Option<String>, Option<String>)>,
) -> Vec<(Level, &'a str)> {
    let mut out = vec![(Level::National, "FR")];
    for (level, field) in [
        (Level::Region, "code_region"),
        (Level::Academie, "code_academie"),
        (Level::Departement, "code_departement"),
    ] {
        if let Some(code) = values.str(field).filter(|c| !c.is_empty()) {
            out.push((level, code));
        }
    }
    if let Some((_, Some(epci))) = values.str("code_commune").and_then(|c| communes.get(c)) {
        out.push((Level::Epci, epci.as_str()));
    }
    out
}

/// Adds a school to those of its territories of one level that are being recomputed.
fn add_touched(
    cubes: &mut Cubes,
    (only, touched): (Level, &BTreeSet<String>),
    values: &Values<'_>,
    group: &str,
    g: &Group,
    communes: &HashMap<String, (Option<String>, Option<String>)>,
) {
    for (level, code) in places(values, communes) {
        if level == only && touched.contains(code) {
            add_to(cubes, level, code, group, g);
        }
    }
}

fn flatten(cubes: Cubes) -> HashMap<Key, Cube> {
    cubes
        .into_iter()
        .flat_map(|(level, by_code)| by_code.into_iter().map(move |(c, cube)| ((level, c), cube)))
        .collect()
}

fn stale_before(cfg: &ScoresConfig, now: DateTime<Utc>) -> String {
    (now - cfg.stale_after).format("%Y-%m-%d").to_string()
}

/// The latest stored hash of every territory.
async fn latest_hashes<C: ConnectionTrait>(db: &C) -> AppResult<HashMap<Key, String>> {
    let backend = db.get_database_backend();
    let rows = db
        .query_all_raw(Statement::from_string(
            backend,
            "SELECT t.level, t.code, t.hash FROM territory_scores t \
             JOIN (SELECT level, code, MAX(run_id) AS run_id FROM territory_scores \
                   GROUP BY level, code) m \
             ON m.level = t.level AND m.code = t.code AND m.run_id = t.run_id",
        ))
        .await?;
    let mut out = HashMap::new();
    for row in rows {
        let level: String = row.try_get("", "level")?;
        let Ok(level) = Level::parse(&level) else {
            continue;
        };
        out.insert((level, row.try_get("", "code")?), row.try_get("", "hash")?);
    }
    Ok(out)
}

fn hash_of(data: &str) -> String {
    hex::encode(&Sha256::digest(data.as_bytes())[..16])
}

/// Writes a run and the territories whose scores changed, in one transaction: a failure
/// leaves the previous scores as they were.
async fn write_run(
    db: &DatabaseConnection,
    scope: &'static str,
    version: Option<i32>,
    started_at: DateTime<Utc>,
    schools: u32,
    cubes: HashMap<Key, Cube>,
    full: bool,
) -> AppResult<Outcome> {
    let txn = db.begin().await?;
    db::lock_scores(&txn).await?;
    let previous = latest_hashes(&txn).await?;
    let mut changed: Vec<(Key, String, String)> = Vec::new();
    let territories = cubes.len() as u32;
    let mut seen = HashSet::new();
    for (key, cube) in cubes {
        let data = serde_json::to_string(&cube).map_err(AppError::internal)?;
        let hash = hash_of(&data);
        if previous.get(&key) != Some(&hash) {
            changed.push((key.clone(), hash, data));
        }
        seen.insert(key);
    }
    if full {
        // A territory left with no open school: its scores become empty, not stale.
        let empty = serde_json::to_string(&Cube::default()).map_err(AppError::internal)?;
        let empty_hash = hash_of(&empty);
        for (key, hash) in &previous {
            if !seen.contains(key) && *hash != empty_hash {
                changed.push((key.clone(), empty_hash.clone(), empty.clone()));
            }
        }
    }
    let run = score_run::ActiveModel {
        scope: sea_orm::Set(scope.to_owned()),
        dataset_version: sea_orm::Set(version),
        started_at: sea_orm::Set(started_at),
        finished_at: sea_orm::Set(Utc::now()),
        schools: sea_orm::Set(schools as i32),
        territories: sea_orm::Set(territories as i32),
        written: sea_orm::Set(changed.len() as i32),
        ..Default::default()
    };
    let run = sea_orm::ActiveModelTrait::insert(run, &txn).await?;
    let written = changed.len() as u32;
    for chunk in changed.chunks(200) {
        datasets::bulk_insert(
            &txn,
            "territory_scores",
            &["level", "code", "run_id", "hash", "data"],
            chunk
                .iter()
                .map(|((level, code), hash, data)| {
                    vec![
                        level.as_str().into(),
                        code.clone().into(),
                        run.id.into(),
                        hash.clone().into(),
                        data.clone().into(),
                    ]
                })
                .collect(),
            "",
        )
        .await?;
    }
    txn.commit().await?;
    Ok(Outcome {
        run_id: Some(run.id),
        scope,
        dataset_version: version,
        schools,
        territories,
        written,
        skipped: None,
    })
}

/// Computes every stored territory's scores from the published records, streamed in one
/// query and scored in chunks on blocking threads (two at a time, so both cores work while
/// the database reads on).
pub async fn recompute_full(db: &DatabaseConnection, cfg: &ScoresConfig) -> AppResult<Outcome> {
    use futures_util::StreamExt;
    use sea_orm::StreamTrait;
    const CHUNK: usize = 2_500;
    let started_at = Utc::now();
    let version = datasets::latest_version(db).await?;
    let shared = std::sync::Arc::new(Shared {
        provenance: provenance_map(db).await?,
        communes: commune_map(db).await?,
        stale_before: stale_before(cfg, started_at),
    });
    type Part = tokio::task::JoinHandle<Result<(Cubes, u32), String>>;
    async fn finish(part: Part, cubes: &mut Cubes) -> AppResult<u32> {
        let (part, n) = part
            .await
            .map_err(AppError::internal)?
            .map_err(AppError::internal)?;
        merge(cubes, part);
        Ok(n)
    }
    let mut cubes = Cubes::new();
    let mut schools = 0;
    let mut pending: std::collections::VecDeque<Part> = Default::default();
    let mut stream = db
        .stream_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT r.data AS data FROM schools s JOIN school_revisions r \
             ON r.uai = s.uai AND r.version = s.version",
        ))
        .await?;
    let mut chunk = Vec::with_capacity(CHUNK);
    loop {
        let row = stream.next().await;
        let done = row.is_none();
        if let Some(row) = row {
            chunk.push(row?.try_get::<String>("", "data")?);
        }
        if chunk.len() == CHUNK || (done && !chunk.is_empty()) {
            if pending.len() == 2
                && let Some(part) = pending.pop_front()
            {
                schools += finish(part, &mut cubes).await?;
            }
            let rows = std::mem::replace(&mut chunk, Vec::with_capacity(CHUNK));
            let shared = shared.clone();
            pending.push_back(tokio::task::spawn_blocking(move || {
                score_part(&shared, &rows)
            }));
        }
        if done {
            break;
        }
    }
    drop(stream);
    while let Some(part) = pending.pop_front() {
        schools += finish(part, &mut cubes).await?;
    }
    write_run(
        db,
        "full",
        version,
        started_at,
        schools,
        flatten(cubes),
        true,
    )
    .await
}

/// After merges: recomputes the départements and EPCIs of the schools changed since the
/// previous run, then their académies, régions and the nation as sums of départements. Waits
/// until the dataset has been quiet for the debounce delay; runs a full recompute when there
/// is no previous run or when départements do not nest in académies and régions.
pub async fn recompute_touched(db: &DatabaseConnection, cfg: &ScoresConfig) -> AppResult<Outcome> {
    let skipped = |why| Outcome {
        run_id: None,
        scope: "touched",
        dataset_version: None,
        schools: 0,
        territories: 0,
        written: 0,
        skipped: Some(why),
    };
    let Some(last) = score_run::Entity::find()
        .order_by_desc(score_run::Column::Id)
        .one(db)
        .await?
    else {
        return recompute_full(db, cfg).await;
    };
    let Some(latest) = dataset_version::Entity::find()
        .order_by_desc(dataset_version::Column::Version)
        .one(db)
        .await?
    else {
        return Ok(skipped("aucune version publiée"));
    };
    let since = last.dataset_version.unwrap_or(0);
    if latest.version <= since {
        return Ok(skipped("aucune fusion depuis le dernier calcul"));
    }
    if Utc::now() - latest.created_at < cfg.debounce {
        return Ok(skipped(
            "fusion trop récente : attente de la fin de la rafale",
        ));
    }
    let started_at = Utc::now();
    // Where the changed schools are.
    let touched: Vec<(Option<String>, Option<String>)> = school::Entity::find()
        .select_only()
        .columns([school::Column::CodeDepartement, school::Column::CodeCommune])
        .filter(school::Column::Version.gt(since))
        .into_tuple()
        .all(db)
        .await?;
    // How départements nest: each must belong to exactly one académie and one région.
    let nesting: Vec<(Option<String>, Option<String>, Option<String>)> = school::Entity::find()
        .select_only()
        .columns([
            school::Column::CodeDepartement,
            school::Column::CodeAcademie,
            school::Column::CodeRegion,
        ])
        .distinct()
        .into_tuple()
        .all(db)
        .await?;
    let mut parent_of: HashMap<String, (String, String)> = HashMap::new();
    let mut nests = true;
    for (d, a, r) in nesting {
        match (d, a, r) {
            (Some(d), Some(a), Some(r)) => {
                if parent_of
                    .insert(d, (a.clone(), r.clone()))
                    .is_some_and(|p| p != (a, r))
                {
                    nests = false;
                }
            }
            _ => nests = false,
        }
    }
    if !nests || touched.iter().any(|(d, _)| d.is_none()) {
        return recompute_full(db, cfg).await;
    }
    let communes = commune_map(db).await?;
    let departements: BTreeSet<String> = touched.iter().filter_map(|(d, _)| d.clone()).collect();
    let epcis: BTreeSet<String> = touched
        .iter()
        .filter_map(|(_, c)| c.as_ref().and_then(|c| communes.get(c)?.1.clone()))
        .collect();
    let epci_communes: Vec<String> = communes
        .iter()
        .filter(|(_, (_, e))| e.as_ref().is_some_and(|e| epcis.contains(e)))
        .map(|(c, _)| c.clone())
        .collect();
    let provenance = provenance_map(db).await?;
    let ctx = Context {
        provenance: &provenance,
        stale_before: stale_before(cfg, started_at),
    };
    // Empty to start with: a territory left with no open school gets empty scores.
    let mut fresh = Cubes::new();
    for d in &departements {
        fresh
            .entry(Level::Departement)
            .or_default()
            .insert(d.clone(), Cube::default());
    }
    for e in &epcis {
        fresh
            .entry(Level::Epci)
            .or_default()
            .insert(e.clone(), Cube::default());
    }
    let mut schools = 0;
    for chunk in epci_communes.chunks(500) {
        schools += score_schools(
            db,
            Condition::all().add(school::Column::CodeCommune.is_in(chunk.iter().cloned())),
            &ctx,
            |values, group, g| {
                add_touched(
                    &mut fresh,
                    (Level::Epci, &epcis),
                    values,
                    group,
                    g,
                    &communes,
                )
            },
        )
        .await?;
    }
    schools += score_schools(
        db,
        Condition::all().add(school::Column::CodeDepartement.is_in(departements.iter().cloned())),
        &ctx,
        |values, group, g| {
            add_touched(
                &mut fresh,
                (Level::Departement, &departements),
                values,
                group,
                g,
                &communes,
            )
        },
    )
    .await?;
    let mut cubes = flatten(fresh);
    // The upper levels as sums of every département: the touched ones just computed, the
    // others as last stored.
    let mut by_departement: HashMap<String, Cube> = HashMap::new();
    for d in parent_of.keys() {
        let cube = match cubes.get(&(Level::Departement, d.clone())) {
            Some(c) => c.clone(),
            None => stored_cube(db, Level::Departement, d, None)
                .await?
                .map(|(_, c)| c)
                .unwrap_or_default(),
        };
        by_departement.insert(d.clone(), cube);
    }
    let academies: BTreeSet<&String> = departements.iter().map(|d| &parent_of[d].0).collect();
    let regions: BTreeSet<&String> = departements.iter().map(|d| &parent_of[d].1).collect();
    let mut national = Cube::default();
    let mut upper: HashMap<Key, Cube> = HashMap::new();
    for (d, cube) in &by_departement {
        let (a, r) = &parent_of[d];
        national.add(cube);
        if academies.contains(a) {
            upper
                .entry((Level::Academie, a.clone()))
                .or_default()
                .add(cube);
        }
        if regions.contains(r) {
            upper
                .entry((Level::Region, r.clone()))
                .or_default()
                .add(cube);
        }
    }
    upper.insert((Level::National, "FR".to_owned()), national);
    cubes.extend(upper);
    write_run(
        db,
        "touched",
        Some(latest.version),
        started_at,
        schools,
        cubes,
        false,
    )
    .await
}

/// Which run a reader asks for.
#[derive(Debug, Clone, Copy)]
pub enum At {
    Latest,
    /// The scores as they were at this instant.
    Time(DateTime<Utc>),
    /// The scores computed on this dataset version (or the latest before it).
    Version(i32),
}

impl At {
    /// `at=` as a dataset version (`v12`), a date (`2026-11-30`, its end) or an RFC 3339
    /// instant.
    pub fn parse(s: Option<&str>) -> AppResult<Self> {
        let Some(s) = s.map(str::trim).filter(|s| !s.is_empty()) else {
            return Ok(At::Latest);
        };
        if let Some(v) = s.strip_prefix('v').and_then(|v| v.parse().ok()) {
            return Ok(At::Version(v));
        }
        if let Ok(t) = DateTime::parse_from_rfc3339(s) {
            return Ok(At::Time(t.with_timezone(&Utc)));
        }
        if let Ok(d) = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d") {
            let end = d.and_hms_opt(23, 59, 59).unwrap_or_default().and_utc();
            return Ok(At::Time(end));
        }
        Err(AppError::bad_request(
            "at",
            format!(
                "« {s} » : attendu une date (2026-11-30), un instant RFC 3339 ou une version du jeu publié (v12)"
            ),
        ))
    }
}

/// The run a reader asks for, if any.
pub async fn run_at<C: ConnectionTrait>(db: &C, at: At) -> AppResult<Option<score_run::Model>> {
    let q = score_run::Entity::find().order_by_desc(score_run::Column::Id);
    Ok(match at {
        At::Latest => q.one(db).await?,
        At::Time(t) => {
            q.filter(score_run::Column::FinishedAt.lte(t))
                .one(db)
                .await?
        }
        At::Version(v) => {
            q.filter(score_run::Column::DatasetVersion.lte(v))
                .one(db)
                .await?
        }
    })
}

/// A stored territory's scores as of a run (the latest when `None`).
pub async fn stored_cube<C: ConnectionTrait>(
    db: &C,
    level: Level,
    code: &str,
    run: Option<i64>,
) -> AppResult<Option<(i64, Cube)>> {
    let mut q = territory_score::Entity::find()
        .filter(territory_score::Column::Level.eq(level.as_str()))
        .filter(territory_score::Column::Code.eq(code))
        .order_by_desc(territory_score::Column::RunId);
    if let Some(r) = run {
        q = q.filter(territory_score::Column::RunId.lte(r));
    }
    match q.one(db).await? {
        Some(row) => Ok(Some((
            row.run_id,
            serde_json::from_str(&row.data).map_err(AppError::internal)?,
        ))),
        None => Ok(None),
    }
}

/// Where a territory's scores come from.
#[derive(Debug, Clone, Serialize)]
pub struct Basis {
    /// `stored` (a run of the scores job) or `live` (computed now from the records).
    pub source: &'static str,
    pub run_id: Option<i64>,
    pub computed_at: DateTime<Utc>,
    /// The dataset version the scores were computed on.
    pub dataset_version: Option<i32>,
}

/// A territory's scores: stored for the stored levels once a run exists, computed from the
/// records otherwise (communes; any territory before the first run).
pub async fn scores_of(
    db: &DatabaseConnection,
    cfg: &ScoresConfig,
    level: Level,
    code: &str,
    at: At,
) -> AppResult<(Basis, Cube)> {
    if STORED_LEVELS.contains(&level)
        && let Some(run) = run_at(db, at).await?
    {
        let cube = stored_cube(db, level, code, Some(run.id))
            .await?
            .map(|(_, c)| c)
            .unwrap_or_default();
        return Ok((
            Basis {
                source: "stored",
                run_id: Some(run.id),
                computed_at: run.finished_at,
                dataset_version: run.dataset_version,
            },
            cube,
        ));
    }
    let version = match at {
        At::Latest => None,
        At::Version(v) => Some(v),
        At::Time(t) => Some(
            dataset_version::Entity::find()
                .filter(dataset_version::Column::CreatedAt.lte(t))
                .order_by_desc(dataset_version::Column::Version)
                .one(db)
                .await?
                .map_or(0, |v| v.version),
        ),
    };
    live_cube(db, cfg, level, code, version).await
}

/// Computes a territory's scores from its schools' records, current or of a dataset version.
pub async fn live_cube(
    db: &DatabaseConnection,
    cfg: &ScoresConfig,
    level: Level,
    code: &str,
    version: Option<i32>,
) -> AppResult<(Basis, Cube)> {
    let now = Utc::now();
    let provenance = provenance_map(db).await?;
    let ctx = Context {
        provenance: &provenance,
        stale_before: stale_before(cfg, now),
    };
    let latest = datasets::latest_version(db).await?;
    let uais = super::completeness::schools_in(db, level, code).await?;
    let mut cube = Cube::default();
    let mut add = |_: &Values<'_>, group: &str, g: &Group| match cube.groups.get_mut(group) {
        Some(existing) => existing.add(g),
        None => {
            cube.groups.insert(group.to_owned(), g.clone());
        }
    };
    for chunk in uais.chunks(500) {
        let rows: Vec<String> = match version {
            Some(v) if latest.is_some_and(|l| v < l) => {
                super::exports::revisions_in(db, v, chunk.to_vec())
                    .await?
                    .into_iter()
                    .map(|(_, data)| data)
                    .collect()
            }
            _ => datasets::current_records(db, chunk.iter().cloned())
                .await?
                .into_values()
                .map(|r| r.data)
                .collect(),
        };
        score_records(rows.iter().map(String::as_str), &ctx, &mut add)
            .map_err(AppError::internal)?;
    }
    Ok((
        Basis {
            source: "live",
            run_id: None,
            computed_at: now,
            dataset_version: match version {
                Some(v) => Some(v.min(latest.unwrap_or(0))),
                None => latest,
            },
        },
        cube,
    ))
}

/// One point of a territory's history: the run from which its scores were these.
pub struct HistoryPoint {
    pub run: score_run::Model,
    pub cube: Cube,
}

/// A stored territory's scores at each run that changed them, oldest first.
pub async fn history<C: ConnectionTrait>(
    db: &C,
    level: Level,
    code: &str,
) -> AppResult<Vec<HistoryPoint>> {
    let rows = territory_score::Entity::find()
        .filter(territory_score::Column::Level.eq(level.as_str()))
        .filter(territory_score::Column::Code.eq(code))
        .order_by_asc(territory_score::Column::RunId)
        .all(db)
        .await?;
    let runs: HashMap<i64, score_run::Model> = score_run::Entity::find()
        .filter(score_run::Column::Id.is_in(rows.iter().map(|r| r.run_id)))
        .all(db)
        .await?
        .into_iter()
        .map(|r| (r.id, r))
        .collect();
    let mut out = Vec::new();
    for row in rows {
        if let Some(run) = runs.get(&row.run_id) {
            out.push(HistoryPoint {
                run: run.clone(),
                cube: serde_json::from_str(&row.data).map_err(AppError::internal)?,
            });
        }
    }
    Ok(out)
}

pub async fn runs<C: ConnectionTrait>(db: &C, limit: u64) -> AppResult<Vec<score_run::Model>> {
    Ok(score_run::Entity::find()
        .order_by_desc(score_run::Column::Id)
        .limit(limit)
        .all(db)
        .await?)
}
