//! Validation of contribution files: the engine on the same messy file in every encoding,
//! separator and format; the messages; the API (multipart, raw body, report forms, annotated
//! files, limits, bad input); the checks against the register; the schema endpoints.

use std::collections::BTreeSet;

use axum::http::{Method, StatusCode};
use ecarto::validation::{self, Options, report::Severity};
use ecarto_contrib_schemas::Registry;
use ecarto_tests::TestApp;
use serde_json::{Value, json};

const HEADER: [&str; 15] = [
    "UAI",
    "Date Inventaire",
    "NB_TERMINAUX",
    "nb terminaux mobiles",
    "Nb_Tablettes",
    "nb_tablettes_pc",
    "Nb terminaux moins 5 ans",
    "nb_mobiles_affectes_eleves",
    "nb_mobiles_affectes_enseignants",
    "nb_tni",
    "nb_videoprojecteurs",
    "nb_imprimantes_3d",
    "Maintenance",
    "Commentaire",
    "Responsable",
];

/// An agent's file: one valid row, then one problem per row (line numbers from 2).
fn messy_rows() -> Vec<Vec<&'static str>> {
    vec![
        vec![
            "0350006S",
            "2025-09-01",
            "120",
            "40",
            "30",
            "5",
            "60",
            "20",
            "10",
            "12",
            "15",
            "1",
            "collectivite",
            "Inventaire, fin d'année",
            "Hélène",
        ],
        vec![
            "0350008U",
            "2025-09-01",
            "-3",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
        ],
        vec![
            "0350009V",
            "01/09/2025",
            "1 234",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "Collectivité",
            "Écoles équipées",
            "",
        ],
        vec![
            "0350006A",
            "2025-09-01",
            "10",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
        ],
        vec![
            "0941018W",
            "2025-09-01",
            "10",
            "",
            "",
            "",
            "12",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
        ],
        vec![
            "0941019X",
            "2025-09-01",
            "10",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "mairie",
            "",
            "",
        ],
        vec![
            "0350006S",
            "2025-10-01",
            "5",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
        ],
        vec![
            "0750655E",
            "2025-09-01",
            "10",
            "",
            "beaucoup",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
        ],
        vec![
            "0350010W",
            "2099-01-01",
            "10",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
        ],
        vec![
            "",
            "2025-09-01",
            "10",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
        ],
    ]
}

fn expected_findings() -> BTreeSet<(Option<u64>, Option<String>, String)> {
    [
        (Some(3), Some("nb_terminaux"), "minimum"),
        (Some(4), Some("date_inventaire"), "date_format"),
        (Some(5), Some("uai"), "uai_check_letter"),
        (
            Some(6),
            Some("nb_terminaux_moins_5_ans"),
            "terminaux_moins_5_ans_dans_total",
        ),
        (Some(7), Some("maintenance"), "enum"),
        (Some(8), Some("uai"), "duplicate_key"),
        (Some(9), Some("nb_tablettes"), "type"),
        (
            Some(10),
            Some("date_inventaire"),
            "date_inventaire_pas_dans_le_futur",
        ),
        (Some(11), Some("uai"), "required"),
        (None, None, "unknown_column"),
    ]
    .into_iter()
    .map(|(r, c, rule)| (r, c.map(str::to_owned), rule.to_owned()))
    .collect()
}

fn csv_bytes(delimiter: u8) -> Vec<u8> {
    let mut w = csv::WriterBuilder::new()
        .delimiter(delimiter)
        .from_writer(Vec::new());
    w.write_record(HEADER).unwrap();
    for r in messy_rows() {
        w.write_record(r).unwrap();
    }
    w.into_inner().unwrap()
}

