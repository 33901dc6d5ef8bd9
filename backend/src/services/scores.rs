//! The scores job and its history: completeness, quality and indicators of every territory,
//! added up from each school's score facts (worked out from its record when it is published,
//! see [`SchoolFacts`]), stored per run and dataset version.
//!
//! Stored: the nation, régions, académies, départements and EPCIs (about 1,500 territories),
//! each only when its scores changed since its previous run, so that a nightly run on an
//! unchanged dataset writes nothing but its run row. Communes (35,000, a few schools each) are
//! computed on request from the records, current or of a dataset version, in milliseconds, and
//! so is their history.

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
        scores::{self, Context, Cube, Group, ParsedRecord, ProvenanceMap, SchoolFacts},
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
    /// Schools whose stored facts were missing or of other rules, worked out again from
    /// their records.
    #[serde(skip_serializing_if = "is_zero")]
    pub refreshed_facts: u32,
    /// Why nothing was done, for a touched recompute with nothing to do.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skipped: Option<&'static str>,
}

type Key = (Level, String);

fn is_zero(n: &u32) -> bool {
    *n == 0
}

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
        .map(|(id, m, s)| (id, scores::provenance_entry(m.as_deref(), s.is_some())))
        .collect())
}

/// Commune → (its parent commune for a municipal arrondissement, its EPCI).
async fn commune_map<C: ConnectionTrait>(db: &C) -> AppResult<CommuneMap> {
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

/// A school's territories, as published in its row (the same fields of its record).
#[derive(Debug, Clone, Default)]
struct Codes {
    commune: Option<String>,
    departement: Option<String>,
    academie: Option<String>,
    region: Option<String>,
}

/// A school as the scores read it: its row, and its stored facts when they were worked out
/// with the current catalogue and rules.
struct Row {
    uai: String,
    version: i32,
    codes: Codes,
    facts: Option<String>,
}

const ROW_COLUMNS: &str = "uai, version, code_commune, code_departement, code_academie, \
                           code_region, score_facts_key, score_facts";

fn row_of(r: &sea_orm::QueryResult) -> AppResult<Row> {
    let key: Option<String> = r.try_get("", "score_facts_key")?;
    Ok(Row {
        uai: r.try_get("", "uai")?,
        version: r.try_get("", "version")?,
        codes: Codes {
            commune: r.try_get("", "code_commune")?,
            departement: r.try_get("", "code_departement")?,
            academie: r.try_get("", "code_academie")?,
            region: r.try_get("", "code_region")?,
        },
        facts: match key.as_deref() == Some(SchoolFacts::key()) {
            true => r.try_get("", "score_facts")?,
            false => None,
        },
    })
}

/// What one school adds to its territories.
enum Scored {
    Closed,
    Open(String, Group),
    /// No usable stored facts: to be worked out again from the record.
    Unknown,
}

fn from_facts(facts: Option<&str>, stale_before: &str) -> Scored {
    let Some(facts) = facts.and_then(|f| serde_json::from_str::<SchoolFacts>(f).ok()) else {
        return Scored::Unknown;
    };
    match facts.group(stale_before) {
        Ok(Some(g)) => Scored::Open(facts.group_key().to_owned(), g),
        Ok(None) => Scored::Closed,
        Err(_) => Scored::Unknown,
    }
}

fn from_record(data: &str, ctx: &Context<'_>) -> Result<Scored, String> {
    let record: ParsedRecord = serde_json::from_str(data).map_err(|e| e.to_string())?;
    let facts = SchoolFacts::of(&record.values(), ctx.provenance);
    Ok(match facts.group(&ctx.stale_before)? {
        Some(g) => Scored::Open(facts.group_key().to_owned(), g),
        None => Scored::Closed,
    })
}

/// Works out again, from their published records, the facts of schools whose stored facts are
/// missing (published before facts were kept) or of other rules; stores them — unless the
/// school was published again meanwhile, whose new row has its own — and scores them. The
/// number of open schools.
async fn refresh_facts(
    db: &DatabaseConnection,
    rows: Vec<Row>,
    ctx: &Context<'_>,
    mut f: impl FnMut(&Codes, &str, &Group),
) -> AppResult<u32> {
    let mut open = 0;
    for chunk in rows.chunks(500) {
        let records = datasets::current_records(db, chunk.iter().map(|r| r.uai.clone())).await?;
        let mut updates = Vec::with_capacity(chunk.len());
        for row in chunk {
            let Some(record) = records.get(&row.uai) else {
                continue;
            };
            let parsed: ParsedRecord = serde_json::from_str(&record.data).map_err(|e| {
                AppError::internal(format!("enregistrement de {} illisible : {e}", row.uai))
            })?;
            let facts = SchoolFacts::of(&parsed.values(), ctx.provenance);
            if let Some(g) = facts.group(&ctx.stale_before).map_err(AppError::internal)? {
                open += 1;
                f(&row.codes, facts.group_key(), &g);
            }
            updates.push(vec![
                row.uai.clone().into(),
                row.version.into(),
                serde_json::to_string(&facts)
                    .map_err(AppError::internal)?
                    .into(),
            ]);
        }
        store_facts(db, updates).await?;
    }
    Ok(open)
}

/// `[uai, version, facts]` rows, in one statement per few hundred; a school whose version
/// moved on is left to its newer facts.
async fn store_facts(db: &DatabaseConnection, rows: Vec<Vec<sea_orm::Value>>) -> AppResult<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let backend = db.get_database_backend();
    let txn = db.begin().await?;
    for chunk in rows.chunks(300) {
        let mut n = 0;
        let mut param = || {
            n += 1;
            match backend {
                sea_orm::DbBackend::Postgres => format!("${n}"),
                _ => "?".to_owned(),
            }
        };
        let key = param();
        let tuples: Vec<String> = chunk
            .iter()
            .map(|_| format!("({}, {}, {})", param(), param(), param()))
            .collect();
        // Both databases name a VALUES list's columns column1, column2…
        let sql = format!(
            "UPDATE schools SET score_facts = v.column3, score_facts_key = {key} \
             FROM (VALUES {}) AS v \
             WHERE schools.uai = v.column1 AND schools.version = v.column2",
            tuples.join(", ")
        );
        let mut params = vec![sea_orm::Value::from(SchoolFacts::key())];
        params.extend(chunk.iter().flatten().cloned());
        txn.execute_raw(Statement::from_sql_and_values(backend, &sql, params))
            .await?;
    }
    txn.commit().await?;
    Ok(())
}

