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
