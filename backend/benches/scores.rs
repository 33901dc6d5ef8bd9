//! Benchmark: a full recompute of completeness, quality and indicators for a 65,000-school
//! national synthetic dataset (annuaire + an ETIC survey with its gaps), on SQLite and on
//! PostgreSQL (when reachable), each phase in a child process so that its peak memory (VmHWM)
//! is its own; then the same completeness table computed by DuckDB from the CSV export, with
//! both times, the ratio, and a cell-by-cell comparison of the two tables. Each backend also
//! times a recompute that must work out every school's score facts again from its record (as
//! after a change of the catalogue or the rules).
//!
//! `cargo bench -p ecarto-backend --bench scores [-- --schools N]`
//! Targets on a 2-core machine: full recompute < 1 s, peak < 300 MB. DuckDB runs in a Python
//! virtualenv under `target/bench-venv`, created with `pip install duckdb` when missing.

use std::{
    path::{Path, PathBuf},
    process::Command,
    time::Instant,
};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use ecarto::{
    bench_support::{
        self, BenchBackends, SyntheticAnnuaire, mib, peak_rss_bytes, run_child, synthetic_annuaire,
    },
    config::ScoresConfig,
    db,
    domain::{catalog::Catalog, export::ExportFormat, territory::Level},
    entities::school,
    services::{exports, scores},
};
use sea_orm::{EntityTrait, QuerySelect};

const SEED: u64 = 2018;

fn main() {
    bench_support::main(parent, |phase| async move { child(&phase).await });
}

async fn parent(schools: usize) {
    let SyntheticAnnuaire { dir, file, .. } = synthetic_annuaire("scores", schools, SEED);
    println!("synthetic dataset: {schools} schools (annuaire + ETIC 2018 with gaps)");

    let backends = BenchBackends::new(&dir, "ecarto_bench_scores").await;
    let mut rust_secs = None;
    for (name, url) in &backends.urls {
        run_child("load", url, &file, &dir);
        let full = run_child("recompute", url, &file, &dir);
        let again = run_child("recompute", url, &file, &dir);
        // As after a change of the catalogue or the scoring rules: every school's facts are
        // worked out again from its record (and must give the same scores).
        run_child("forget-facts", url, &file, &dir);
        let refresh = run_child("recompute", url, &file, &dir);
        println!(
            "{name:<9} full recompute {:.3} s, peak {} ({} territories written); \
             unchanged re-run {:.3} s, peak {} ({} written); \
             with every school's facts worked out again from its record {:.3} s, peak {} \
             ({} written)",
            full.secs,
            mib(full.peak),
            full.rows,
            again.secs,
            mib(again.peak),
            again.rows,
            refresh.secs,
            mib(refresh.peak),
            refresh.rows
        );
        if *name == "sqlite" {
            rust_secs = Some(full.secs);
            run_child("export", url, &file, &dir);
        }
    }
    backends.drop_postgres().await;
    match duckdb(&dir) {
        Ok(duck) => {
            let rust = rust_secs.unwrap_or(f64::NAN);
            println!(
                "completeness table: Rust job (SQLite, with quality and indicators) {rust:.3} s, \
                 DuckDB (completeness only, from the CSV export) {duck:.3} s, ratio Rust/DuckDB {:.2}",
                rust / duck
            );
        }
        Err(e) => println!("DuckDB comparison skipped: {e}"),
    }
    if std::env::var_os("ECARTO_BENCH_KEEP").is_some() {
        println!("kept: {}", dir.display());
    } else {
        let _ = std::fs::remove_dir_all(&dir);
    }
}