/// Scores every selected school, batch after batch: `f` gets each open one's territories,
/// group (type × secteur) and counts. The number of open schools.
async fn score_schools(
    db: &DatabaseConnection,
    select: Condition,
    ctx: &Context<'_>,
    mut f: impl FnMut(&Codes, &str, &Group),
) -> AppResult<u32> {
    use sea_orm::sea_query::{Alias, Expr, Order, Query};
    let mut after: Option<String> = None;
    let mut n = 0;
    loop {
        let mut q = Query::select();
        q.expr(Expr::cust(ROW_COLUMNS))
            .from(school::Entity)
            .cond_where(select.clone())
            .order_by(Alias::new("uai"), Order::Asc)
            .limit(BATCH);
        if let Some(a) = &after {
            q.and_where(school::Column::Uai.gt(a.as_str()));
        }
        let rows = db.query_all(&q).await?;
        let Some(last) = rows.last() else {
            return Ok(n);
        };
        after = Some(last.try_get("", "uai")?);
        let mut unknown = Vec::new();
        for r in &rows {
            let row = row_of(r)?;
            match from_facts(row.facts.as_deref(), &ctx.stale_before) {
                Scored::Open(group, g) => {
                    n += 1;
                    f(&row.codes, &group, &g);
                }
                Scored::Closed => {}
                Scored::Unknown => unknown.push(row),
            }
        }
        n += refresh_facts(db, unknown, ctx, &mut f).await?;
    }
}

