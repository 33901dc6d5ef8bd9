//! Benchmark: validation of a 100,000-row `inventaire-equipement` CSV with about 2 % invalid
//! rows (generated deterministically), then Frictionless on the same file with the generated
//! Table Schema, and the ratio.
//!
//! `cargo bench -p ecarto-backend --bench validate [-- --rows N]`
//! Targets on a 2-core machine: ≥ 300,000 rows/s, peak memory < 200 MB, ≥ 30× Frictionless.
//! Frictionless runs from a virtualenv under `target/bench-venv`, created on first run with
//! `pip install frictionless` (PyPI); `--no-frictionless` skips it.

use std::{path::Path, process::Command, time::Instant};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use ecarto::{
    bench_support::{mib, peak_rss_bytes},
    synthetic,
    validation::{self, Options},
};
use ecarto_contrib_schemas::Registry;

const SEED: u64 = 2018;
const INVALID_SHARE: f64 = 0.02;
const SCRIPT: &str = include_str!("frictionless_validate.py");

fn arg(name: &str) -> Option<String> {
    std::env::args().skip_while(|a| a != name).nth(1)
}

fn main() {
    if let Ok(file) = std::env::var("ECARTO_BENCH_VALIDATE_FILE") {
        child(Path::new(&file));
        return;
    }
    let rows: usize = arg("--rows")
        .and_then(|n| n.parse().ok())
        .unwrap_or(100_000);
    let target = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/bench-validate");
    std::fs::create_dir_all(&target).expect("bench folder");
    let file = target.join(format!("inventaire-{rows}.csv"));
    let mut bytes = Vec::new();
    let invalid =
        synthetic::write_inventaire(&mut bytes, rows, SEED, INVALID_SHARE).expect("generate");
    std::fs::write(&file, &bytes).expect("write");
    let schema = Registry::embedded()
        .resolve("inventaire-equipement")
        .expect("schema");
    let table_schema = target.join("inventaire-equipement.table-schema.json");
    std::fs::write(
        &table_schema,
        serde_json::to_vec_pretty(&schema.table_schema("https://ecarto.example/schemas"))
            .expect("json"),
    )
    .expect("write table schema");
    println!(
        "synthetic inventaire-equipement: {rows} rows ({invalid} made invalid), {}",
        mib(bytes.len() as u64)
    );
    let out = Command::new(std::env::current_exe().expect("exe"))
        .env("ECARTO_BENCH_VALIDATE_FILE", &file)
        .output()
        .expect("child");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "validation failed: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    print!("{stdout}");
    let secs: f64 = stdout
        .lines()
        .find_map(|l| l.strip_prefix("seconds="))
        .and_then(|s| s.parse().ok())
        .expect("seconds line");
    println!("ecarto: {:.3} s, {:.0} rows/s", secs, rows as f64 / secs);
    if std::env::args().any(|a| a == "--no-frictionless") {
        return;
    }
    match frictionless(&target, &file, &table_schema) {
        Ok(f) => println!(
            "frictionless: {:.2} s, {:.0} rows/s, {} errors found — ecarto is {:.0}× faster",
            f.0,
            rows as f64 / f.0,
            f.1,
            f.0 / secs
        ),
        Err(e) => println!("frictionless not run: {e}"),
    }
}

/// Validates in this process and prints its figures: time, findings, peak memory.
fn child(file: &Path) {
    let schema = Registry::embedded()
        .resolve("inventaire-equipement")
        .expect("schema");
    let started = Instant::now();
    let bytes = std::fs::read(file).expect("read");
    let options = Options::new(10_000_000);
    let v = validation::validate(
        schema,
        &bytes,
        file.file_name().and_then(|n| n.to_str()),
        &options,
    )
    .expect("usable");
    let secs = started.elapsed().as_secs_f64();
    let s = &v.report.stats;
    println!(
        "rows {} | valid {} | invalid {} | errors {} | warnings {} | peak {}",
        s.rows,
        s.valid_rows,
        s.invalid_rows,
        s.errors,
        s.warnings,
        mib(peak_rss_bytes().unwrap_or(0))
    );
    for (rule, c) in &v.report.by_rule {
        println!("  {rule}: {} errors, {} warnings", c.errors, c.warnings);
    }
    println!("seconds={secs}");
}

/// Runs Frictionless from a virtualenv under `target/`; returns (seconds, errors).
fn frictionless(target: &Path, file: &Path, schema: &Path) -> Result<(f64, u64), String> {
    let venv = target.join("../bench-venv");
    let python = venv.join("bin/python");
    if !python.exists() {
        println!(
            "creating {} and installing frictionless from PyPI…",
            venv.display()
        );
        let ok = Command::new("python3")
            .args(["-m", "venv"])
            .arg(&venv)
            .status()
            .map_err(|e| e.to_string())?;
        if !ok.success() {
            return Err("python3 -m venv failed".into());
        }
        let ok = Command::new(&python)
            .args(["-m", "pip", "install", "--quiet", "frictionless>=5,<6"])
            .status()
            .map_err(|e| e.to_string())?;
        if !ok.success() {
            return Err("pip install frictionless failed".into());
        }
    }
    let script = target.join("frictionless_validate.py");
    std::fs::write(&script, SCRIPT).map_err(|e| e.to_string())?;
    let out = Command::new(&python)
        .arg(&script)
        .arg(file.file_name().ok_or("file name")?)
        .arg(schema.file_name().ok_or("schema name")?)
        .current_dir(target)
        .output()
        .map_err(|e| e.to_string())?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        return Err(format!("{stdout}{}", String::from_utf8_lossy(&out.stderr)));
    }
    let field = |k: &str| {
        stdout
            .lines()
            .find_map(|l| l.strip_prefix(k))
            .map(str::to_owned)
    };
    let secs = field("seconds=")
        .and_then(|s| s.parse().ok())
        .ok_or("no seconds")?;
    let errors = field("errors=").and_then(|s| s.parse().ok()).unwrap_or(0);
    Ok((secs, errors))
}
