//! PostgreSQL restarted under load, with the real binary on a PostgreSQL cluster of the test's
//! own (Debian's `pg_createcluster`, on a free port, dropped at the end): while the database
//! is down every request is answered 503 with a message, never 500; once it is back the
//! platform answers again by itself, and nothing stored before is lost.
//!
//! Runs where the suite runs on PostgreSQL (`DATABASE_URL=postgres://…`) and the cluster
//! tools are installed; on SQLite it says so and stops.

mod common;
use common::free_port;

use std::process::Command;
use std::sync::{
    Arc,
    atomic::{AtomicBool, Ordering},
};
use std::time::{Duration, Instant};

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
    let ecarto = |args: &[&str]| common::cli(dir.path(), Some(&db), args);
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
    let _serve = common::start(dir.path(), Some(&db), port, &[]);
    common::wait_ready(&url).await;
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();
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

/// The data folder's disk full during an upload (SQLite, on a small tmpfs mounted for the test;
/// it needs the right to mount, which CI has): a clear 507 answer, nothing of the upload
/// stored, and the same file accepted once there is room again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_during_an_upload_is_a_clear_error_and_stores_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=96m", "tmpfs"])
        .arg(&data)
        .output()
        .is_ok_and(|o| o.status.success());
    if !mounted {
        eprintln!("a full disk: cannot mount a tmpfs here (needs root); not run");
        return;
    }
    struct Unmount(std::path::PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = Command::new("umount").arg("-l").arg(&self.0).output();
        }
    }
    let _unmount = Unmount(data.clone());
    let ecarto = |args: &[&str]| common::cli(&data, None, args);
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
    let _serve = common::start(&data, None, port, &["--no-sample"]);
    common::wait_ready(&url).await;
    let http = reqwest::Client::new();
    // A national inventory with comments, about 10 MB to store: more than the WAL file already
    // holds, so that the write needs new room on the disk.
    let mut file = String::from("uai;date_inventaire;nb_terminaux;commentaire\n");
    for i in 0..40_000 {
        let digits = format!("{:07}", 350_000 + i);
        let uai = format!(
            "{digits}{}",
            ecarto::domain::uai::expected_check_letter(&digits)
        );
        file.push_str(&format!(
            "{uai};2026-09-15;{};{}\n",
            i % 90,
            "x".repeat(220)
        ));
    }
    let send = || async {
        http.post(format!(
            "{url}/api/v1/submissions?schema=inventaire-equipement&filename=national.csv"
        ))
        .bearer_auth(&token)
        .header("content-type", "text/csv")
        .body(file.clone())
        .send()
        .await
        .unwrap()
    };
    let stored = || async {
        http.get(format!("{url}/api/v1/submissions/1"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    };

    // Fill the disk but for a few kilobytes.
    let avail = |path: &std::path::Path| -> u64 {
        let out = Command::new("df")
            .args(["--output=avail", "-B1"])
            .arg(path)
            .output()
            .expect("df");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .nth(1)
            .and_then(|l| l.trim().parse().ok())
            .unwrap_or(0)
    };
    let filler = data.join("filler");
    let room = avail(&data).saturating_sub(16 * 1024);
    std::fs::write(&filler, vec![0u8; room as usize]).unwrap();

    let full = send().await;
    let status = full.status().as_u16();
    let said: String = full
        .text()
        .await
        .unwrap_or_default()
        .chars()
        .take(600)
        .collect();
    assert_eq!(status, 507, "{said}");
    assert!(
        said.contains("Espace disque insuffisant") && said.contains("rien n'a été enregistré"),
        "{said}"
    );
    assert_eq!(stored().await, 404, "nothing of the upload was stored");

    // Room again: the same file goes through, and nothing of the first attempt is in the way.
    std::fs::remove_file(&filler).unwrap();
    let ok = send().await;
    assert!(
        ok.status().is_success(),
        "{}",
        ok.text().await.unwrap_or_default()
    );
    assert_eq!(stored().await, 200);
}