fn xlsx_bytes() -> Vec<u8> {
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    sheet.set_name("Inventaire").unwrap();
    for (c, h) in HEADER.iter().enumerate() {
        sheet.write_string(0, c as u16, *h).unwrap();
    }
    for (r, row) in messy_rows().iter().enumerate() {
        for (c, cell) in row.iter().enumerate() {
            let (r, c) = (r as u32 + 1, c as u16);
            // Numbers as a spreadsheet stores them; the rest as text.
            match cell.parse::<f64>() {
                Ok(n) if !cell.is_empty() => sheet.write_number(r, c, n).unwrap(),
                _ if cell.is_empty() => sheet,
                _ => sheet.write_string(r, c, *cell).unwrap(),
            };
        }
    }
    book.save_to_buffer().unwrap()
}

fn options() -> Options {
    let mut o = Options::new(1_000_000);
    o.today = "2026-12-01".into();
    o
}

fn findings(
    report: &validation::report::Report,
) -> BTreeSet<(Option<u64>, Option<String>, String)> {
    report
        .errors
        .iter()
        .chain(&report.warnings)
        .map(|f| (f.row, f.column.clone(), f.rule.clone()))
        .collect()
}

#[test]
fn the_same_file_in_every_encoding_separator_and_format_gives_the_same_findings() {
    let schema = Registry::embedded()
        .resolve("inventaire-equipement@v1")
        .unwrap();
    let semicolons = csv_bytes(b';');
    let mut bom = b"\xEF\xBB\xBF".to_vec();
    bom.extend_from_slice(&semicolons);
    let (cp1252, _, lossy) =
        encoding_rs::WINDOWS_1252.encode(std::str::from_utf8(&semicolons).unwrap());
    assert!(!lossy);
    let variants: Vec<(&str, Vec<u8>)> = vec![
        ("inventaire.csv", semicolons.clone()),
        ("inventaire-bom.csv", bom),
        ("inventaire-1252.csv", cp1252.into_owned()),
        ("inventaire-virgules.csv", csv_bytes(b',')),
        ("inventaire-tab.csv", csv_bytes(b'\t')),
        ("inventaire.xlsx", xlsx_bytes()),
    ];
    for (name, bytes) in variants {
        let v = validation::validate(schema, &bytes, Some(name), &options()).unwrap();
        assert_eq!(findings(&v.report), expected_findings(), "{name}");
        let s = &v.report.stats;
        assert_eq!((s.rows, s.valid_rows, s.invalid_rows), (10, 2, 8), "{name}");
        assert_eq!(v.report.valid_row_ranges, vec![[2, 2], [4, 4]], "{name}");
        // Every row with a finding is in the report with its cells as written.
        assert_eq!(v.report.rows[&4][2], "1 234", "{name}");
        assert_eq!(v.report.rows[&4][13], "Écoles équipées", "{name}");
    }
}

#[test]
fn every_message_names_the_row_the_column_and_a_fix() {
    let schema = Registry::embedded()
        .resolve("inventaire-equipement")
        .unwrap();
    let v = validation::validate(schema, &csv_bytes(b';'), Some("f.csv"), &options()).unwrap();
    for f in v.report.errors.iter().chain(&v.report.warnings) {
        match (f.row, &f.header) {
            (Some(row), Some(header)) => {
                assert!(
                    f.message
                        .starts_with(&format!("Ligne {row}, colonne « {header} » : ")),
                    "{f:?}"
                );
            }
            (None, Some(header)) => assert!(f.message.contains(header.as_str()), "{f:?}"),
            other => panic!("finding without a place: {other:?} {f:?}"),
        }
        assert!(f.note.len() > 30 && f.note.ends_with('.'), "{f:?}");
        assert!(
            !f.note.contains("instance") && !f.note.contains("JSON"),
            "jargon: {f:?}"
        );
    }
    let by_rule = |rule: &str| {
        v.report
            .errors
            .iter()
            .chain(&v.report.warnings)
            .find(|f| f.rule == rule)
            .unwrap_or_else(|| panic!("{rule}"))
            .clone()
    };
    assert!(by_rule("minimum").note.contains("-3") && by_rule("minimum").note.contains('0'));
    assert!(
        by_rule("enum").note.contains("collectivite") && by_rule("enum").note.contains("mairie")
    );
    assert!(
        by_rule("uai_check_letter").note.contains("est S"),
        "the right letter is given"
    );
    assert!(by_rule("duplicate_key").note.contains("ligne 2"));
    assert!(by_rule("date_format").note.contains("2025-09-01"));
    assert!(by_rule("unknown_column").message.contains("Responsable"));
    assert_eq!(by_rule("required").cell.as_deref(), Some(""));
    assert_eq!(by_rule("type").cell.as_deref(), Some("beaucoup"));
}

