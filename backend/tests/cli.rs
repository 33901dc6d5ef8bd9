//! `ecarto validate`, the real binary: exit codes, report forms, annotated files, offline.

#![allow(clippy::unwrap_used)]

mod common;
use common::{Server, free_port};

use std::process::Command;

const VALID: &str =
    "uai;date_inventaire;nb_terminaux;maintenance\n0350006S;2025-09-01;12;collectivite\n";
const INVALID: &str = "uai;date_inventaire;nb_terminaux;maintenance\n0350006S;2025-09-01;-2;mairie\n0350008U;01/09/2025;3;\n";

fn ecarto(dir: &std::path::Path, args: &[&str]) -> (i32, String, String) {
    ecarto_on(dir, None, args)
}

/// The CLI on the SQLite file of `dir`, or on the PostgreSQL database `db`.
fn ecarto_on(dir: &std::path::Path, db: Option<&str>, args: &[&str]) -> (i32, String, String) {
    let out = common::command(dir, db).args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn validate_exit_codes_reports_and_annotated_files() {
    let dir = tempfile::tempdir().unwrap();
    let path = |name: &str| dir.path().join(name);
    std::fs::write(path("ok.csv"), VALID).unwrap();
    std::fs::write(path("bad.csv"), INVALID).unwrap();
    std::fs::write(path("garbage.csv"), [0u8, 1, 2, 3, 0, 255]).unwrap();
    let p = |name: &str| path(name).to_string_lossy().into_owned();

    let (code, out, _) = ecarto(
        dir.path(),
        &[
            "validate",
            "--schema",
            "inventaire-equipement",
            &p("ok.csv"),
        ],
    );
    assert_eq!(code, 0, "{out}");
    assert!(out.starts_with("Le fichier est valide"), "{out}");
    assert!(
        out.contains("non vérifiés dans l'annuaire"),
        "offline without a database: {out}"
    );

    let (code, out, _) = ecarto(
        dir.path(),
        &[
            "validate",
            "--schema",
            "inventaire-equipement@v1",
            &p("bad.csv"),
        ],
    );
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("Ligne 2, colonne « nb_terminaux »"), "{out}");
    assert!(
        out.contains("Ligne 3, colonne « date_inventaire »"),
        "{out}"
    );

    let (code, out, _) = ecarto(
        dir.path(),
        &[
            "validate",
            "--schema",
            "inventaire-equipement",
            "--format",
            "json",
            &p("bad.csv"),
        ],
    );
    assert_eq!(code, 1);
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["stats"]["invalid_rows"], 1);
    assert_eq!(report["valid_row_ranges"], serde_json::json!([[3, 3]]));

    let (code, out, _) = ecarto(
        dir.path(),
        &[
            "validate",
            "--schema",
            "inventaire-equipement",
            "--format",
            "html",
            &p("bad.csv"),
        ],
    );
    assert_eq!(code, 1);
    assert!(out.starts_with("<!doctype html>") && out.contains("Ligne 2"));

    for ext in ["csv", "xlsx"] {
        let annotated = p(&format!("bad-annote.{ext}"));
        let (code, _, err) = ecarto(
            dir.path(),
            &[
                "validate",
                "--schema",
                "inventaire-equipement",
                "--annotated",
                &annotated,
                &p("bad.csv"),
            ],
        );
        assert_eq!(code, 1);
        assert!(err.contains("fichier annoté écrit"), "{err}");
        let bytes = std::fs::read(&annotated).unwrap();
        // The annotated file is itself a valid input: re-validating it gives the same errors.
        let (code, out, _) = ecarto(
            dir.path(),
            &[
                "validate",
                "--schema",
                "inventaire-equipement",
                "--format",
                "json",
                &annotated,
            ],
        );
        assert_eq!(code, 1, "{ext}");
        let again: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(again["stats"]["errors"], report["stats"]["errors"], "{ext}");
        assert!(!bytes.is_empty());
    }

    let (code, _, err) = ecarto(
        dir.path(),
        &[
            "validate",
            "--schema",
            "inventaire-equipement",
            &p("garbage.csv"),
        ],
    );
    assert_eq!(code, 2);
    assert!(err.contains("binaire"), "{err}");
    let (code, _, err) = ecarto(dir.path(), &["validate", "--schema", "nope", &p("ok.csv")]);
    assert_eq!(code, 2);
    assert!(err.contains("schéma inconnu"), "{err}");
    let (code, _, _) = ecarto(
        dir.path(),
        &["validate", "--schema", "byod", &p("missing.csv")],
    );
    assert_eq!(code, 2);
    let (code, _, err) = ecarto(
        dir.path(),
        &[
            "--validation-max-rows",
            "1",
            "validate",
            "--schema",
            "inventaire-equipement",
            &p("bad.csv"),
        ],
    );
    assert_eq!(code, 2);
    assert!(err.contains("plus de 1 lignes"), "{err}");
}

