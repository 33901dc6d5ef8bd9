//! Benchmark: import of a 65,000-school synthetic annuaire file and a full CSV export of it, on
//! SQLite and on PostgreSQL (when reachable), each phase in a child process of its own so that
//! its peak memory (VmHWM) is its own.
//!
//! `cargo bench -p ecarto-backend --bench import_export [-- --schools N]`
//! Targets on a 2-core machine: import ≥ 20,000 rows/s, export ≥ 100,000 rows/s, peak < 300 MB.
//! PostgreSQL: `BENCH_POSTGRES_URL` (default `postgres://postgres@127.0.0.1:5432/postgres`).

use std::{path::PathBuf, time::Instant};

/// glibc's allocator spent a third of an import in malloc/free and its arena lock (perf);
/// mimalloc's per-thread heaps remove most of it.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use ecarto::{
    bench_support::{
        self, BenchBackends, SyntheticAnnuaire, mib, peak_rss_bytes, run_child, synthetic_annuaire,
    },
    db,
    domain::export::ExportFormat,
    importers::ImportKind,
    services::{exports, imports, territories},
};

const SEED: u64 = 2018;

fn main() {
    bench_support::main(parent, |phase| async move { child(&phase).await });
}

async fn parent(schools: usize) {
    let started = Instant::now();
    let SyntheticAnnuaire {
        dir,
        file,
        communes,
        bytes,
    } = synthetic_annuaire("import", schools, SEED);
    println!(
        "synthetic annuaire: {schools} schools over {communes} communes, {} , generated in {:.2} s",
        mib(bytes),
        started.elapsed().as_secs_f64()
    );

    let backends = BenchBackends::new(&dir, "ecarto_bench").await;

    println!(
        "{:<9} {:>7} {:>10} {:>13} {:>10} | {:>7} {:>10} {:>13} {:>10}",
        "backend", "import", "", "rows/s", "peak", "export", "", "rows/s", "peak"
    );
    for (name, url) in &backends.urls {
        let import = run_child("import", url, &file, &dir);
        let export = run_child("export", url, &file, &dir);
        println!(
            "{name:<9} {:>6.2}s {:>10} {:>13.0} {:>10} | {:>6.2}s {:>10} {:>13.0} {:>10}",
            import.secs,
            format!("{} rows", import.rows),
            import.rows as f64 / import.secs,
            mib(import.peak),
            export.secs,
            format!("{} rows", export.rows),
            export.rows as f64 / export.secs,
            mib(export.peak),
        );
    }
    backends.drop_postgres().await;
    let _ = std::fs::remove_dir_all(&dir);
}

/// One phase in a fresh process; prints `seconds rows peak_bytes`.
async fn child(phase: &str) {
    let url = std::env::var("ECARTO_BENCH_URL").expect("url");
    let file = PathBuf::from(std::env::var("ECARTO_BENCH_FILE").expect("file"));
    let dir = PathBuf::from(std::env::var("ECARTO_BENCH_DIR").expect("dir"));
    let conn = db::connect(&url).await.expect("connect");
    db::migrate(&conn).await.expect("migrate");
    match phase {
        "import" => {
            territories::ensure_loaded(&conn)
                .await
                .expect("territories");
            let started = Instant::now();
            let bytes = std::fs::read(&file).expect("read file");
            let outcome = imports::import_file(
                &conn,
                ImportKind::Annuaire,
                "annuaire-synthetique.csv",
                &bytes,
            )
            .await
            .expect("import");
            let secs = started.elapsed().as_secs_f64();
            assert_eq!(
                outcome.report.rows_rejected, 0,
                "synthetic rows are all valid"
            );
            println!(
                "{secs} {} {}",
                outcome.report.rows_imported,
                peak_rss_bytes().unwrap_or(0)
            );
        }
        "export" => {
            let started = Instant::now();
            let snapshot = exports::snapshot(&conn, None).await.expect("snapshot");
            let summary = exports::write_file(
                conn.clone(),
                snapshot,
                ExportFormat::Csv,
                &dir.join("export.csv"),
            )
            .await
            .expect("export");
            let secs = started.elapsed().as_secs_f64();
            println!(
                "{secs} {} {}",
                summary.schools,
                peak_rss_bytes().unwrap_or(0)
            );
        }
        other => panic!("unknown phase {other}"),
    }
}