#[test]
fn json_input_is_an_array_of_objects() {
    let schema = Registry::embedded()
        .resolve("inventaire-equipement")
        .unwrap();
    let body = json!([
        {"uai": "0350006S", "date_inventaire": "2025-09-01", "nb_terminaux": 12, "maintenance": "prestataire"},
        {"uai": "0350008U", "date_inventaire": "2025-09-01", "nb_terminaux": -1}
    ]);
    let v = validation::validate(
        schema,
        body.to_string().as_bytes(),
        Some("f.json"),
        &options(),
    )
    .unwrap();
    assert_eq!(
        findings(&v.report),
        [(
            Some(2),
            Some("nb_terminaux".to_owned()),
            "minimum".to_owned()
        )]
        .into()
    );
    assert!(
        v.report.errors[0]
            .message
            .starts_with("Objet 2, colonne « nb_terminaux »")
    );
}

#[test]
fn missing_required_columns_are_reported_once_for_the_file() {
    let schema = Registry::embedded()
        .resolve("inventaire-equipement")
        .unwrap();
    let v = validation::validate(
        schema,
        b"uai;nb_terminaux\n0350006S;3\n0350008U;4\n",
        Some("f.csv"),
        &options(),
    )
    .unwrap();
    let missing: Vec<_> = v
        .report
        .errors
        .iter()
        .filter(|f| f.rule == "missing_column")
        .collect();
    assert_eq!(missing.len(), 1);
    assert!(missing[0].message.contains("date_inventaire"));
    assert_eq!(
        v.report.errors.len(),
        1,
        "no per-row repetition: {:?}",
        v.report.errors
    );
    assert_eq!(v.report.stats.valid_rows, 0);
}

#[test]
fn bad_files_get_a_clear_message_and_never_a_panic() {
    let schema = Registry::embedded()
        .resolve("inventaire-equipement")
        .unwrap();
    let mut zip_as_csv = b"PK\x03\x04".to_vec();
    zip_as_csv.extend(std::iter::repeat_n(7u8, 200));
    let long_line = format!(
        "uai;date_inventaire;nb_terminaux\n0350006S;2025-01-01;{}\n",
        "9".repeat(10 * 1024 * 1024)
    );
    let mut mixed = "uai;date_inventaire;nb_terminaux;commentaire\n0350006S;2025-01-01;3;équipé\n"
        .as_bytes()
        .to_vec();
    mixed.extend_from_slice(b"0350008U;2025-01-01;4;\xe9quip\xe9\n");
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "garbage.csv",
            (0..4096u32).map(|i| (i * 7919 % 251) as u8).collect(),
            "binaire",
        ),
        ("archive.csv", zip_as_csv, "archive"),
        ("empty.csv", Vec::new(), "vide"),
        (
            "header-only.csv",
            b"uai;date_inventaire;nb_terminaux\n".to_vec(),
            "en-tête",
        ),
        ("broken.json", b"[{\"uai\": ".to_vec(), "JSON"),
    ];
    for (name, bytes, word) in cases {
        match validation::validate(schema, &bytes, Some(name), &options()) {
            Err(e) => assert!(e.to_string().contains(word), "{name}: {e}"),
            Ok(v) => panic!("{name} accepted: {:?}", v.report.stats),
        }
    }
    // A 10 MB cell is read and reported, not a crash.
    let v =
        validation::validate(schema, long_line.as_bytes(), Some("long.csv"), &options()).unwrap();
    assert_eq!(v.report.errors[0].rule, "maximum");
    // A file mixing UTF-8 and Windows-1252 is read as Windows-1252: still validated.
    let v = validation::validate(schema, &mixed, Some("mixed.csv"), &options()).unwrap();
    assert_eq!(v.report.stats.rows, 2);
}

