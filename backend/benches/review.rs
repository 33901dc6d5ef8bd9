//! Benchmark of the review path on a 65,000-school synthetic dataset, on SQLite and on
//! PostgreSQL (when reachable): submitting a 10,000-row inventory, merging it once accepted
//! (target < 2 s), and the review queue with 10,000 pending submissions (target < 100 ms).
//!
//! `cargo bench -p ecarto-backend --bench review [-- --schools N --rows N --pending N]`
//! PostgreSQL: `BENCH_POSTGRES_URL` (default `postgres://postgres@127.0.0.1:5432/postgres`).

use std::{fmt::Write as _, time::Instant};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use chrono::Utc;
use ecarto::{
    config::ValidationLimits,
    db,
    domain::competence::Role,
    entities::{school, submission, submission_school},
    importers::ImportKind,
    reference::territories::TerritoryReference,
    services::{
        audit, demo, imports,
        submissions::{self, DecisionInput, NewSubmission, QueueFilter},
        territories, users,
    },
    synthetic,
};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, Database, DatabaseConnection, EntityTrait,
    QueryFilter, QueryOrder, QuerySelect,
};

const SEED: u64 = 2018;

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(run(
        ecarto::bench_support::arg("--schools", 65_000) as usize,
        ecarto::bench_support::arg("--rows", 10_000) as usize,
        ecarto::bench_support::arg("--pending", 10_000) as usize,
    ));
}