/// Runs the DuckDB script in a virtualenv of its own; its time.
fn duckdb(dir: &Path) -> Result<f64, String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let venv = root.join("target/bench-venv");
    let python = venv.join("bin/python");
    if !python.exists() {
        let ok = Command::new("python3")
            .args(["-m", "venv"])
            .arg(&venv)
            .status()
            .map_err(|e| e.to_string())?
            .success();
        if !ok {
            return Err("python3 -m venv failed".into());
        }
    }
    let has = Command::new(&python)
        .args(["-c", "import duckdb"])
        .status()
        .is_ok_and(|s| s.success());
    if !has {
        let ok = Command::new(&python)
            .args(["-m", "pip", "install", "--quiet", "duckdb"])
            .status()
            .map_err(|e| e.to_string())?
            .success();
        if !ok {
            return Err("pip install duckdb failed".into());
        }
    }
    let out = Command::new(&python)
        .arg(root.join("scripts/duckdb_completeness.py"))
        .arg(dir.join("export.csv"))
        .arg(root.join("backend/catalog/fields.csv"))
        .arg(dir.join("rust-table.csv"))
        .output()
        .map_err(|e| e.to_string())?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    print!("{stdout}");
    if !out.status.success() {
        return Err(format!(
            "the tables differ or DuckDB failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    stdout
        .lines()
        .find_map(|l| l.strip_prefix("duckdb ")?.trim().parse().ok())
        .ok_or_else(|| "no time printed".into())
}

/// One phase in a fresh process; prints `seconds count peak_bytes`.
async fn child(phase: &str) {
    let url = std::env::var("ECARTO_BENCH_URL").expect("url");
    let file = PathBuf::from(std::env::var("ECARTO_BENCH_FILE").expect("file"));
    let dir = PathBuf::from(std::env::var("ECARTO_BENCH_DIR").expect("dir"));
    let conn = db::connect(&url).await.expect("connect");
    db::migrate(&conn).await.expect("migrate");
    match phase {
        "load" => {
            bench_support::load_sources(&conn, &file, SEED).await;
            println!("0 0 0");
        }
        "recompute" => {
            let started = Instant::now();
            let outcome = scores::recompute_full(&conn, &ScoresConfig::default())
                .await
                .expect("recompute");
            let secs = started.elapsed().as_secs_f64();
            let peak = peak_rss_bytes().unwrap_or(0);
            if url.starts_with("sqlite") {
                // The table DuckDB is compared with: the same backend as the export.
                write_table(&conn, &dir.join("rust-table.csv")).await;
            }
            println!("{secs} {} {peak}", outcome.written);
        }
        "forget-facts" => {
            use sea_orm::ConnectionTrait;
            conn.execute_unprepared(
                "UPDATE schools SET score_facts = NULL, score_facts_key = NULL",
            )
            .await
            .expect("forget facts");
            println!("0 0 0");
        }
        "export" => {
            let snapshot = exports::snapshot(&conn, None).await.expect("snapshot");
            exports::write_file(
                conn.clone(),
                snapshot,
                ExportFormat::Csv,
                &dir.join("export.csv"),
            )
            .await
            .expect("export");
            println!("0 0 0");
        }
        other => panic!("unknown phase {other}"),
    }
}

/// The stored département × type × secteur × field table, for the comparison with DuckDB.
async fn write_table(conn: &sea_orm::DatabaseConnection, path: &Path) {
    use std::fmt::Write;
    let codes: Vec<String> = school::Entity::find()
        .select_only()
        .column(school::Column::CodeDepartement)
        .distinct()
        .into_tuple::<Option<String>>()
        .all(conn)
        .await
        .expect("départements")
        .into_iter()
        .flatten()
        .collect();
    let mut out = String::from("departement;type;secteur;field;filled;expected\n");
    for code in codes {
        let Some((_, cube)) = scores::stored_cube(conn, Level::Departement, &code, None)
            .await
            .expect("stored scores")
        else {
            continue;
        };
        for (key, group) in &cube.groups {
            let (t, s) = key.split_once('|').unwrap_or((key, ""));
            for (f, c) in Catalog::get().fields().iter().zip(&group.fields) {
                let _ = writeln!(out, "{code};{t};{s};{};{};{}", f.name, c.filled, c.expected);
            }
        }
    }
    std::fs::write(path, out).expect("write table");
}