#[test]
fn too_many_rows_is_refused() {
    let schema = Registry::embedded()
        .resolve("inventaire-equipement")
        .unwrap();
    let mut o = options();
    o.max_rows = 2;
    let err = validation::validate(schema, b"uai;date_inventaire;nb_terminaux\n0350006S;2025-01-01;1\n0350008U;2025-01-01;1\n0350009V;2025-01-01;1\n", None, &o).err().unwrap();
    assert!(err.to_string().contains("plus de 2 lignes"), "{err}");
}

fn multipart(file_name: &str, bytes: &[u8]) -> (String, Vec<u8>) {
    let boundary = "ecartoboundary42";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{file_name}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

#[tokio::test]
async fn anyone_can_validate_through_the_api_in_every_report_form() {
    let app = TestApp::new().await;
    let open_school = || {
        vec![
            ("type_etablissement", Value::from("ecole")),
            ("etat", Value::from("ouvert")),
        ]
    };
    let uais = [
        "0350006S", "0350008U", "0350009V", "0941018W", "0941019X", "0750655E", "0350010W",
    ];
    app.publish(
        "annuaire",
        Some("2026"),
        uais.iter().map(|u| (*u, open_school())).collect(),
    )
    .await;
    let bytes = csv_bytes(b';');
    let raw = app
        .send(
            Method::POST,
            "/api/v1/validate/inventaire-equipement?filename=inventaire.csv",
            &[("content-type", "text/csv")],
            bytes.clone(),
        )
        .await;
    raw.assert_status(StatusCode::OK);
    let report = raw.json();
    assert_eq!(report["valid"], false);
    assert_eq!(report["schema"], "inventaire-equipement@v1");
    assert_eq!(report["stats"]["rows"], 10);
    assert_eq!(report["schools_checked"], true);
    assert_eq!(report["format"]["kind"], "csv");
    let first = &report["errors"][0];
    for key in [
        "type",
        "message",
        "note",
        "rowNumber",
        "fieldName",
        "fieldNumber",
        "cell",
        "column",
    ] {
        assert!(first.get(key).is_some(), "{key} missing from {first}");
    }
    assert!(report["rows"]["3"].is_array());
    assert!(report["by_rule"]["minimum"]["errors"].as_u64() >= Some(1));
    assert!(report["by_column"]["NB_TERMINAUX"]["errors"].as_u64() >= Some(1));

    let (content_type, body) = multipart("inventaire.csv", &bytes);
    let multi = app
        .send(
            Method::POST,
            "/api/v1/validate/inventaire-equipement@v1",
            &[("content-type", &content_type)],
            body,
        )
        .await;
    multi.assert_status(StatusCode::OK);
    assert_eq!(multi.json()["stats"], report["stats"]);
    assert_eq!(multi.json()["file"], "inventaire.csv");

    let html = app
        .send(
            Method::POST,
            "/api/v1/validate/inventaire-equipement?format=html",
            &[],
            bytes.clone(),
        )
        .await;
    html.assert_status(StatusCode::OK);
    let page = html.text();
    assert!(page.contains("Ligne 3") && page.contains("Rapport de validation"));
    assert!(
        page.contains("Écoles équipées"),
        "the rows' content is shown"
    );
    assert!(
        !page.contains("Hélène"),
        "valid rows without findings are not listed"
    );

    let annotated = app
        .send(
            Method::POST,
            "/api/v1/validate/inventaire-equipement?format=csv&filename=inventaire.csv",
            &[],
            bytes.clone(),
        )
        .await;
    annotated.assert_status(StatusCode::OK);
    assert!(
        annotated
            .header(axum::http::header::CONTENT_DISPOSITION)
            .unwrap()
            .contains("inventaire-annote.csv")
    );
    let text = annotated.text();
    let mut rdr = csv::ReaderBuilder::new()
        .delimiter(b';')
        .from_reader(text.trim_start_matches('\u{feff}').as_bytes());
    let headers = rdr.headers().unwrap().clone();
    assert_eq!(headers.len(), HEADER.len() + 2);
    assert_eq!(&headers[HEADER.len()], "validation_statut");
    let rows: Vec<csv::StringRecord> = rdr.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 10);
    assert_eq!(&rows[0][HEADER.len()], "valide");
    assert_eq!(&rows[1][HEADER.len()], "a_corriger");
    assert!(rows[1][HEADER.len() + 1].contains("NB_TERMINAUX"));
    assert_eq!(&rows[2][HEADER.len()], "valide_avec_avertissement");

    let xlsx = app
        .send(
            Method::POST,
            "/api/v1/validate/inventaire-equipement?format=xlsx",
            &[],
            xlsx_bytes(),
        )
        .await;
    xlsx.assert_status(StatusCode::OK);
    use calamine::Reader;
    let mut book: calamine::Xlsx<_> =
        calamine::Xlsx::new(std::io::Cursor::new(xlsx.body.clone())).unwrap();
    let range = book.worksheet_range_at(0).unwrap().unwrap();
    assert_eq!(
        range
            .get_value((0, HEADER.len() as u32))
            .unwrap()
            .to_string(),
        "validation_statut"
    );
    assert_eq!(
        range
            .get_value((2, HEADER.len() as u32))
            .unwrap()
            .to_string(),
        "a_corriger"
    );
}