#[test]
fn users_tokens_and_organisations_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let (code, out, err) = ecarto(
        dir.path(),
        &[
            "users",
            "add",
            "--email",
            "Agent@Herault.fr",
            "--org",
            "departement:034",
            "--role",
            "contributor",
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("agent@herault.fr"), "{out}");
    let (code, out, err) = ecarto(
        dir.path(),
        &[
            "users",
            "add",
            "--email",
            "modo@ac-montpellier.fr",
            "--role",
            "moderator",
            "--territory",
            "departement:34",
            "--territory",
            "academie:11",
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    let (_, out, _) = ecarto(dir.path(), &["users", "list"]);
    assert!(
        out.contains("departement:34,academie:11") || out.contains("academie:11,departement:34"),
        "{out}"
    );

    let (code, out, err) = ecarto(
        dir.path(),
        &[
            "tokens",
            "create",
            "--email",
            "agent@herault.fr",
            "--name",
            "nuit",
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        out.trim().starts_with("ecarto_"),
        "the secret alone on stdout: {out}"
    );
    assert!(err.contains("qu'une fois"), "{err}");

    // Bad input: a clear message and a non-zero exit, nothing written.
    let (code, _, err) = ecarto(
        dir.path(),
        &["users", "add", "--email", "x@y.fr", "--role", "boss"],
    );
    assert_eq!(code, 1);
    assert!(err.contains("rôle inconnu « boss »"), "{err}");
    let (code, _, err) = ecarto(
        dir.path(),
        &["users", "add", "--email", "x@y.fr", "--role", "contributor"],
    );
    assert_eq!(code, 1);
    assert!(err.contains("--org"), "{err}");
    let (code, _, err) = ecarto(
        dir.path(),
        &["tokens", "create", "--email", "personne@y.fr"],
    );
    assert_eq!(code, 1);
    assert!(err.contains("aucun compte"), "{err}");

    let (code, out, err) = ecarto(dir.path(), &["orgs", "show", "departement:69"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("Département du Rhône"), "{out}");
    assert!(
        out.contains("Métropole de Lyon"),
        "the exclusion and its reason: {out}"
    );
    let (code, out, err) = ecarto(
        dir.path(),
        &["orgs", "school-competence", "243500139", "true"],
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("Rennes Métropole"), "{out}");
    let (code, _, err) = ecarto(dir.path(), &["orgs", "show", "canton:1"]);
    assert_eq!(code, 1);
    assert!(err.contains("inconnue"), "{err}");
}

#[tokio::test]
async fn a_contribution_from_the_command_line_to_the_published_dataset() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    let server = Server(
        Command::new(env!("CARGO_BIN_EXE_ecarto"))
            .arg("--data-dir")
            .arg(dir.path())
            .args(["serve", "--addr", &format!("127.0.0.1:{port}")])
            .env_remove("DATABASE_URL")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    let http = reqwest::Client::new();
    let started = std::time::Instant::now();
    while http.get(format!("{url}/readyz")).send().await.is_err() {
        assert!(started.elapsed().as_secs() < 120, "serve did not start");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let run = |args: &[&str], token: Option<&str>| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_ecarto"));
        cmd.arg("--data-dir")
            .arg(dir.path())
            .args(["--url", &url])
            .args(args)
            .env_remove("DATABASE_URL");
        if let Some(t) = token {
            cmd.env("ECARTO_TOKEN", t);
        }
        let out = cmd.output().unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    // The commune of Rennes and a moderator of Ille-et-Vilaine, with their tokens.
    for args in [
        &[
            "users",
            "add",
            "--email",
            "agent@rennes.fr",
            "--org",
            "213502388",
            "--role",
            "contributor",
        ][..],
        &[
            "users",
            "add",
            "--email",
            "modo@ac-rennes.fr",
            "--role",
            "moderator",
            "--territory",
            "departement:35",
        ][..],
    ] {
        let (code, out, err) = run(args, None);
        assert_eq!(code, 0, "{out}{err}");
    }
    let token = |email: &str| {
        let (code, out, err) = run(&["tokens", "create", "--email", email], None);
        assert_eq!(code, 0, "{err}");
        out.trim().to_owned()
    };
    let (agent, moderator) = (token("agent@rennes.fr"), token("modo@ac-rennes.fr"));

    // An école of Rennes (the bundled sample) and a collège of Bruz, not the commune's.
    let file = dir.path().join("inventaire.csv");
    std::fs::write(
        &file,
        "uai;date_inventaire;nb_terminaux;nb_tablettes\n0350592D;2026-09-15;24;8\n0350002M;2026-09-15;300;40\n",
    )
    .unwrap();
    let f = file.to_string_lossy().into_owned();
    let (code, _, err) = run(&["submit", "--schema", "inventaire-equipement", &f], None);
    assert_eq!(code, 1);
    assert!(err.contains("jeton"), "{err}");
    let (code, out, err) = run(
        &[
            "submit",
            "--schema",
            "inventaire-equipement",
            &f,
            "--idempotency-key",
            "k1",
        ],
        Some(&agent),
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("Envoi n° 1 créé"), "{out}");
    assert!(out.contains("1 ligne(s) proposée(s)"), "{out}");
    assert!(out.contains("ligne 3 : refused"), "{out}");
    let (code, out, _) = run(
        &[
            "submit",
            "--schema",
            "inventaire-equipement",
            &f,
            "--idempotency-key",
            "k1",
        ],
        Some(&agent),
    );
    assert_eq!(code, 0);
    assert!(out.contains("déjà reçu"), "{out}");

    let (code, out, err) = run(&["review", "list"], Some(&moderator));
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("1\tinventaire-equipement@v1"), "{out}");
    let (code, _, err) = run(&["review", "decide", "1", "--accept"], Some(&agent));
    assert_eq!(code, 1);
    assert!(err.contains("modérateurs"), "{err}");
    let (code, out, err) = run(
        &[
            "review",
            "decide",
            "1",
            "--accept",
            "--fields",
            "2:nb_terminaux",
        ],
        Some(&moderator),
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("accepted, publié dans la version 5"), "{out}");

    let school: serde_json::Value = http
        .get(format!("{url}/api/v1/schools/0350592D"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(school["themes"]["equipement"]["nb_terminaux"]["value"], 24);
    assert_eq!(
        school["themes"]["equipement"]["nb_terminaux"]["provenance"]["submission_id"],
        1
    );
    assert!(
        school["themes"]["equipement"]["nb_tablettes"]["value"].is_null(),
        "only the field the moderator chose"
    );

    let (code, out, err) = run(&["jobs", "run", "outbox"], None);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("outbox : succeeded"), "{out}");
    let mails = std::fs::read_dir(dir.path().join("outbox"))
        .unwrap()
        .count();
    assert!(mails >= 3, "received, to review, decision: {mails}");
    drop(server);
}

/// The platform killed (SIGKILL) while it merges a large accepted inventory: the published
/// dataset is the previous version, whole, and the submission can be decided again. On the
/// SQLite file, or on PostgreSQL when the suite runs there.
#[tokio::test]
async fn a_merge_killed_mid_way_leaves_the_previous_version_and_can_be_retried() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let pg = common::fresh_postgres("ecarto_killed_merge").await;
    let db = pg.as_ref().map(|(url, _, _)| url.as_str());
    let ecarto = |d: &std::path::Path, args: &[&str]| ecarto_on(d, db, args);
    let start_server =
        |d: &std::path::Path, port: u16| common::start(d, db, port, &["--no-sample"]);
    let (code, out, err) = ecarto(
        d,
        &["demo", "synthetic", "--schools", "20000", "--seed", "7"],
    );
    assert_eq!(code, 0, "{out}{err}");
    for email in ["dne@education.gouv.fr", "relecture@education.gouv.fr"] {
        let (code, _, err) = ecarto(d, &["users", "add", "--email", email, "--role", "admin"]);
        assert_eq!(code, 0, "{err}");
    }
    let token = |email: &str| {
        ecarto(d, &["tokens", "create", "--email", email])
            .1
            .trim()
            .to_owned()
    };
    let (sender, reviewer) = (
        token("dne@education.gouv.fr"),
        token("relecture@education.gouv.fr"),
    );
    let export = d.join("export.csv");
    let (code, _, err) = ecarto(
        d,
        &[
            "export",
            "--format",
            "csv",
            "--out",
            &export.to_string_lossy(),
        ],
    );
    assert_eq!(code, 0, "{err}");
    let text = std::fs::read_to_string(&export).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines
        .next()
        .unwrap()
        .trim_start_matches('\u{feff}')
        .split(';')
        .collect();
    let (uai_col, type_col) = (
        header.iter().position(|h| *h == "uai").unwrap(),
        header
            .iter()
            .position(|h| *h == "type_etablissement")
            .unwrap(),
    );
    let mut csv = String::from("uai;date_inventaire;nb_terminaux;nb_tablettes\n");
    let mut n = 0;
    for line in lines {
        let cells: Vec<&str> = line.split(';').collect();
        if cells[type_col] == "autre" {
            continue;
        }
        csv.push_str(&format!(
            "{};2026-09-15;{};{}\n",
            cells[uai_col],
            10 + n % 200,
            n % 30
        ));
        n += 1;
    }
    let file = d.join("inventaire.csv");
    std::fs::write(&file, csv).unwrap();

    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    let server = start_server(d, port);
    common::wait_ready(&url).await;
    let submit = Command::new(env!("CARGO_BIN_EXE_ecarto"))
        .args(["--url", &url, "submit", "--schema", "inventaire-equipement"])
        .arg(&file)
        .env("ECARTO_TOKEN", &sender)
        .output()
        .unwrap();
    assert!(
        submit.status.success(),
        "{}{}",
        String::from_utf8_lossy(&submit.stdout)
            .chars()
            .take(2000)
            .collect::<String>(),
        String::from_utf8_lossy(&submit.stderr)
    );
    let versions = |http: reqwest::Client, url: String| async move {
        let v: serde_json::Value = http
            .get(format!("{url}/api/v1/datasets/versions"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        v.to_string()
    };
    let before = versions(http.clone(), url.clone()).await;

    // Accept, and kill the platform while it merges: once the decision's transaction has
    // started writing (the WAL file changes; the reviewer's token was used just before, so
    // nothing else writes), and a little more.
    let _ = http
        .get(format!("{url}/api/v1/me"))
        .bearer_auth(&reviewer)
        .send()
        .await
        .unwrap();
    // SQLite: the WAL file changes. PostgreSQL: a session of the platform holds a transaction
    // id, which it gets at its first write.
    let wal = d.join("ecarto.sqlite-wal");
    let watcher = match &pg {
        Some((url, _, _)) => Some(sea_orm::Database::connect(url.as_str()).await.unwrap()),
        None => None,
    };
    let stamp = || {
        let watcher = watcher.clone();
        let wal = wal.clone();
        async move {
            use sea_orm::ConnectionTrait;
            match watcher {
                Some(w) => {
                    let row = w
                        .query_one_raw(sea_orm::Statement::from_string(
                            w.get_database_backend(),
                            "SELECT COUNT(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_xid IS NOT NULL",
                        ))
                        .await
                        .unwrap()
                        .unwrap();
                    let writing: i64 = row.try_get("", "n").unwrap();
                    (None, writing as u64)
                }
                None => std::fs::metadata(&wal)
                    .map(|m| (m.modified().ok(), m.len()))
                    .unwrap_or((None, 0)),
            }
        }
    };
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    let quiet = stamp().await;
    let decide = {
        let (http, url, reviewer) = (http.clone(), url.clone(), reviewer.clone());
        tokio::spawn(async move {
            let _ = http
                .post(format!("{url}/api/v1/submissions/1/decision"))
                .bearer_auth(reviewer)
                .json(&serde_json::json!({"decision": "accept"}))
                .send()
                .await;
        })
    };
    let started = std::time::Instant::now();
    while stamp().await == quiet {
        assert!(
            started.elapsed().as_secs() < 60,
            "the merge never started writing"
        );
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    drop(server);
    let _ = decide.await;

    let server = start_server(d, port);
    common::wait_ready(&url).await;
    assert_eq!(
        versions(http.clone(), url.clone()).await,
        before,
        "the killed merge published nothing"
    );
    let s: serde_json::Value = http
        .get(format!("{url}/api/v1/submissions/1"))
        .bearer_auth(&reviewer)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(s["status"], "pending", "the decision was rolled back whole");
    let proposed = s["rows_proposed"].as_u64().unwrap() as usize;
    assert!(proposed > 19_000, "{proposed}");
    let retried = std::time::Instant::now();
    let res = http
        .post(format!("{url}/api/v1/submissions/1/decision"))
        .bearer_auth(&reviewer)
        .json(&serde_json::json!({"decision": "accept"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 200);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["submission"]["status"], "accepted");
    assert_eq!(body["accepted_rows"].as_array().unwrap().len(), proposed);
    // The kill came 0.1 s after the first write of a merge that takes longer.
    assert!(retried.elapsed() > std::time::Duration::from_millis(200));
    assert!(n >= proposed);
    drop(server);
    if let Some((_, admin, name)) = pg {
        use sea_orm::ConnectionTrait;
        drop(watcher);
        let _ = admin
            .execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
            .await;
    }
}

/// The scores job killed (SIGKILL) while it writes, on PostgreSQL: the scores stay those of
/// the previous run, whole, and the next run writes the new ones. (On SQLite the write cannot
/// be caught from outside before its commit: this one runs where the suite runs on PostgreSQL.)
#[tokio::test]
async fn a_scores_job_killed_while_it_writes_leaves_the_previous_scores_and_runs_again() {
    use sea_orm::ConnectionTrait;
    let Some((url, admin, name)) = common::fresh_postgres("ecarto_killed_scores").await else {
        eprintln!("the killed scores job: PostgreSQL only (DATABASE_URL=postgres://…)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let ecarto = |args: &[&str]| ecarto_on(d, Some(&url), args);
    let (code, out, err) = ecarto(&["demo", "synthetic", "--schools", "20000", "--seed", "7"]);
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, err) = ecarto(&["jobs", "run", "completeness"]);
    assert_eq!(code, 0, "{out}{err}");

    let conn = sea_orm::Database::connect(url.as_str()).await.unwrap();
    let one = |sql: &'static str| {
        let conn = conn.clone();
        async move {
            let row = conn
                .query_one_raw(sea_orm::Statement::from_string(
                    conn.get_database_backend(),
                    sql,
                ))
                .await
                .unwrap()
                .unwrap();
            row.try_get::<i64>("", "n").unwrap()
        }
    };
    let scores = || async {
        (
            one("SELECT COUNT(*) AS n FROM score_runs").await,
            one("SELECT COUNT(*) AS n FROM territory_scores").await,
            one("SELECT COALESCE(SUM(LENGTH(data)), 0)::bigint AS n FROM territory_scores").await,
        )
    };
    let before = scores().await;

    // New values for every public school: the next run rewrites most territories' scores.
    let public: Vec<String> = conn
        .query_all_raw(sea_orm::Statement::from_string(
            conn.get_database_backend(),
            "SELECT uai FROM schools WHERE secteur = 'public' ORDER BY uai",
        ))
        .await
        .unwrap()
        .iter()
        .map(|r| r.try_get::<String>("", "uai").unwrap())
        .collect();
    let mut etic = Vec::new();
    ecarto::synthetic::write_etic(&mut etic, &public, 7).unwrap();
    let file = d.join("etic.csv");
    std::fs::write(&file, etic).unwrap();
    let (code, out, err) = ecarto(&["import", "etic", &file.to_string_lossy()]);
    assert_eq!(code, 0, "{out}{err}");

    // Killed once it holds the scores' write lock (taken inside the transaction that writes).
    let mut job = Command::new(env!("CARGO_BIN_EXE_ecarto"))
        .arg("--data-dir")
        .arg(d)
        .args(["jobs", "run", "completeness"])
        .env("DATABASE_URL", &url)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let writing = "SELECT COUNT(*) AS n FROM pg_locks WHERE locktype = 'advisory' AND objid = 720101 AND granted";
    let started = std::time::Instant::now();
    while one(writing).await == 0 {
        assert!(
            job.try_wait().unwrap().is_none(),
            "the run ended before it was caught writing"
        );
        assert!(started.elapsed().as_secs() < 120, "the run never wrote");
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
    job.kill().unwrap();
    job.wait().unwrap();
    // The server rolls the dead client's transaction back.
    let started = std::time::Instant::now();
    while one(writing).await > 0 {
        assert!(
            started.elapsed().as_secs() < 60,
            "the lock outlived its process"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(scores().await, before, "the killed run wrote nothing");
    assert_eq!(
        one("SELECT COUNT(*) AS n FROM job_runs WHERE job = 'completeness' AND status = 'running'")
            .await,
        1,
        "its history says it never finished"
    );

    // The next run (a new tick) writes the new scores.
    let (code, out, err) = ecarto(&["jobs", "run", "completeness"]);
    assert_eq!(code, 0, "{out}{err}");
    let after = scores().await;
    assert_eq!(after.0, before.0 + 1, "one more run of the scores");
    assert_ne!(after.2, before.2, "the new values are scored");

    drop(conn);
    let _ = admin
        .execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
        .await;
}
