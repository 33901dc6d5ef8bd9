//! PostgreSQL restarted under load, with the real binary on a PostgreSQL cluster of the test's
//! own (Debian's `pg_createcluster`, on a free port, dropped at the end): while the database
//! is down every request is answered 503 with a message, never 500; once it is back the
//! platform answers again by itself, and nothing stored before is lost.
//!
//! Runs where the suite runs on PostgreSQL (`DATABASE_URL=postgres://…`) and the cluster
//! tools are installed; on SQLite it says so and stops.

mod common;
use common::{Server, free_port};

use std::process::Command;
use std::sync::{
    Arc,
    atomic::{AtomicBool, Ordering},
};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_ecarto");

struct Cluster {
    version: String,
    name: String,
}

impl Cluster {
    fn ctl(&self, action: &str) {
        let out = Command::new("pg_ctlcluster")
            .args([
                "--skip-systemctl-redirect",
                &self.version,
                &self.name,
                action,
                "-m",
                "fast",
            ])
            .output()
            .expect("pg_ctlcluster");
        assert!(
            out.status.success(),
            "pg_ctlcluster {action}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = Command::new("pg_dropcluster")
            .args(["--stop", &self.version, &self.name])
            .output();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgresql_restarted_under_load_gives_503_then_recovers_and_loses_nothing() {
    if !std::env::var("DATABASE_URL").is_ok_and(|u| u.starts_with("postgres")) {
        eprintln!("PostgreSQL restarted under load: runs with DATABASE_URL=postgres://…");
        return;
    }
    let Some(version) = std::fs::read_dir("/etc/postgresql")
        .ok()
        .and_then(|mut d| d.next())
        .and_then(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
    else {
        eprintln!("PostgreSQL restarted under load: Debian's cluster tools are not installed");
        return;
    };
    let pg_port = free_port();
    let cluster = Cluster {
        version,
        name: format!("ecartofaults{}", std::process::id()),
    };
    let made = Command::new("pg_createcluster")
        .args([
            &cluster.version,
            &cluster.name,
            "-p",
            &pg_port.to_string(),
            "--start",
        ])
        .args(["--", "--auth=trust"])
        .output()
        .expect("pg_createcluster");
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let server = format!("postgres://postgres@127.0.0.1:{pg_port}");
    let admin = sea_orm::Database::connect(format!("{server}/postgres"))
        .await
        .expect("the test's cluster");
    use sea_orm::ConnectionTrait;
    admin
        .execute_unprepared("CREATE DATABASE ecarto")
        .await
        .expect("create");
    drop(admin);
    let db = format!("{server}/ecarto");

    let dir = tempfile::tempdir().unwrap();
    let ecarto = |args: &[&str]| {
        let out = Command::new(BIN)
            .arg("--data-dir")
            .arg(dir.path())
            .args(args)
            .env("DATABASE_URL", &db)
            .output()
            .expect("ecarto");
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };
    ecarto(&["migrate"]);
    ecarto(&[
        "users",
        "add",
        "--email",
        "dne@education.gouv.fr",
        "--role",
        "admin",
    ]);
    let token = ecarto(&["tokens", "create", "--email", "dne@education.gouv.fr"]);

    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    let _serve = Server(
        Command::new(BIN)
            .arg("--data-dir")
            .arg(dir.path())
            .args(["serve", "--addr", &format!("127.0.0.1:{port}")])
            .env("DATABASE_URL", &db)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("serve"),
    );
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    let started = Instant::now();
    while !http
        .get(format!("{url}/readyz"))
        .send()
        .await
        .is_ok_and(|r| r.status().is_success())
    {
        assert!(started.elapsed().as_secs() < 120, "serve did not start");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Something stored before the restart: a school's published values.
    let file = "uai;date_inventaire;nb_terminaux\n0350017D;2026-09-15;77\n";
    let sent = http
        .post(format!(
            "{url}/api/v1/submissions?schema=inventaire-equipement&filename=i.csv"
        ))
        .bearer_auth(&token)
        .header("content-type", "text/csv")
        .body(file)
        .send()
        .await
        .unwrap();
    assert!(
        sent.status().is_success(),
        "{}",
        sent.text().await.unwrap_or_default()
    );
    let submission = || async {
        http.get(format!("{url}/api/v1/submissions/1"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    };
    let before = submission().await;

    // Load: four clients asking for national figures and a submission, without pause.
    let stop = Arc::new(AtomicBool::new(false));
    let mut clients = Vec::new();
    for i in 0..4 {
        let (http, url, token, stop) = (http.clone(), url.clone(), token.clone(), stop.clone());
        clients.push(tokio::spawn(async move {
            let mut seen: Vec<(Instant, u16, String)> = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let req = if i % 2 == 0 {
                    http.get(format!("{url}/api/v1/territories/national"))
                } else {
                    http.get(format!("{url}/api/v1/submissions/1"))
                        .bearer_auth(&token)
                };
                match req.send().await {
                    Ok(r) => {
                        let status = r.status().as_u16();
                        let body = r.text().await.unwrap_or_default();
                        seen.push((Instant::now(), status, body));
                    }
                    Err(e) => seen.push((Instant::now(), 0, e.to_string())),
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            seen
        }));
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let down = Instant::now();
    cluster.ctl("stop");
    // Longer than a request waits for a connection (5 s).
    tokio::time::sleep(Duration::from_secs(8)).await;
    cluster.ctl("start");
    let up = Instant::now();
    // Back by itself: no restart of the platform.
    let recovered = loop {
        if http
            .get(format!("{url}/readyz"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            break Instant::now();
        }
        assert!(up.elapsed().as_secs() < 60, "the platform did not recover");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    tokio::time::sleep(Duration::from_secs(1)).await;
    stop.store(true, Ordering::Relaxed);
    let mut seen = Vec::new();
    for c in clients {
        seen.extend(c.await.unwrap());
    }
    let statuses = |from: Instant, to: Instant| {
        seen.iter()
            .filter(|(at, _, _)| *at >= from && *at <= to)
            .map(|(_, s, _)| *s)
            .collect::<Vec<_>>()
    };
    let outage = statuses(down + Duration::from_millis(500), up);
    assert!(
        outage.contains(&503),
        "503 while the database is down: {outage:?}"
    );
    let bad: Vec<&(Instant, u16, String)> = seen
        .iter()
        .filter(|(_, s, _)| !matches!(s, 200 | 503))
        .collect();
    assert!(
        bad.is_empty(),
        "only 200 or 503: {:?}",
        &bad[..bad.len().min(3)]
    );
    let said = seen
        .iter()
        .find(|(_, s, _)| *s == 503)
        .map(|(_, _, b)| b.clone())
        .unwrap();
    assert!(said.contains("momentanément indisponible"), "{said}");
    let after = statuses(recovered + Duration::from_millis(500), Instant::now());
    assert!(
        !after.is_empty() && after.iter().all(|s| *s == 200),
        "{after:?}"
    );
    // Nothing lost.
    assert_eq!(submission().await, before);
    drop(cluster);
}