/// Scores stored records (of any dataset version), their facts worked out on the way. The
/// number of open schools.
fn score_records<'r>(
    rows: impl IntoIterator<Item = &'r str>,
    ctx: &Context<'_>,
    mut f: impl FnMut(&str, &Group),
) -> Result<u32, String> {
    let mut n = 0;
    for data in rows {
        if let Scored::Open(group, g) = from_record(data, ctx)? {
            n += 1;
            f(&group, &g);
        }
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

type CommuneMap = HashMap<String, (Option<String>, Option<String>)>;

/// What the computing threads share.
struct Shared {
    communes: CommuneMap,
    stale_before: String,
}

/// Scores a chunk of rows from their stored facts on a blocking thread: one partial set of
/// cubes, the number of open schools, and the rows whose facts must be worked out again.
fn score_part(shared: &Shared, rows: Vec<Row>) -> (Cubes, u32, Vec<Row>) {
    let mut cubes = Cubes::new();
    let mut n = 0;
    let mut unknown = Vec::new();
    // One buffer for every school of the chunk: no allocation per school.
    let mut g = Group::default();
    for row in rows {
        let facts = row
            .facts
            .as_deref()
            .and_then(|f| serde_json::from_str::<SchoolFacts>(f).ok());
        match facts.map(|f| (f.group_into(&mut g, &shared.stale_before), f)) {
            Some((Ok(true), facts)) => {
                n += 1;
                for (level, code) in places(&row.codes, &shared.communes) {
                    add_to(&mut cubes, level, code, facts.group_key(), &g);
                }
            }
            Some((Ok(false), _)) => {}
            Some((Err(_), _)) | None => unknown.push(row),
        }
    }
    (cubes, n, unknown)
}

/// The stored territories a school belongs to.
fn places<'a>(codes: &'a Codes, communes: &'a CommuneMap) -> Vec<(Level, &'a str)> {
    let mut out = vec![(Level::National, "FR")];
    for (level, code) in [
        (Level::Region, &codes.region),
        (Level::Academie, &codes.academie),
        (Level::Departement, &codes.departement),
    ] {
        if let Some(code) = code.as_deref().filter(|c| !c.is_empty()) {
            out.push((level, code));
        }
    }
    if let Some((_, Some(epci))) = codes.commune.as_ref().and_then(|c| communes.get(c)) {
        out.push((Level::Epci, epci.as_str()));
    }
    out
}

/// Adds a school to those of its territories of one level that are being recomputed.
fn add_touched(
    cubes: &mut Cubes,
    (only, touched): (Level, &BTreeSet<String>),
    codes: &Codes,
    group: &str,
    g: &Group,
    communes: &CommuneMap,
) {
    for (level, code) in places(codes, communes) {
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

/// The latest stored scores of every territory of one level, in one query.
pub async fn latest_cubes<C: ConnectionTrait>(
    db: &C,
    level: Level,
) -> AppResult<HashMap<String, Cube>> {
    let backend = db.get_database_backend();
    let (a, b) = match backend {
        sea_orm::DbBackend::Postgres => ("$1", "$2"),
        _ => ("?", "?"),
    };
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(
            backend,
            format!(
                "SELECT t.code, t.data FROM territory_scores t \
                 JOIN (SELECT code, MAX(run_id) AS run_id FROM territory_scores \
                       WHERE level = {a} GROUP BY code) m \
                 ON m.code = t.code AND m.run_id = t.run_id WHERE t.level = {b}"
            ),
            [level.as_str().into(), level.as_str().into()],
        ))
        .await?;
    let mut out = HashMap::new();
    for row in rows {
        let data: String = row.try_get("", "data")?;
        out.insert(
            row.try_get("", "code")?,
            serde_json::from_str(&data).map_err(AppError::internal)?,
        );
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
        refreshed_facts: 0,
        skipped: None,
    })
}

/// Computes every stored territory's scores from the schools' stored facts, streamed in one
/// query and added up in chunks on blocking threads (two at a time, so both cores work while
/// the database reads on). Schools without current facts are scored from their records, and
/// their facts stored for the next run.
pub async fn recompute_full(db: &DatabaseConnection, cfg: &ScoresConfig) -> AppResult<Outcome> {
    use futures_util::StreamExt;
    use sea_orm::StreamTrait;
    const CHUNK: usize = 2_500;
    let started_at = Utc::now();
    let version = datasets::latest_version(db).await?;
    let shared = std::sync::Arc::new(Shared {
        communes: commune_map(db).await?,
        stale_before: stale_before(cfg, started_at),
    });
    type Part = tokio::task::JoinHandle<(Cubes, u32, Vec<Row>)>;
    let mut cubes = Cubes::new();
    let mut schools = 0;
    let mut unknown: Vec<Row> = Vec::new();
    let mut finish = async |part: Part, cubes: &mut Cubes| -> AppResult<()> {
        let (part, n, mut rest) = part.await.map_err(AppError::internal)?;
        merge(cubes, part);
        schools += n;
        unknown.append(&mut rest);
        Ok(())
    };
    let mut pending: std::collections::VecDeque<Part> = Default::default();
    let mut stream = db
        .stream_raw(Statement::from_string(
            db.get_database_backend(),
            format!("SELECT {ROW_COLUMNS} FROM schools"),
        ))
        .await?;
    let mut chunk = Vec::with_capacity(CHUNK);
    loop {
        let row = stream.next().await;
        let done = row.is_none();
        if let Some(row) = row {
            chunk.push(row_of(&row?)?);
        }
        if chunk.len() == CHUNK || (done && !chunk.is_empty()) {
            if pending.len() == 2
                && let Some(part) = pending.pop_front()
            {
                finish(part, &mut cubes).await?;
            }
            let rows = std::mem::replace(&mut chunk, Vec::with_capacity(CHUNK));
            let shared = shared.clone();
            pending.push_back(tokio::task::spawn_blocking(move || {
                score_part(&shared, rows)
            }));
        }
        if done {
            break;
        }
    }
    drop(stream);
    while let Some(part) = pending.pop_front() {
        finish(part, &mut cubes).await?;
    }
    let refreshed = unknown.len() as u32;
    if !unknown.is_empty() {
        let provenance = provenance_map(db).await?;
        let ctx = Context {
            provenance: &provenance,
            stale_before: shared.stale_before.clone(),
        };
        schools += refresh_facts(db, unknown, &ctx, |codes, group, g| {
            for (level, code) in places(codes, &shared.communes) {
                add_to(&mut cubes, level, code, group, g);
            }
        })
        .await?;
    }
    let mut outcome = write_run(
        db,
        "full",
        version,
        started_at,
        schools,
        flatten(cubes),
        true,
    )
    .await?;
    outcome.refreshed_facts = refreshed;
    Ok(outcome)
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
        refreshed_facts: 0,
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
            |codes, group, g| {
                add_touched(
                    &mut fresh,
                    (Level::Epci, &epcis),
                    codes,
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
        |codes, group, g| {
            add_touched(
                &mut fresh,
                (Level::Departement, &departements),
                codes,
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
    let mut stored = latest_cubes(db, Level::Departement).await?;
    let mut by_departement: HashMap<String, Cube> = HashMap::new();
    for d in parent_of.keys() {
        let cube = match cubes.get(&(Level::Departement, d.clone())) {
            Some(c) => c.clone(),
            None => stored.remove(d).unwrap_or_default(),
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
    let mut add = |group: &str, g: &Group| match cube.groups.get_mut(group) {
        Some(existing) => existing.add(g),
        None => {
            cube.groups.insert(group.to_owned(), g.clone());
        }
    };
    for chunk in uais.chunks(500) {
        match version {
            // An earlier version: its records, facts worked out on the way.
            Some(v) if latest.is_some_and(|l| v < l) => {
                let rows = super::exports::revisions_in(db, v, chunk.to_vec()).await?;
                score_records(rows.iter().map(|(_, data)| data.as_str()), &ctx, &mut add)
                    .map_err(AppError::internal)?;
            }
            _ => {
                score_schools(
                    db,
                    Condition::all().add(school::Column::Uai.is_in(chunk.iter().cloned())),
                    &ctx,
                    |_, group, g| add(group, g),
                )
                .await?;
            }
        }
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

/// A territory's scores at each run that changed them, oldest first: as stored for the
/// stored levels, worked out from the records for a commune.
pub async fn history(
    db: &DatabaseConnection,
    cfg: &ScoresConfig,
    level: Level,
    code: &str,
) -> AppResult<Vec<HistoryPoint>> {
    if !STORED_LEVELS.contains(&level) {
        return live_history(db, cfg, level, code).await;
    }
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

/// A commune's scores at each run, which stores the 35,000 communes' scores in none: worked
/// out from every revision of its schools, each run seeing the records of the dataset version
/// it computed on and finding values stale as of its own day — what it would have stored.
/// Its schools are today's (a school that moved is counted in its current commune).
async fn live_history(
    db: &DatabaseConnection,
    cfg: &ScoresConfig,
    level: Level,
    code: &str,
) -> AppResult<Vec<HistoryPoint>> {
    let runs = score_run::Entity::find()
        .order_by_asc(score_run::Column::Id)
        .all(db)
        .await?;
    if runs.is_empty() {
        return Ok(Vec::new());
    }
    let provenance = provenance_map(db).await?;
    let uais = super::completeness::schools_in(db, level, code).await?;
    // Every revision of every school, oldest first, as facts.
    let mut revisions: HashMap<String, Vec<(i32, SchoolFacts)>> = HashMap::new();
    for chunk in uais.chunks(500) {
        let rows: Vec<(String, i32, String)> = school_revision::Entity::find()
            .select_only()
            .columns([
                school_revision::Column::Uai,
                school_revision::Column::Version,
                school_revision::Column::Data,
            ])
            .filter(school_revision::Column::Uai.is_in(chunk.iter().cloned()))
            .order_by_asc(school_revision::Column::Version)
            .into_tuple()
            .all(db)
            .await?;
        for (uai, version, data) in rows {
            let record: ParsedRecord = serde_json::from_str(&data).map_err(|e| {
                AppError::internal(format!(
                    "enregistrement de {uai} (v{version}) illisible : {e}"
                ))
            })?;
            let facts = SchoolFacts::of(&record.values(), &provenance);
            revisions.entry(uai).or_default().push((version, facts));
        }
    }
    let mut out: Vec<HistoryPoint> = Vec::new();
    let mut previous: Option<(i32, String)> = None;
    let mut scratch = Group::default();
    for run in runs {
        let version = run.dataset_version.unwrap_or(0);
        let stale = stale_before(cfg, run.started_at);
        // The same version seen on the same day: the same scores.
        let key = (version, stale);
        if previous.as_ref() == Some(&key) {
            continue;
        }
        let mut cube = Cube::default();
        for list in revisions.values() {
            let Some((_, facts)) = list.iter().rev().find(|(v, _)| *v <= version) else {
                continue;
            };
            if facts
                .group_into(&mut scratch, &key.1)
                .map_err(AppError::internal)?
            {
                match cube.groups.get_mut(facts.group_key()) {
                    Some(g) => g.add(&scratch),
                    None => {
                        cube.groups
                            .insert(facts.group_key().to_owned(), scratch.clone());
                    }
                }
            }
        }
        previous = Some(key);
        if out.last().is_none_or(|p| p.cube != cube) {
            out.push(HistoryPoint { run, cube });
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
