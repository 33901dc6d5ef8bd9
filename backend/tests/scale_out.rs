//! Scale-out on PostgreSQL, with the real binary: two web replicas (`serve`, one with
//! `--no-jobs`) and one jobs-only process (`jobs scheduler`) on one database, behind a real
//! reverse proxy (Debian's HAProxy, round robin). A moderator signs in through the proxy (the
//! e-mail link asked on one replica, confirmed on the other); the session is valid on both;
//! an agent's file sent to one replica is decided on the other and published; each tick of
//! the jobs runs once although two processes schedule them.
//!
//! PostgreSQL only (`DATABASE_URL=postgres://…`): on SQLite it says so and stops, since
//! replicas share a server database by design.

mod common;
use common::free_port;

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use sea_orm::{ConnectionTrait, Database, Statement};

const BIN: &str = env!("CARGO_BIN_EXE_ecarto");

struct Process {
    name: &'static str,
    child: Child,
    log: PathBuf,
}

impl Process {
    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        // SIGTERM first, as systemd would; then make sure.
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn(name: &'static str, dir: &Path, db: &str, args: &[&str]) -> Process {
    let log = dir.join(format!("{name}.log"));
    let out = std::fs::File::create(&log).expect("log file");
    let child = Command::new(BIN)
        .args(args)
        .env("DATABASE_URL", db)
        .env("RUST_LOG", "info,ecarto=debug")
        .env("NO_COLOR", "1")
        .stdout(out.try_clone().expect("log"))
        .stderr(out)
        .spawn()
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    Process { name, child, log }
}

/// A CLI command on the platform's database, from a data folder of its own.
fn run(dir: &Path, db: &str, args: &[&str]) -> String {
    common::cli(&dir.join("cli"), Some(db), args)
}

async fn wait_ready(client: &reqwest::Client, url: &str, p: &mut Process) {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if let Ok(r) = client.get(format!("{url}/readyz")).send().await
            && r.status().is_success()
        {
            return;
        }
        if let Ok(Some(status)) = p.child.try_wait() {
            panic!("{} exited ({status}): {}", p.name, p.log());
        }
        assert!(
            Instant::now() < deadline,
            "{} not ready: {}",
            p.name,
            p.log()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// An e-mail's text with quoted-printable's folding undone, so that a link reads whole.
fn unfold(text: &str) -> String {
    text.replace("=\r\n", "")
        .replace("=\n", "")
        .replace("=3D", "=")
}

/// The e-mail link's token, once an outbox job of either jobs-running process has written it.
fn link_token(dirs: &[PathBuf], email: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        for dir in dirs {
            let Ok(entries) = std::fs::read_dir(dir.join("outbox")) else {
                continue;
            };
            for e in entries.flatten() {
                let text = std::fs::read_to_string(e.path()).unwrap_or_default();
                if text.contains(email)
                    && let Some(t) = unfold(&text).split("token=").nth(1)
                {
                    return t
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
                        .collect();
                }
            }
        }
        assert!(
            Instant::now() < deadline,
            "no e-mail for {email} in {dirs:?}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_and_a_jobs_process_behind_a_reverse_proxy() {
    let Some((db, admin, name)) = common::fresh_postgres("ecarto_scale").await else {
        eprintln!("scale-out: PostgreSQL only (DATABASE_URL=postgres://…); not run on SQLite");
        return;
    };
    let server = db
        .rsplit_once('/')
        .map_or(db.as_str(), |(s, _)| s)
        .to_owned();
    let exec = |sql: String| {
        let admin = &admin;
        async move { admin.execute_unprepared(&sql).await }
    };
    let tmp = tempfile::tempdir().expect("temp dir");
    let dir = tmp.path();

    let (pa, pb, proxy_port) = (free_port(), free_port(), free_port());
    let public = format!("http://127.0.0.1:{proxy_port}");
    let (a_url, b_url) = (
        format!("http://127.0.0.1:{pa}"),
        format!("http://127.0.0.1:{pb}"),
    );
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();

    // One migrates and loads the sample; the others start on the database it made.
    run(dir, &db, &["migrate"]);
    let (da, db_dir, dj) = (dir.join("a"), dir.join("b"), dir.join("jobs"));
    let replica = |name: &'static str, port: u16, data: &Path, no_jobs: bool| {
        let addr = format!("127.0.0.1:{port}");
        let data = data.to_string_lossy().into_owned();
        let mut args = vec![
            "serve",
            "--addr",
            &addr,
            "--public-url",
            &public,
            "--data-dir",
            &data,
        ];
        if no_jobs {
            args.push("--no-jobs");
        }
        spawn(name, dir, &db, &args)
    };
    let mut a = replica("replica-a", pa, &da, true);
    wait_ready(&client, &a_url, &mut a).await;
    let mut b = replica("replica-b", pb, &db_dir, false);
    wait_ready(&client, &b_url, &mut b).await;
    let jobs = spawn(
        "jobs",
        dir,
        &db,
        &[
            "jobs",
            "scheduler",
            "--public-url",
            &public,
            "--data-dir",
            dj.to_str().unwrap(),
        ],
    );
    let config = dir.join("haproxy.cfg");
    std::fs::write(
        &config,
        format!(
            "global\n  maxconn 256\ndefaults\n  mode http\n  timeout connect 5s\n  timeout client 60s\n  timeout server 60s\n\
             frontend web\n  bind 127.0.0.1:{proxy_port}\n  default_backend replicas\n\
             backend replicas\n  balance roundrobin\n  option httpchk GET /readyz\n  server a 127.0.0.1:{pa} check\n  server b 127.0.0.1:{pb} check\n"
        ),
    )
    .unwrap();
    let haproxy = which("haproxy").expect("HAProxy (scripts/test installs Debian's haproxy)");
    let log = dir.join("haproxy.log");
    let mut proxy = Process {
        name: "haproxy",
        child: Command::new(haproxy)
            .args(["-db", "-f", config.to_str().unwrap()])
            .stdout(std::fs::File::create(&log).unwrap())
            .stderr(std::fs::File::create(dir.join("haproxy.err")).unwrap())
            .spawn()
            .expect("haproxy"),
        log,
    };
    wait_ready(&client, &public, &mut proxy).await;

    // The people, given by the CLI as an admin would.
    for line in [
        "users add --email numerique@ille-et-vilaine.fr --org departement:35 --role contributor",
        "users add --email moderation@ac-rennes.fr --role moderator --territory departement:35",
    ] {
        run(dir, &db, &line.split(' ').collect::<Vec<_>>());
    }
    let token = run(
        dir,
        &db,
        &[
            "tokens",
            "create",
            "--email",
            "numerique@ille-et-vilaine.fr",
        ],
    )
    .trim()
    .to_owned();

    // The moderator signs in through the proxy: the link asked, then confirmed, each request
    // going to the next replica in turn.
    let asked = client
        .post(format!("{public}/auth/email"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("email=moderation%40ac-rennes.fr&return_to=%2Fmoderation")
        .send()
        .await
        .unwrap();
    assert!(
        asked.status().is_success(),
        "{}",
        asked.text().await.unwrap_or_default()
    );
    let link = link_token(
        &[db_dir.clone(), dj.clone(), da.clone()],
        "moderation@ac-rennes.fr",
    );
    let confirmed = client
        .post(format!("{public}/auth/email/confirm"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("token={link}"))
        .send()
        .await
        .unwrap();
    let cookie = confirmed
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("ecarto_session="))
        .map(|v| v.split(';').next().unwrap_or("").to_owned())
        .unwrap_or_else(|| panic!("no session: {}", confirmed.status()));
    // Valid on both replicas, whichever made it.
    let mut csrf = String::new();
    for replica in [&a_url, &b_url] {
        let me = client
            .get(format!("{replica}/api/v1/me"))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(me.status(), 200, "{replica}");
        let me: serde_json::Value = me.json().await.unwrap();
        assert_eq!(me["email"], "moderation@ac-rennes.fr", "{me}");
        csrf = me["csrf_token"].as_str().unwrap_or_default().to_owned();
    }

    let school = |replica: String| {
        let client = client.clone();
        async move {
            let res = client
                .get(format!("{replica}/api/v1/schools/0350017D"))
                .send()
                .await
                .unwrap();
            let cache = res
                .headers()
                .get("x-cache")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned();
            (res.text().await.unwrap_or_default(), cache)
        }
    };
    // Both replicas keep the school's answer in their caches…
    for replica in [&a_url, &b_url] {
        for expected in ["miss", "hit"] {
            let (body, cache) = school(replica.to_string()).await;
            assert!(body.contains("\"uai\":\"0350017D\""), "{replica}: {body}");
            assert!(!body.contains("\"nb_terminaux\":{\"value\":321"), "{body}");
            assert_eq!(cache, expected, "{replica}");
        }
    }
    // …a file sent to replica A…
    let file =
        "uai;date_inventaire;nb_terminaux;maintenance\n0350017D;2026-09-15;321;prestataire\n";
    let sent = client
        .post(format!(
            "{a_url}/api/v1/submissions?schema=inventaire-equipement&filename=inventaire.csv"
        ))
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "text/csv")
        .body(file)
        .send()
        .await
        .unwrap();
    let status = sent.status();
    let sent: serde_json::Value = sent.json().await.unwrap();
    assert!(status.is_success(), "{status} {sent}");
    let id = sent["id"].as_i64().unwrap_or_else(|| panic!("{sent}"));
    // …decided on replica B by the moderator's session…
    let decided = client
        .post(format!("{b_url}/api/v1/submissions/{id}/decision"))
        .header("cookie", &cookie)
        .header("x-csrf-token", &csrf)
        .header("origin", &public)
        .json(&serde_json::json!({"decision": "accept"}))
        .send()
        .await
        .unwrap();
    let status = decided.status();
    assert!(
        status.is_success(),
        "{status} {}",
        decided.text().await.unwrap_or_default()
    );
    // …and published: at once on B, which made the change; on A once it reads the published
    // state again, within a second (`answer_cache::FRESHNESS`).
    let (on_b, _) = school(b_url.clone()).await;
    assert!(on_b.contains("321"), "{b_url}: {on_b}");
    let decided_at = Instant::now();
    for replica in [&a_url, &public] {
        loop {
            let (body, cache) = school(replica.to_string()).await;
            if body.contains("321") {
                break;
            }
            assert!(
                decided_at.elapsed() < ecarto::http::answer_cache::FRESHNESS * 3,
                "{replica} still answers the old values ({cache}): {body}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    // Read again, from the caches.
    for replica in [&a_url, &b_url] {
        let (body, cache) = school(replica.to_string()).await;
        assert!(body.contains("321"), "{replica}: {body}");
        assert_eq!(cache, "hit", "{replica}");
    }

    // Jobs: the link's e-mail went out once; B and the jobs process both scheduled the ticks
    // that passed, each ran by one of them; A ran none.
    let conn = Database::connect(&db)
        .await
        .expect("the platform's database");
    // The outbox job's ticks are every 30 s: wait for one to pass (and its loser to say so).
    let deadline = Instant::now() + Duration::from_secs(75);
    while !(b.log().contains("another process ran this tick")
        || jobs.log().contains("another process ran this tick"))
    {
        assert!(
            Instant::now() < deadline,
            "no tick ran:\n{}\n{}",
            b.log(),
            jobs.log()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let rows = conn
        .query_all_raw(Statement::from_string(
            conn.get_database_backend(),
            "SELECT job, tick, COUNT(*) AS n FROM job_runs GROUP BY job, tick",
        ))
        .await
        .expect("job_runs");
    assert!(!rows.is_empty(), "no job ran: {}\n{}", b.log(), jobs.log());
    for r in &rows {
        let n: i64 = r.try_get("", "n").unwrap();
        assert_eq!(n, 1, "a tick ran {n} times");
    }
    let (b_log, j_log) = (b.log(), jobs.log());
    assert!(
        b_log.contains("another process ran this tick")
            || j_log.contains("another process ran this tick"),
        "both schedule the ticks, one runs each:\n{b_log}\n{j_log}"
    );
    let a_log = a.log();
    assert!(a_log.contains("scheduled jobs off here"), "{a_log}");
    assert!(
        !a_log.contains("job run claimed") && !a_log.contains("another process ran"),
        "{a_log}"
    );
    let mails = [&db_dir, &dj, &da]
        .iter()
        .filter_map(|d| std::fs::read_dir(d.join("outbox")).ok())
        .flat_map(|e| e.flatten())
        .filter(|e| std::fs::read_to_string(e.path()).is_ok_and(|t| unfold(&t).contains(&link)))
        .count();
    assert_eq!(mails, 1, "the link's e-mail, sent once");

    // Stopped (SIGTERM, as systemd does), backed up, restored into a fresh database: the same
    // rows in every table, the same e-mails in the outbox folder.
    drop((proxy, jobs, b, a));
    let scripts = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts");
    let backup = dir.join("backup");
    let restored_name = format!("{name}_restored");
    let restored_db = format!("{server}/{restored_name}");
    let restored_data = dir.join("restored-data");
    for (script, args) in [
        (
            "backup",
            [
                db.as_str(),
                db_dir.to_str().unwrap(),
                backup.to_str().unwrap(),
            ],
        ),
        (
            "restore",
            [
                backup.to_str().unwrap(),
                restored_db.as_str(),
                restored_data.to_str().unwrap(),
            ],
        ),
    ] {
        let out = Command::new(scripts.join(script))
            .args(args)
            .output()
            .expect(script);
        assert!(
            out.status.success(),
            "scripts/{script}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let restored = Database::connect(&restored_db)
        .await
        .expect("the restored database");
    let tables = conn
        .query_all_raw(Statement::from_string(
            conn.get_database_backend(),
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY 1",
        ))
        .await
        .expect("tables");
    assert!(tables.len() > 20, "{} tables", tables.len());
    let mut compared = 0;
    for t in &tables {
        let table: String = t.try_get("", "table_name").unwrap();
        let count = |c: &sea_orm::DatabaseConnection| {
            let sql = format!("SELECT COUNT(*) AS n FROM \"{table}\"");
            let c = c.clone();
            async move {
                c.query_one_raw(Statement::from_string(c.get_database_backend(), sql))
                    .await
                    .expect("count")
                    .map(|r| r.try_get::<i64>("", "n").unwrap())
            }
        };
        assert_eq!(count(&conn).await, count(&restored).await, "table {table}");
        compared += 1;
    }
    assert!(compared > 20);
    let files = |d: &Path| std::fs::read_dir(d.join("outbox")).map_or(0, |e| e.count());
    assert_eq!(files(&restored_data), files(&db_dir));
    assert!(files(&restored_data) >= 1);
    // Refused when the target database exists: nothing is overwritten.
    let again = Command::new(scripts.join("restore"))
        .args([
            backup.to_str().unwrap(),
            restored_db.as_str(),
            restored_data.to_str().unwrap(),
        ])
        .output()
        .expect("restore");
    assert!(!again.status.success());
    let _ = restored.close().await;
    let _ = conn.close().await;
    for n in [&name, &restored_name] {
        let _ = exec(format!("DROP DATABASE IF EXISTS \"{n}\" WITH (FORCE)")).await;
    }
}

fn which(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/sbin")])
            .map(|p| p.join(program))
            .find(|p| p.is_file())
    })
}