#[tokio::test]
async fn the_api_refuses_oversized_and_unusable_files_clearly() {
    let app = TestApp::with_config(|c| {
        c.validation.max_bytes = 1024;
        c.validation.max_rows = 5;
    })
    .await;
    let big = vec![b'a'; 4096];
    let res = app
        .send(Method::POST, "/api/v1/validate/byod", &[], big.clone())
        .await;
    res.assert_status(StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(
        res.header(axum::http::header::CONTENT_TYPE),
        Some("application/problem+json")
    );
    assert!(
        res.json()["detail"]
            .as_str()
            .unwrap()
            .contains("taille maximale")
    );
    let (ct, body) = multipart("big.csv", &big);
    let res = app
        .send(
            Method::POST,
            "/api/v1/validate/byod",
            &[("content-type", &ct)],
            body,
        )
        .await;
    res.assert_status(StatusCode::PAYLOAD_TOO_LARGE);

    let mut rows = "uai;politique\n".to_owned();
    for _ in 0..6 {
        rows.push_str("0350006S;aucune\n");
    }
    let res = app
        .send(
            Method::POST,
            "/api/v1/validate/byod",
            &[],
            rows.into_bytes(),
        )
        .await;
    res.assert_status(StatusCode::PAYLOAD_TOO_LARGE);
    assert!(
        res.json()["detail"]
            .as_str()
            .unwrap()
            .contains("plus de 5 lignes")
    );

    let res = app
        .send(
            Method::POST,
            "/api/v1/validate/byod",
            &[],
            b"\x00\x01\x02garbage".to_vec(),
        )
        .await;
    res.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.json()["detail"].as_str().unwrap().contains("binaire"));
    let res = app
        .send(
            Method::POST,
            "/api/v1/validate/inconnu",
            &[],
            b"a;b\n1;2\n".to_vec(),
        )
        .await;
    res.assert_status(StatusCode::NOT_FOUND);
    let res = app
        .send(
            Method::POST,
            "/api/v1/validate/byod?format=pdf",
            &[],
            b"a;b\n1;2\n".to_vec(),
        )
        .await;
    res.assert_status(StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn uais_are_checked_against_the_register_and_mass_changes_flagged() {
    let app = TestApp::new().await;
    let school = |name: &'static str, kind: &'static str, etat: &'static str, terminals: i64| {
        vec![
            ("appellation_officielle", Value::from(name)),
            ("type_etablissement", Value::from(kind)),
            ("etat", Value::from(etat)),
            ("nb_terminaux", Value::from(terminals)),
        ]
    };
    app.publish(
        "annuaire",
        Some("2026"),
        vec![
            ("0350006S", school("École A", "ecole", "ouvert", 10)),
            ("0350008U", school("Collège B", "college", "ferme", 10)),
            ("0350009V", school("Centre C", "autre", "ouvert", 10)),
            ("0941018W", school("Lycée D", "lycee", "ouvert", 10)),
        ],
    )
    .await;
    let file = "uai;date_inventaire;nb_terminaux\n0350006S;2025-09-01;50\n0350008U;2025-09-01;5\n0350009V;2025-09-01;5\n0350010W;2025-09-01;5\n0941018W;2025-09-01;10\n";
    let res = app
        .send(
            Method::POST,
            "/api/v1/validate/inventaire-equipement",
            &[],
            file.into(),
        )
        .await;
    res.assert_status(StatusCode::OK);
    let report = res.json();
    let rules: BTreeSet<(u64, String)> = report["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["rowNumber"].as_u64().unwrap(),
                e["type"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        rules,
        [(3, "school_closed"), (4, "school_type"), (5, "uai_unknown")]
            .into_iter()
            .map(|(r, t)| (r, t.to_owned()))
            .collect()
    );
    let closed = report["errors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["type"] == "school_closed")
        .unwrap();
    assert!(closed["message"].as_str().unwrap().contains("Collège B"));
    assert_eq!(closed["fieldName"], "uai");
    assert_eq!(report["rows"]["3"][0], "0350008U");
    assert_eq!(report["stats"]["valid_rows"], 2);
    // Of the two valid rows' published terminal counts, one changes: 50 % > 20 %.
    assert_eq!(report["mass_change"]["compared"], 2);
    assert_eq!(report["mass_change"]["changed"], 1);
    assert!(
        report["warnings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|w| w["type"] == "mass_change")
    );
}

#[tokio::test]
async fn schemas_are_served_with_table_schema_template_and_documentation() {
    let app = TestApp::new().await;
    let list = app.get("/api/v1/schemas").await;
    list.assert_status(StatusCode::OK);
    let names: Vec<String> = list.json()["schemas"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        names,
        [
            "byod",
            "connectivite-mesuree",
            "experimentation-locale",
            "inventaire-equipement",
            "signalement"
        ]
    );
    let schema = app.get("/api/v1/schemas/byod/v1").await;
    schema.assert_status(StatusCode::OK);
    assert_eq!(
        schema.header(axum::http::header::CONTENT_TYPE),
        Some("application/schema+json")
    );
    assert_eq!(
        schema.json()["$schema"],
        "https://json-schema.org/draft/2020-12/schema"
    );
    let ts = app
        .get("/api/v1/schemas/inventaire-equipement/1/table-schema.json")
        .await
        .json();
    assert_eq!(ts["fields"][0]["name"], "uai");
    assert_eq!(ts["primaryKey"], json!(["uai"]));
    let template = app
        .get("/api/v1/schemas/inventaire-equipement/v1/template.csv")
        .await;
    assert!(
        template
            .text()
            .trim_start_matches('\u{feff}')
            .starts_with("uai;date_inventaire;nb_terminaux")
    );
    let page = app.get("/schemas/inventaire-equipement/v1").await;
    page.assert_status(StatusCode::OK);
    assert!(page.text().contains("Règles entre colonnes") && page.text().contains("Obligatoire"));
    assert!(
        app.get("/schemas")
            .await
            .text()
            .contains("/schemas/signalement/v1")
    );
    app.get("/api/v1/schemas/byod/v9")
        .await
        .assert_status(StatusCode::NOT_FOUND);
    app.get("/api/v1/schemas/nope/v1")
        .await
        .assert_status(StatusCode::NOT_FOUND);
}

#[test]
fn a_signalement_value_is_typed_by_the_field_it_names() {
    let schema = Registry::embedded().resolve("signalement").unwrap();
    let file = "uai;champ;valeur_proposee;justification\n\
                0350006S;nb_terminaux;douze;Comptage fait sur place en novembre\n\
                0350006S;wifi;partout;Constaté lors de la visite du collège\n\
                0350008U;nb_terminaux;12;Comptage fait sur place en novembre\n\
                0350009V;wifi;Permanent;Constaté lors de la visite du collège\n";
    let v = validation::validate(schema, file.as_bytes(), Some("s.csv"), &options()).unwrap();
    let got: BTreeSet<(u64, String)> = v
        .report
        .errors
        .iter()
        .map(|f| (f.row.unwrap(), f.rule.clone()))
        .collect();
    assert_eq!(got, [(2, "type".to_owned()), (3, "enum".to_owned())].into());
    assert!(v.report.errors[1].note.contains("permanent"));
    assert_eq!(
        v.report
            .warnings
            .iter()
            .filter(|w| w.severity == Severity::Warning)
            .count(),
        0
    );
}

#[tokio::test]
async fn the_documentation_page_form_asks_for_the_report_form_it_wants() {
    let app = TestApp::new().await;
    let page = app.get("/schemas/byod/v1").await.text();
    assert!(
        page.contains("action=\"/api/v1/validate/byod@v1\"") && page.contains("name=\"format\"")
    );
    let boundary = "formboundary7";
    let body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"byod.csv\"\r\nContent-Type: text/csv\r\n\r\nuai;politique\r\n0350006S;generalisee\r\n\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"format\"\r\n\r\nhtml\r\n--{boundary}--\r\n"
    );
    let res = app
        .send(
            Method::POST,
            "/api/v1/validate/byod@v1",
            &[(
                "content-type",
                &format!("multipart/form-data; boundary={boundary}"),
            )],
            body.into_bytes(),
        )
        .await;
    res.assert_status(StatusCode::OK);
    let html = res.text();
    assert!(html.starts_with("<!doctype html>"), "{html}");
    // `generalisee` needs a start date and levels: the condition is quoted.
    assert!(
        html.contains("date_debut") && html.contains("Ligne 2"),
        "{html}"
    );
}

#[tokio::test]
async fn anonymous_validation_is_limited_per_address_and_signed_in_people_are_not() {
    let app = TestApp::with_config(|c| {
        c.validation.anonymous_per_ip = 2;
        c.auth.trust_forwarded_for = true;
    })
    .await;
    let file = b"uai;date_inventaire;nb_terminaux\n0350006S;2025-09-01;12\n".to_vec();
    let path = "/api/v1/validate/inventaire-equipement";
    let from = |ip: &'static str| [("content-type", "text/csv"), ("x-forwarded-for", ip)];
    for _ in 0..2 {
        app.send(Method::POST, path, &from("203.0.113.7"), file.clone())
            .await
            .assert_status(StatusCode::OK);
    }
    let refused = app
        .send(Method::POST, path, &from("203.0.113.7"), file.clone())
        .await;
    refused.assert_status(StatusCode::TOO_MANY_REQUESTS);
    assert!(
        refused.text().contains("trop de demandes"),
        "{}",
        refused.text()
    );
    // Another address is not held back by the first; nor is a signed-in agent at the first.
    app.send(Method::POST, path, &from("198.51.100.4"), file.clone())
        .await
        .assert_status(StatusCode::OK);
    let agent = app
        .session_for("agent@exemple.fr", None, &["beta-tester"], &[])
        .await;
    for _ in 0..3 {
        app.call_raw(
            Some(&agent),
            Method::POST,
            path,
            &from("203.0.113.7"),
            file.clone(),
        )
        .await
        .assert_status(StatusCode::OK);
    }
}
