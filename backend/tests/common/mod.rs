//! What the binary's integration tests share.
#![allow(dead_code)]

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// A process of the platform, killed (SIGKILL) with the test.
pub struct Server(pub std::process::Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// `ecarto` on the data folder `dir` and the database `db` (the folder's SQLite file when
/// `None`, whatever DATABASE_URL the suite runs with).
pub fn command(dir: &Path, db: Option<&str>) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ecarto"));
    cmd.arg("--data-dir").arg(dir);
    match db {
        Some(url) => cmd.env("DATABASE_URL", url),
        None => cmd.env_remove("DATABASE_URL"),
    };
    cmd
}

/// A CLI command that must succeed: its output.
pub fn cli(dir: &Path, db: Option<&str>, args: &[&str]) -> String {
    let out = command(dir, db).args(args).output().expect("ecarto");
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// `ecarto serve` on `port`, with `extra` arguments.
pub fn start(dir: &Path, db: Option<&str>, port: u16, extra: &[&str]) -> Server {
    Server(
        command(dir, db)
            .args(["serve", "--addr", &format!("127.0.0.1:{port}")])
            .args(extra)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("serve"),
    )
}

/// Until the platform at `url` answers `/readyz` (its database answers too).
pub async fn wait_ready(url: &str) {
    let http = reqwest::Client::new();
    let started = Instant::now();
    while !http
        .get(format!("{url}/readyz"))
        .send()
        .await
        .is_ok_and(|r| r.status().is_success())
    {
        assert!(started.elapsed().as_secs() < 120, "serve did not start");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// On a PostgreSQL run of the suite (`DATABASE_URL=postgres://…`), a fresh database for one
/// test, and a connection to its server to drop it; `None` on SQLite.
pub async fn fresh_postgres(name: &str) -> Option<(String, sea_orm::DatabaseConnection, String)> {
    use sea_orm::ConnectionTrait;
    let url = std::env::var("DATABASE_URL")
        .ok()
        .filter(|u| u.starts_with("postgres"))?;
    let server = url
        .rsplit_once('/')
        .map_or(url.clone(), |(s, _)| s.to_owned());
    let admin = sea_orm::Database::connect(format!("{server}/postgres"))
        .await
        .expect("PostgreSQL");
    let db = format!("{name}_{}", std::process::id());
    for sql in [
        format!("DROP DATABASE IF EXISTS \"{db}\" WITH (FORCE)"),
        format!("CREATE DATABASE \"{db}\""),
    ] {
        admin.execute_unprepared(&sql).await.expect(&sql);
    }
    Some((format!("{server}/{db}"), admin, db))
}
