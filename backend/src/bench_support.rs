//! Support for the benchmarks (import, export and scores of a national-scale dataset): their
//! entry point, their synthetic input, child processes, and what each costs in memory.

/// The process's peak resident memory in bytes (`VmHWM` of `/proc/self/status`), or `None`
/// where procfs is not available (not Linux).
pub fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status_field_bytes(&status, "VmHWM")
}

/// Reads a `Name:   1234 kB` line of `/proc/<pid>/status`.
fn status_field_bytes(status: &str, name: &str) -> Option<u64> {
    status.lines().find_map(|line| {
        let rest = line.strip_prefix(name)?.strip_prefix(':')?;
        let mut parts = rest.split_whitespace();
        let n: u64 = parts.next()?.parse().ok()?;
        match parts.next() {
            Some("kB") | None => Some(n * 1024),
            Some(_) => None,
        }
    })
}

/// Bytes as mebibytes with one decimal, for reports.
pub fn mib(bytes: u64) -> String {
    format!("{:.1} Mio", bytes as f64 / (1024.0 * 1024.0))
}

/// What a benchmark phase run in a child process reported: `seconds count peak_bytes` on its
/// last line.
pub struct Figures {
    pub secs: f64,
    pub rows: u64,
    pub peak: u64,
}

/// Runs one phase of the current benchmark in a fresh process (`ECARTO_BENCH_PHASE`), so that
/// its peak memory is its own.
pub fn run_child(phase: &str, url: &str, file: &std::path::Path, dir: &std::path::Path) -> Figures {
    let exe = std::env::current_exe().unwrap_or_else(|e| panic!("current exe: {e}"));
    let out = std::process::Command::new(exe)
        .env("ECARTO_BENCH_PHASE", phase)
        .env("ECARTO_BENCH_URL", url)
        .env("ECARTO_BENCH_FILE", file)
        .env("ECARTO_BENCH_DIR", dir)
        // A child's diagnostics go straight to the terminal.
        .stderr(std::process::Stdio::inherit())
        .output()
        .unwrap_or_else(|e| panic!("run child: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        panic!("{phase} failed: {stdout}");
    }
    let line = stdout.lines().last().unwrap_or_default();
    let mut parts = line
        .split_whitespace()
        .map(|x| x.parse::<f64>().unwrap_or(0.0));
    Figures {
        secs: parts.next().unwrap_or(0.0),
        rows: parts.next().unwrap_or(0.0) as u64,
        peak: parts.next().unwrap_or(0.0) as u64,
    }
}

/// The databases a benchmark runs on: a SQLite file in `dir`, and a fresh PostgreSQL database
/// (`BENCH_POSTGRES_URL`, default the local server) when one is reachable.
pub struct BenchBackends {
    pub urls: Vec<(&'static str, String)>,
    admin: String,
    pg_name: String,
}

impl BenchBackends {
    pub async fn new(dir: &std::path::Path, prefix: &str) -> Self {
        use sea_orm::ConnectionTrait;
        let mut urls = vec![(
            "sqlite",
            format!("sqlite://{}?mode=rwc", dir.join("bench.sqlite").display()),
        )];
        let admin = std::env::var("BENCH_POSTGRES_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
        let pg_name = format!("{prefix}_{}", std::process::id());
        match sea_orm::Database::connect(&admin).await {
            Ok(conn) => {
                for sql in [
                    format!("DROP DATABASE IF EXISTS \"{pg_name}\""),
                    format!("CREATE DATABASE \"{pg_name}\""),
                ] {
                    conn.execute_unprepared(&sql)
                        .await
                        .unwrap_or_else(|e| panic!("{sql}: {e}"));
                }
                let (server, _) = admin.rsplit_once('/').unwrap_or((admin.as_str(), ""));
                urls.push(("postgres", format!("{server}/{pg_name}")));
            }
            Err(e) => println!("PostgreSQL not reachable at {admin} ({e}): SQLite only"),
        }
        Self {
            urls,
            admin,
            pg_name,
        }
    }

    /// Drops the PostgreSQL database, if one was made.
    pub async fn drop_postgres(&self) {
        use sea_orm::ConnectionTrait;
        if self.urls.len() > 1
            && let Ok(conn) = sea_orm::Database::connect(&self.admin).await
        {
            let _ = conn
                .execute_unprepared(&format!(
                    "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
                    self.pg_name
                ))
                .await;
        }
    }
}

/// A benchmark's numeric option (`-- --rate 500`), or its default.
pub fn arg(name: &str, default: u64) -> u64 {
    std::env::args()
        .skip_while(|a| a != name)
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(default)
}

/// A benchmark binary's entry point: the parent (`-- --schools N`, 65,000 by default) runs
/// its phases in child processes; a child (`ECARTO_BENCH_PHASE` set) runs the one it is given.
pub fn main<P, C>(parent: impl FnOnce(usize) -> P, child: impl FnOnce(String) -> C)
where
    P: std::future::Future<Output = ()>,
    C: std::future::Future<Output = ()>,
{
    let schools = std::env::args()
        .skip_while(|a| a != "--schools")
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(65_000usize);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    match std::env::var("ECARTO_BENCH_PHASE") {
        Ok(phase) => rt.block_on(child(phase)),
        Err(_) => rt.block_on(parent(schools)),
    }
}

/// The deterministic synthetic annuaire a benchmark starts from, written to a folder of its
/// own under the temporary directory.
pub struct SyntheticAnnuaire {
    pub dir: std::path::PathBuf,
    pub file: std::path::PathBuf,
    pub communes: usize,
    pub bytes: u64,
}

pub fn synthetic_annuaire(bench: &str, schools: usize, seed: u64) -> SyntheticAnnuaire {
    let dir = std::env::temp_dir().join(format!("ecarto-bench-{bench}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let file = dir.join("annuaire-synthetique.csv");
    let reference =
        crate::reference::territories::TerritoryReference::bundled().expect("bundled territories");
    let seeds = crate::services::demo::commune_seeds(&reference);
    let mut bytes = Vec::new();
    crate::synthetic::write_annuaire(&mut bytes, &seeds, schools, seed).expect("generate");
    std::fs::write(&file, &bytes).expect("write synthetic file");
    SyntheticAnnuaire {
        dir,
        file,
        communes: seeds.len(),
        bytes: bytes.len() as u64,
    }
}

/// The national dataset a benchmark serves: the synthetic annuaire, an ETIC survey of its public
/// schools (with its gaps), the scores computed.
pub async fn load_national(state: &crate::app::AppState, file: &std::path::Path, seed: u64) {
    load_sources(&state.db, file, seed).await;
    crate::services::scores::recompute_full(&state.db, &crate::config::ScoresConfig::default())
        .await
        .expect("scores");
}

/// The synthetic annuaire and an ETIC survey of its public schools in UAI order (the same
/// answers on every backend), without the scores.
pub async fn load_sources(conn: &sea_orm::DatabaseConnection, file: &std::path::Path, seed: u64) {
    use crate::{
        entities::school,
        importers::ImportKind,
        services::{imports, territories},
    };
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
    territories::ensure_loaded(conn).await.expect("territories");
    let bytes = std::fs::read(file).expect("read file");
    imports::import_file(conn, ImportKind::Annuaire, "annuaire.csv", &bytes)
        .await
        .expect("import annuaire");
    let public: Vec<String> = school::Entity::find()
        .select_only()
        .column(school::Column::Uai)
        .filter(school::Column::Secteur.eq("public"))
        .order_by_asc(school::Column::Uai)
        .into_tuple()
        .all(conn)
        .await
        .expect("public schools");
    let mut etic = Vec::new();
    crate::synthetic::write_etic(&mut etic, &public, seed).expect("generate ETIC");
    imports::import_file(conn, ImportKind::Etic, "etic.csv", &etic)
        .await
        .expect("import ETIC");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_status_lines() {
        let status =
            "Name:\tecarto\nVmPeak:\t  300000 kB\nVmHWM:\t   45678 kB\nVmRSS:\t   40000 kB\n";
        assert_eq!(status_field_bytes(status, "VmHWM"), Some(45678 * 1024));
        assert_eq!(status_field_bytes(status, "VmRSS"), Some(40000 * 1024));
        assert_eq!(status_field_bytes(status, "VmSwap"), None);
        if cfg!(target_os = "linux") {
            // Both from one reading: the kernel reports the peak as at least the current RSS.
            let status = std::fs::read_to_string("/proc/self/status").expect("procfs");
            let peak = status_field_bytes(&status, "VmHWM").expect("VmHWM");
            assert!(peak >= status_field_bytes(&status, "VmRSS").expect("VmRSS"));
            assert!(peak_rss_bytes().is_some_and(|p| p >= peak));
        }
    }
}