async fn run(schools: usize, rows: usize, pending: usize) {
    let dir = std::env::temp_dir().join(format!("ecarto-bench-review-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let reference = TerritoryReference::bundled().expect("bundled territories");
    let seeds = demo::commune_seeds(&reference);
    let mut annuaire = Vec::new();
    synthetic::write_annuaire(&mut annuaire, &seeds, schools, SEED).expect("generate");

    let mut backends = vec![(
        "sqlite",
        format!("sqlite://{}?mode=rwc", dir.join("bench.sqlite").display()),
    )];
    let admin_url = std::env::var("BENCH_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let pg_name = format!("ecarto_bench_review_{}", std::process::id());
    if let Ok(conn) = Database::connect(&admin_url).await {
        conn.execute_unprepared(&format!("CREATE DATABASE \"{pg_name}\""))
            .await
            .expect("create");
        let (server, _) = admin_url.rsplit_once('/').expect("URL with a database");
        backends.push(("postgres", format!("{server}/{pg_name}")));
    }
    println!(
        "{schools} schools, a {rows}-row inventory, {pending} pending submissions in the queue"
    );
    println!(
        "{:<9} {:>12} {:>12} {:>22} {:>22}",
        "backend", "submit", "merge", "queue (1 département)", "queue (admin, all)"
    );
    for (name, url) in &backends {
        let conn = db::connect(url).await.expect("connect");
        db::migrate(&conn).await.expect("migrate");
        ecarto::services::organisations::ensure_seeded(&conn)
            .await
            .expect("organisations");
        territories::ensure_loaded(&conn)
            .await
            .expect("territories");
        imports::import_file(&conn, ImportKind::Annuaire, "synthetique.csv", &annuaire)
            .await
            .expect("import");
        let (submit, merge) = submit_and_merge(&conn, rows).await;
        let (one, all) = queue(&conn, pending).await;
        println!(
            "{name:<9} {:>11.2}s {:>11.2}s {:>19.1} ms {:>19.1} ms",
            submit, merge, one, all
        );
        conn.close().await.ok();
    }
    if backends.len() > 1
        && let Ok(conn) = Database::connect(&admin_url).await
    {
        let _ = conn
            .execute_unprepared(&format!(
                "DROP DATABASE IF EXISTS \"{pg_name}\" WITH (FORCE)"
            ))
            .await;
    }
    let _ = std::fs::remove_dir_all(&dir);
}

async fn person(
    conn: &DatabaseConnection,
    email: &str,
    roles: Vec<Role>,
    territories: Vec<&str>,
) -> ecarto::domain::competence::Actor {
    let u = users::grant(
        conn,
        &audit::Context::cli(),
        users::Grant {
            email: email.into(),
            display_name: None,
            organisation: None,
            roles,
            territories: territories
                .into_iter()
                .map(|t| t.parse().expect("territory"))
                .collect(),
        },
    )
    .await
    .expect("user");
    users::actor(conn, &u).await.expect("actor")
}

/// Seconds to submit the inventory, and to accept and merge it.
async fn submit_and_merge(conn: &DatabaseConnection, rows: usize) -> (f64, f64) {
    // An admin may contribute for every school: the inventory covers 10,000 of them.
    let sender = person(conn, "dne@education.gouv.fr", vec![Role::Admin], vec![]).await;
    let reviewer = person(
        conn,
        "relecture@education.gouv.fr",
        vec![Role::Admin],
        vec![],
    )
    .await;
    let uais: Vec<String> = school::Entity::find()
        .select_only()
        .column(school::Column::Uai)
        .filter(school::Column::TypeEtablissement.is_in(["ecole", "college", "lycee", "erea"]))
        .order_by_asc(school::Column::Uai)
        .limit(rows as u64)
        .into_tuple()
        .all(conn)
        .await
        .expect("schools");
    let mut csv = String::from("uai;date_inventaire;nb_terminaux;nb_tablettes;maintenance\n");
    for (i, u) in uais.iter().enumerate() {
        let _ = writeln!(
            csv,
            "{u};2026-09-15;{};{};collectivite",
            20 + i % 300,
            i % 40
        );
    }
    let limits = ValidationLimits::default();
    let started = Instant::now();
    let (s, _) = submissions::submit(
        conn,
        &limits,
        "http://127.0.0.1:8080",
        &audit::Context::cli(),
        &sender,
        NewSubmission {
            schema: "inventaire-equipement".into(),
            file_name: "inventaire.csv".into(),
            bytes: csv.into_bytes(),
            idempotency_key: None,
            supersedes: None,
        },
    )
    .await
    .expect("submit");
    let submit = started.elapsed().as_secs_f64();
    assert_eq!(s.rows_proposed as usize, uais.len(), "every row proposed");
    let started = Instant::now();
    let outcome = submissions::decide(
        conn,
        "http://127.0.0.1:8080",
        &audit::Context::cli(),
        &reviewer,
        s.id,
        DecisionInput {
            decision: "accept".into(),
            rows: None,
            fields: Default::default(),
            reason: String::new(),
            conflicts: None,
        },
    )
    .await
    .expect("decide");
    let merge = started.elapsed().as_secs_f64();
    assert_eq!(outcome.accepted_rows.len(), uais.len());
    assert!(outcome.merged_version.is_some());
    (submit, merge)
}

/// Median milliseconds of the queue of a moderator of one département, and of an admin.
async fn queue(conn: &DatabaseConnection, pending: usize) -> (f64, f64) {
    // Pending submissions written directly: what is measured is the queue, not 10,000 uploads.
    let deps: Vec<(String, String, String)> = school::Entity::find()
        .select_only()
        .column(school::Column::CodeDepartement)
        .column(school::Column::CodeAcademie)
        .column(school::Column::CodeRegion)
        .distinct()
        .into_tuple::<(Option<String>, Option<String>, Option<String>)>()
        .all(conn)
        .await
        .expect("départements")
        .into_iter()
        .filter_map(|(d, a, r)| Some((d?, a?, r?)))
        .collect();
    let now = Utc::now();
    let first = submission::Entity::find()
        .order_by_desc(submission::Column::Id)
        .one(conn)
        .await
        .expect("last id")
        .map_or(0, |s| s.id);
    let mut batch = Vec::new();
    let mut schools = Vec::new();
    for i in 0..pending {
        let id = first + 1 + i as i64;
        batch.push(submission::ActiveModel {
            id: Set(id),
            schema_name: Set("inventaire-equipement".into()),
            schema_version: Set(1),
            file_name: Set(format!("envoi-{i}.csv")),
            sha256: Set(format!("{i:064}")),
            submitter_id: Set(1),
            organisation_id: Set(None),
            base_version: Set(Some(1)),
            status: Set("pending".into()),
            report: Set("{}".into()),
            rows_total: Set(10),
            rows_proposed: Set(10),
            rows_invalid: Set(0),
            rows_refused: Set(0),
            flags: Set("[]".into()),
            idempotency_key: Set(None),
            supersedes: Set(None),
            created_at: Set(now - chrono::Duration::minutes(i as i64)),
            claimed_by: Set(None),
            claimed_at: Set(None),
            decided_at: Set(None),
            merged_version: Set(None),
        });
        let (d, a, r) = &deps[i % deps.len()];
        schools.push(submission_school::ActiveModel {
            submission_id: Set(id),
            uai: Set(format!("{:07}X", i)),
            commune: Set(None),
            commune_parent: Set(None),
            epci: Set(None),
            departement: Set(Some(d.clone())),
            academie: Set(Some(a.clone())),
            region: Set(Some(r.clone())),
        });
        if batch.len() == 500 {
            flush(conn, &mut batch, &mut schools).await;
        }
    }
    flush(conn, &mut batch, &mut schools).await;
    if conn.get_database_backend() == sea_orm::DbBackend::Postgres {
        conn.execute_unprepared("ANALYZE submissions, submission_schools")
            .await
            .expect("analyze");
    }
    let dep = &deps[0].0;
    let moderator = person(
        conn,
        "modo@bench.fr",
        vec![Role::Moderator],
        vec![&format!("departement:{dep}")],
    )
    .await;
    let admin = person(conn, "dne@education.gouv.fr", vec![Role::Admin], vec![]).await;
    let time = async |actor: &ecarto::domain::competence::Actor| {
        let mut runs = Vec::new();
        for _ in 0..7 {
            let started = Instant::now();
            let list = submissions::queue(conn, actor, &QueueFilter::default())
                .await
                .expect("queue");
            runs.push(started.elapsed().as_secs_f64() * 1000.0);
            assert!(!list.is_empty());
        }
        runs.sort_by(f64::total_cmp);
        runs[runs.len() / 2]
    };
    (time(&moderator).await, time(&admin).await)
}

async fn flush(
    conn: &DatabaseConnection,
    batch: &mut Vec<submission::ActiveModel>,
    schools: &mut Vec<submission_school::ActiveModel>,
) {
    if batch.is_empty() {
        return;
    }
    submission::Entity::insert_many(std::mem::take(batch))
        .exec_without_returning(conn)
        .await
        .expect("submissions");
    submission_school::Entity::insert_many(std::mem::take(schools))
        .exec_without_returning(conn)
        .await
        .expect("schools");
}
