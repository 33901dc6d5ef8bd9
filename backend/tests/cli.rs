//! `ecarto validate`, the real binary: exit codes, report forms, annotated files, offline.

#![allow(clippy::unwrap_used)]

use std::process::Command;

const VALID: &str =
    "uai;date_inventaire;nb_terminaux;maintenance\n0350006S;2025-09-01;12;collectivite\n";
const INVALID: &str = "uai;date_inventaire;nb_terminaux;maintenance\n0350006S;2025-09-01;-2;mairie\n0350008U;01/09/2025;3;\n";

fn ecarto(dir: &std::path::Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_ecarto"))
        .arg("--data-dir")
        .arg(dir)
        .args(args)
        .env_remove("DATABASE_URL")
        .output()
        .unwrap();
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

struct Server(std::process::Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
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
    let (code, out, err) = run(&["review", "decide", "1", "--accept"], Some(&moderator));
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

    let (code, out, err) = run(&["jobs", "run", "outbox"], None);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("envoyé(s)"), "{out}");
    let mails = std::fs::read_dir(dir.path().join("outbox"))
        .unwrap()
        .count();
    assert!(mails >= 3, "received, to review, decision: {mails}");
    drop(server);
}
