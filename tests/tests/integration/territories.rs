//! The territory reference: parsed from the real Etalab and ministry files, bundled, loaded,
//! and served by `GET /api/v1/territories/{level}/{code}`.

use std::{
    collections::{BTreeMap, BTreeSet},
    sync::LazyLock,
};

use axum::http::{StatusCode, header};
use ecarto::{
    domain::{
        territory::{AcademieCode, CommuneCode, DepartementCode, Level, RegionCode, Siren},
        uai::{Uai, expected_check_letter},
    },
    entities::{academie, commune, commune_former_code, departement, epci, region},
    reference::territories::{
        AcademieKind, CommuneKind, EpciKind, ReferenceError, TerritoryReference, Zone,
    },
    services::{
        datasets::{Publication, SchoolObservation, publish},
        territories,
    },
};
use ecarto_tests::{TestApp, repo_root, shared_data};
use sea_orm::{EntityTrait, PaginatorTrait, QueryOrder, TransactionTrait};
use serde_json::{Value, json};

/// The real files, parsed once for the whole test binary.
static REFERENCE: LazyLock<TerritoryReference> = LazyLock::new(|| {
    TerritoryReference::from_dir(&shared_data("territories")).expect("the real files parse")
});

fn dep(code: &str) -> DepartementCode {
    DepartementCode::parse(code).expect("département code")
}

fn com(code: &str) -> CommuneCode {
    CommuneCode::parse(code).expect("commune code")
}

fn acad(code: &str) -> AcademieCode {
    AcademieCode::parse(code).expect("académie code")
}

fn reg(code: &str) -> RegionCode {
    RegionCode::parse(code).expect("région code")
}

fn siren(code: &str) -> Siren {
    Siren::parse(code).expect("SIREN")
}

#[test]
fn real_files_give_exact_counts() {
    let r = &*REFERENCE;
    assert_eq!(r.regions.len(), 26);
    let zones = |z| r.regions.iter().filter(|x| x.zone == z).count();
    assert_eq!(
        (zones(Zone::Metro), zones(Zone::Drom), zones(Zone::Com)),
        (13, 5, 8)
    );

    assert_eq!(r.academies.len(), 34);
    let academies: Vec<_> = r
        .academies
        .iter()
        .filter(|a| a.kind == AcademieKind::Academie)
        .collect();
    assert_eq!(academies.len(), 30);
    let vice: Vec<&str> = r
        .academies
        .iter()
        .filter(|a| a.kind == AcademieKind::ViceRectorat)
        .map(|a| a.code.as_str())
        .collect();
    assert_eq!(vice, ["40", "41", "42", "44"]);
    // The régions académiques: one per région of metropolitan France and overseas.
    let regions_academiques: BTreeSet<&str> = academies.iter().map(|a| a.region.as_str()).collect();
    assert_eq!(regions_academiques.len(), 18);
    assert!(
        regions_academiques
            .iter()
            .all(|code| r.region(&reg(code)).is_some_and(|x| x.zone != Zone::Com))
    );

    assert_eq!(r.departements.len(), 109);
    let without: Vec<&str> = r
        .departements
        .iter()
        .filter(|d| d.academie.is_none())
        .map(|d| d.code.as_str())
        .collect();
    assert_eq!(without, ["984", "989"]);

    let kind = |k| r.communes.iter().filter(|c| c.kind == k).count();
    assert_eq!(kind(CommuneKind::Commune), 34_969);
    assert_eq!(kind(CommuneKind::Arrondissement), 45);
    assert_eq!(
        r.communes.iter().filter(|c| c.epci.is_some()).count(),
        34_916
    );
    assert_eq!(
        r.communes.iter().filter(|c| c.siren.is_some()).count(),
        34_875
    );
    assert_eq!(
        r.communes
            .iter()
            .filter(|c| c.departement == dep("35"))
            .count(),
        332
    );

    assert_eq!(r.epcis.len(), 1_255);
    let mut kinds: BTreeMap<&str, usize> = BTreeMap::new();
    for e in &r.epcis {
        *kinds.entry(e.kind.as_str()).or_default() += 1;
    }
    assert_eq!(
        kinds,
        BTreeMap::from([
            ("CA", 230),
            ("CC", 989),
            ("CU", 14),
            ("MET69", 1),
            ("METRO", 21)
        ])
    );
    assert_eq!(r.former_codes.len(), 4_240);
}

#[test]
fn real_files_special_cases() {
    let r = &*REFERENCE;

    // Paris: commune and département at once, with 20 municipal arrondissements.
    let paris = r.commune(&com("75056")).expect("Paris");
    assert_eq!(paris.name, "Paris");
    assert_eq!(paris.kind, CommuneKind::Commune);
    assert_eq!(paris.siren, Some(siren("217500016")));
    assert_eq!(paris.population, Some(2_103_778));
    assert_eq!(paris.epci, Some(siren("200054781")));
    let arrondissements: Vec<&str> = r
        .communes
        .iter()
        .filter(|c| c.parent.as_ref() == Some(&paris.code))
        .map(|c| c.code.as_str())
        .collect();
    let expected: Vec<String> = (101..=120).map(|n| format!("75{n}")).collect();
    assert_eq!(arrondissements, expected);
    let fifth = r.commune(&com("75105")).expect("Paris 5e");
    assert_eq!(fifth.kind, CommuneKind::Arrondissement);
    assert_eq!(fifth.name, "Paris 5e Arrondissement");
    assert_eq!(fifth.siren, None);
    assert_eq!(
        fifth.epci, paris.epci,
        "an arrondissement is in its commune's EPCI"
    );
    let d75 = r.departement(&dep("075")).expect("Paris");
    assert_eq!(
        (
            d75.region.as_str(),
            d75.academie.as_ref().map(AcademieCode::as_str)
        ),
        ("11", Some("01"))
    );

    // Corse: two départements, one académie, one région.
    for code in ["2A", "02A", "2b", "02B"] {
        let d = r.departement(&dep(code)).expect("Corse");
        assert_eq!(d.academie, Some(acad("27")));
        assert_eq!(d.region, reg("94"));
    }
    assert_eq!(dep("2A").ministry_code(), "02A");
    let corse = r.academie(&acad("27")).expect("académie de Corse");
    assert_eq!(
        (corse.name.as_str(), corse.region.as_str()),
        ("Corse", "94")
    );

    // Mayotte: an académie of its own since 2020.
    let mayotte = r.departement(&dep("976")).expect("Mayotte");
    assert_eq!(mayotte.academie, Some(acad("43")));
    let a43 = r.academie(&acad("43")).expect("académie 43");
    assert_eq!(
        (a43.name.as_str(), a43.region.as_str(), a43.kind),
        ("Mayotte", "06", AcademieKind::Academie)
    );
    assert_eq!(
        r.academie(&acad("70")).map(|a| a.name.as_str()),
        Some("Normandie")
    );

    // Guadeloupe's académie also covers Saint-Barthélemy and Saint-Martin, whose région is
    // their own collectivité; the académie's région académique stays Guadeloupe.
    let a32 = r.academie(&acad("32")).expect("académie 32");
    assert_eq!(
        (a32.region.as_str(), a32.kind),
        ("01", AcademieKind::Academie)
    );
    for (code, region) in [("971", "01"), ("977", "977"), ("978", "978")] {
        let d = r.departement(&dep(code)).expect("Antilles");
        assert_eq!(
            (d.academie.as_ref(), d.region.as_str()),
            (Some(&acad("32")), region)
        );
    }
    let a40 = r.academie(&acad("40")).expect("Nouvelle-Calédonie");
    assert_eq!(
        (a40.region.as_str(), a40.kind),
        ("988", AcademieKind::ViceRectorat)
    );

    // The Métropole de Lyon and its communes, Lyon's arrondissements included.
    let lyon_metro = r.epci(&siren("200046977")).expect("Métropole de Lyon");
    assert_eq!(lyon_metro.name, "Métropole de Lyon");
    assert_eq!(lyon_metro.kind, EpciKind::MetropoleDeLyon);
    assert_eq!(lyon_metro.population, Some(1_433_613));
    let members = |kind| {
        r.communes
            .iter()
            .filter(|c| c.epci.as_ref() == Some(&lyon_metro.siren) && c.kind == kind)
            .count()
    };
    assert_eq!(members(CommuneKind::Commune), 58);
    assert_eq!(members(CommuneKind::Arrondissement), 9);
    assert_eq!(
        r.commune(&com("69383")).and_then(|c| c.parent.clone()),
        Some(com("69123"))
    );

    // A commune's SIREN, population, postal codes and EPCI.
    let rennes = r.commune(&com("35238")).expect("Rennes");
    assert_eq!(rennes.name_folded, "rennes");
    assert_eq!(rennes.siren, Some(siren("213502388")));
    assert_eq!(rennes.population, Some(230_890));
    assert_eq!(rennes.postal_codes, ["35000", "35200", "35700"]);
    assert_eq!(rennes.epci, Some(siren("243500139")));
    assert_eq!(
        r.commune(&com("97501"))
            .map(|c| (c.siren.clone(), c.epci.clone())),
        Some((None, None)),
        "Saint-Pierre-et-Miquelon's communes have neither SIREN nor EPCI"
    );
    assert_eq!(
        r.commune(&com("2A004")).map(|c| c.name_folded.as_str()),
        Some("ajaccio")
    );

    // Former codes lead to the current commune; a delegated commune's link wins over an
    // older `anciensCodes` listing; a delegated commune keeping its current code is not former.
    let resolve = |code: &str| r.resolve_commune(&com(code)).map(|c| c.code.as_str());
    assert_eq!(resolve("20004"), Some("2A004"));
    assert_eq!(resolve("69232"), Some("69123"));
    assert_eq!(resolve("55273"), Some("55386"));
    assert_eq!(resolve("60455"), Some("60694"));
    assert_eq!(resolve("01340"), Some("01015"));
    assert_eq!(resolve("99999"), None);
    assert!(
        r.former_codes
            .iter()
            .all(|f| r.commune(&f.code).is_none() && r.commune(&f.current).is_some())
    );
}

#[test]
fn bundle_in_the_repository_is_the_real_files() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("territories.tsv.gz");
    REFERENCE.write_bundle(&path).expect("bundle written");
    let written = std::fs::read(&path).expect("bundle read");
    let committed = std::fs::read(repo_root().join("backend/reference/territories.tsv.gz"))
        .expect("the committed bundle");
    assert!(
        written == committed,
        "backend/reference/territories.tsv.gz is stale: run `ecarto import territories \
         ../shared/data/territories --bundle backend/reference/territories.tsv.gz`"
    );
    assert!(committed.len() < 1_000_000, "{} bytes", committed.len());
    // Deterministic: the same reference gives the same bytes.
    assert!(REFERENCE.bundle_bytes().expect("bytes") == written);

    let bundled = TerritoryReference::bundled().expect("the embedded bundle reads");
    assert!(
        bundled == *REFERENCE,
        "bundled() differs from the parsed files"
    );
}

#[test]
fn damaged_bundles_are_errors() {
    let bytes = std::fs::read(repo_root().join("backend/reference/territories.tsv.gz"))
        .expect("the committed bundle");
    let truncated = TerritoryReference::from_bundle_bytes(&bytes[..bytes.len() / 2], "b.gz")
        .expect_err("a truncated bundle");
    assert!(
        truncated
            .to_string()
            .starts_with("b.gz : lecture impossible"),
        "{truncated}"
    );
    let garbage =
        TerritoryReference::from_bundle_bytes(b"\x00\x01garbage", "b.gz").expect_err("garbage");
    assert!(
        garbage.to_string().starts_with("b.gz : lecture impossible"),
        "{garbage}"
    );
    let empty = TerritoryReference::default()
        .bundle_bytes()
        .expect("an empty reference");
    assert_eq!(
        TerritoryReference::from_bundle_bytes(&empty, "b.gz").expect("empty bundle"),
        TerritoryReference::default()
    );
}

/// A directory holding the real files, with some replaced.
fn files_with(replaced: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    for name in [
        "regions.json",
        "departements.json",
        "departement-academie-region.csv",
        "communes.json",
        "epci.json",
    ] {
        let target = dir.path().join(name);
        match replaced.iter().find(|(n, _)| *n == name) {
            Some((_, content)) => std::fs::write(&target, content).expect("write"),
            None => {
                std::fs::copy(shared_data("territories").join(name), &target).expect("copy");
            }
        }
    }
    dir
}

fn error_of(replaced: &[(&str, &str)]) -> String {
    let dir = files_with(replaced);
    match TerritoryReference::from_dir(dir.path()) {
        Ok(_) => panic!("the damaged files were accepted"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn malformed_files_give_clear_errors() {
    let regions = r#"[
{"code":"01","nom":"Guadeloupe","zone":"drom"},
{"code":"53","nom":"Bretagne","zone":"mars"}
]"#;
    assert_eq!(
        error_of(&[("regions.json", regions)]),
        "regions.json, enregistrement n° 2 (code « 53 ») : champ `zone` : « mars » inconnu \
         (metro, drom ou com attendu)"
    );
    assert_eq!(
        error_of(&[(
            "regions.json",
            r#"[{"code":"1x","nom":"A","zone":"metro"}]"#
        )]),
        "regions.json, enregistrement n° 1 (code « 1x ») : champ `code` : « 1x » n'est pas un \
         code de région INSEE (ex. `53`, `975`)"
    );
    assert_eq!(
        error_of(&[("regions.json", r#"[{"code":"53","zone":"metro"}]"#)]),
        "regions.json, enregistrement n° 1 (code « 53 ») : champ `nom` absent ou vide (texte \
         attendu)"
    );
    assert_eq!(
        error_of(&[("regions.json", "[\n{\"code\":\"53\",\"nom\":\"Bretagne\"")]),
        "regions.json, ligne 2, colonne 29 : JSON invalide ou inattendu : EOF while parsing an \
         object"
    );
    assert_eq!(
        error_of(&[(
            "regions.json",
            r#"[{"code":53,"nom":"Bretagne","zone":"metro"}]"#
        )]),
        "regions.json, ligne 1, colonne 11 : JSON invalide ou inattendu : invalid type: \
         integer `53`, expected a string"
    );
    assert_eq!(
        error_of(&[(
            "departements.json",
            r#"[{"code":"20","nom":"Corse","region":"94"}]"#
        )]),
        "departements.json, enregistrement n° 1 (code « 20 ») : champ `code` : « 20 » n'est \
         pas un code de département (INSEE `35`, `2A`, `971` ou ministère `035`, `02A`)"
    );

    let csv = std::fs::read_to_string(shared_data("territories/departement-academie-region.csv"))
        .expect("csv");
    let no_academie = csv.replace("code_academie;", "code_academ;");
    assert_eq!(
        error_of(&[("departement-academie-region.csv", &no_academie)]),
        "departement-academie-region.csv, en-tête : colonne `code_academie` absente (colonnes \
         attendues : code_departement_men, code_academie, libelle_academie, code_region)"
    );
    let bad_dep = csv.replace("002;Aisne;20", "0X2;Aisne;20");
    assert_eq!(
        error_of(&[("departement-academie-region.csv", &bad_dep)]),
        "departement-academie-region.csv, ligne 3 : champ `code_departement_men` : « 0X2 » \
         n'est pas un code de département (INSEE `35`, `2A`, `971` ou ministère `035`, `02A`)"
    );
    let wrong_region = csv.replace(
        "035;Ille-et-Vilaine;14;Rennes;53",
        "035;Ille-et-Vilaine;14;Rennes;52",
    );
    assert_eq!(
        error_of(&[("departement-academie-region.csv", &wrong_region)]),
        "departement-academie-region.csv, ligne 37 : colonne `code_region` : « 52 » alors que \
         departements.json place le département 35 dans la région 53"
    );

    let communes = r#"[
{"code":"01001","nom":"L'Abergement-Clémenciat","departement":"01","region":"84","type":"commune-actuelle","siren":"21010001","codesPostaux":["01400"],"population":860}
]"#;
    assert_eq!(
        error_of(&[("communes.json", communes)]),
        "communes.json, enregistrement n° 1 (code « 01001 ») : champ `siren` : « 21010001 » \
         n'est pas un SIREN (9 chiffres)"
    );
    let communes = r#"[
{"code":"01001","nom":"L'Abergement-Clémenciat","departement":"01","region":"84","type":"commune-actuelle","codesPostaux":["01400"],"population":860},
{"code":"01002","nom":"Quelque part","departement":"01","region":"84","type":"commune-fantome"}
]"#;
    assert_eq!(
        error_of(&[("communes.json", communes)]),
        "communes.json, enregistrement n° 2 (code « 01002 ») : champ `type` : « commune-fantome \
         » inconnu (commune-actuelle, arrondissement-municipal, commune-deleguee ou \
         commune-associee attendu)"
    );
    let communes = r#"[
{"code":"01001","nom":"L'Abergement-Clémenciat","departement":"02","region":"32","type":"commune-actuelle"}
]"#;
    assert_eq!(
        error_of(&[("communes.json", communes)]),
        "communes.json, enregistrement n° 1 (code « 01001 ») : champ `departement` : « 02 » \
         alors que le code de la commune le place dans le département 01"
    );
    let communes = r#"[
{"code":"01001","nom":"L'Abergement-Clémenciat","departement":"01","region":"84","type":"commune-actuelle"}
]"#;
    let epci = r#"[
{"code":"200000172","nom":"CC Faucigny - Glières","type":"CC","populationMunicipale":28363,"membres":[{"code":"74042"}]}
]"#;
    assert_eq!(
        error_of(&[("communes.json", communes), ("epci.json", epci)]),
        "epci.json, enregistrement n° 1 (code « 200000172 ») : membre 74042 : pas une commune \
         actuelle de communes.json (code de commune actuelle attendu)"
    );

    let dir = tempfile::tempdir().expect("temp dir");
    match TerritoryReference::from_dir(dir.path()) {
        Err(ReferenceError::Io { file, .. }) => assert!(file.ends_with("regions.json"), "{file}"),
        other => panic!("a missing file: {other:?}"),
    }
}

async fn table_counts(app: &TestApp) -> [u64; 6] {
    let db = &app.state.db;
    [
        region::Entity::find().count(db).await.expect("count"),
        academie::Entity::find().count(db).await.expect("count"),
        departement::Entity::find().count(db).await.expect("count"),
        commune::Entity::find().count(db).await.expect("count"),
        epci::Entity::find().count(db).await.expect("count"),
        commune_former_code::Entity::find()
            .count(db)
            .await
            .expect("count"),
    ]
}

#[tokio::test]
async fn load_is_idempotent_and_first_start_loads_the_bundle() {
    let app = TestApp::new().await;
    let db = &app.state.db;
    assert_eq!(table_counts(&app).await, [0; 6]);

    let first = territories::ensure_loaded(db)
        .await
        .expect("first start")
        .expect("loaded on an empty database");
    assert_eq!(
        (
            first.regions,
            first.academies,
            first.vice_rectorats,
            first.departements
        ),
        (26, 30, 4, 109)
    );
    assert_eq!(
        (
            first.communes,
            first.arrondissements,
            first.epcis,
            first.former_codes
        ),
        (34_969, 45, 1_255, 4_240)
    );
    let expected = [26, 34, 109, 35_014, 1_255, 4_240];
    assert_eq!(table_counts(&app).await, expected);
    let communes_before = commune::Entity::find()
        .order_by_asc(commune::Column::Code)
        .all(db)
        .await
        .expect("communes");

    // Loading the files over the bundle replaces the reference with the same rows.
    let again = territories::load(db, &REFERENCE)
        .await
        .expect("second load");
    assert_eq!(again, first);
    assert_eq!(table_counts(&app).await, expected);
    let communes_after = commune::Entity::find()
        .order_by_asc(commune::Column::Code)
        .all(db)
        .await
        .expect("communes");
    assert!(communes_before == communes_after);
    assert!(
        territories::ensure_loaded(db)
            .await
            .expect("second start")
            .is_none()
    );

    let lyon = communes_after
        .iter()
        .find(|c| c.code == "69381")
        .expect("Lyon 1er");
    assert_eq!(
        (
            lyon.kind.as_str(),
            lyon.parent_code.as_deref(),
            lyon.epci_siren.as_deref()
        ),
        ("arrondissement", Some("69123"), Some("200046977"))
    );
    let d2a = departement::Entity::find_by_id("2A")
        .one(db)
        .await
        .expect("query")
        .expect("2A");
    assert_eq!(
        (
            d2a.code_men.as_str(),
            d2a.academie_code.as_deref(),
            d2a.region_code.as_str()
        ),
        ("02A", Some("27"), "94")
    );

    // The API on the whole reference.
    let national = app.get("/api/v1/territories/national").await;
    national.assert_status(StatusCode::OK);
    assert_eq!(
        national.json()["children"].as_array().map(Vec::len),
        Some(26)
    );
    let ille = app.get("/api/v1/territories/departement/035").await.json();
    assert_eq!(ille["children"].as_array().map(Vec::len), Some(332));
    assert_eq!(
        ille["children"][0],
        json!({"level": "commune", "code": "35001", "name": "Acigné"})
    );
    let normandie = app.get("/api/v1/territories/region/28").await.json();
    assert_eq!(
        codes(&normandie["children"]),
        [
            "academie 70",
            "departement 14",
            "departement 27",
            "departement 50",
            "departement 61",
            "departement 76"
        ]
    );
    let a32 = app.get("/api/v1/territories/academie/32").await.json();
    assert_eq!(codes(&a32["parents"]), ["region 01"]);
    assert_eq!(
        codes(&a32["children"]),
        ["departement 971", "departement 977", "departement 978"]
    );
    let met69 = app.get("/api/v1/territories/epci/200046977").await.json();
    assert_eq!(met69["kind"], "MET69");
    assert_eq!(met69["children"].as_array().map(Vec::len), Some(58));
    assert_eq!(codes(&met69["parents"]), ["departement 69", "region 84"]);
}

/// `["level code", …]` of a list of territories.
fn codes(list: &Value) -> Vec<String> {
    list.as_array()
        .map(|items| {
            items
                .iter()
                .map(|t| {
                    format!(
                        "{} {}",
                        t["level"].as_str().unwrap_or("?"),
                        t["code"].as_str().unwrap_or("?")
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The real reference cut down to a few départements, to keep the endpoint tests fast.
fn small_reference() -> TerritoryReference {
    let keep: BTreeSet<DepartementCode> = ["35", "69", "75", "2A", "976"].map(dep).into();
    let mut r = REFERENCE.clone();
    r.communes.retain(|c| keep.contains(&c.departement));
    let used: BTreeSet<Siren> = r.communes.iter().filter_map(|c| c.epci.clone()).collect();
    r.epcis.retain(|e| used.contains(&e.siren));
    r.former_codes
        .retain(|f| keep.contains(&f.current.departement()));
    r
}

fn uai(digits: &str) -> Uai {
    Uai::parse(&format!("{digits}{}", expected_check_letter(digits))).expect("UAI")
}

fn school(
    digits: &str,
    name: &str,
    kind: &str,
    secteur: &str,
    etat: &str,
    (commune, departement, academie, region): (&str, &str, &str, &str),
) -> SchoolObservation {
    SchoolObservation {
        uai: uai(digits),
        millesime: Some("2026".into()),
        values: vec![
            ("appellation_officielle", json!(name)),
            ("type_etablissement", json!(kind)),
            ("secteur", json!(secteur)),
            ("etat", json!(etat)),
            ("code_commune", json!(commune)),
            ("code_departement", json!(departement)),
            ("code_academie", json!(academie)),
            ("code_region", json!(region)),
            ("presence_annuaire", json!("present")),
        ],
        raw: Vec::new(),
    }
}

#[tokio::test]
async fn territory_endpoint_parents_children_and_counts() {
    let app = TestApp::new().await;
    let db = &app.state.db;
    let summary = territories::load(db, &small_reference())
        .await
        .expect("load");
    assert_eq!(summary.arrondissements, 29, "Paris and Lyon");

    let rennes = ("35238", "35", "14", "53");
    let schools = vec![
        school("0350001", "École A", "ecole", "public", "ouvert", rennes),
        school("0350002", "Collège B", "college", "prive", "ouvert", rennes),
        school(
            "0350003",
            "École fermée",
            "ecole",
            "public",
            "ferme",
            rennes,
        ),
        school(
            "0750001",
            "Lycée C",
            "lycee",
            "public",
            "ouvert",
            ("75105", "75", "01", "11"),
        ),
        school(
            "0690001",
            "École D",
            "ecole",
            "public",
            "ouvert",
            ("69383", "69", "10", "84"),
        ),
    ];
    let txn = db.begin().await.expect("begin");
    let publication = Publication {
        source: "annuaire".into(),
        import_id: None,
        submission_id: None,
        kind: "import".into(),
        summary: "écoles de test".into(),
    };
    let outcome = publish(&txn, &publication, schools).await.expect("publish");
    txn.commit().await.expect("commit");
    assert_eq!(outcome.schools_created, 5);

    let national = app.get("/api/v1/territories/national").await;
    national.assert_status(StatusCode::OK);
    let national = national.json();
    assert_eq!(
        (&national["level"], &national["code"], &national["name"]),
        (&json!("national"), &json!("FR"), &json!("France"))
    );
    assert_eq!(
        national["schools"],
        json!({
            "total": 4,
            "by_type": {"college": 1, "ecole": 2, "lycee": 1},
            "by_secteur": {"prive": 1, "public": 3},
            "by_type_and_secteur": {
                "college": {"prive": 1}, "ecole": {"public": 2}, "lycee": {"public": 1}
            }
        })
    );

    // `035`, `35` and the académie and région hold the same two open schools of Rennes.
    for uri in [
        "/api/v1/territories/departement/035",
        "/api/v1/territories/departement/35",
        "/api/v1/territories/academie/14",
        "/api/v1/territories/academie/014",
        "/api/v1/territories/region/53",
        "/api/v1/territories/commune/35238",
        "/api/v1/territories/epci/243500139",
    ] {
        let res = app.get(uri).await;
        res.assert_status(StatusCode::OK);
        assert_eq!(
            res.json()["schools"]["by_type_and_secteur"],
            json!({"college": {"prive": 1}, "ecole": {"public": 1}}),
            "{uri}"
        );
    }

    let d35 = app.get("/api/v1/territories/departement/035").await.json();
    assert_eq!(
        (&d35["code"], &d35["code_men"], &d35["name"]),
        (&json!("35"), &json!("035"), &json!("Ille-et-Vilaine"))
    );
    assert_eq!(codes(&d35["parents"]), ["academie 14", "region 53"]);
    assert_eq!(d35["parents"][0]["name"], "Rennes");

    let commune = app.get("/api/v1/territories/commune/35238").await.json();
    assert_eq!(
        commune,
        json!({
            "level": "commune",
            "code": "35238",
            "name": "Rennes",
            "kind": "commune",
            "siren": "213502388",
            "population": 230890,
            "postal_codes": ["35000", "35200", "35700"],
            "parents": [
                {"level": "epci", "code": "243500139", "name": "Rennes Métropole"},
                {"level": "departement", "code": "35", "name": "Ille-et-Vilaine"},
                {"level": "academie", "code": "14", "name": "Rennes"},
                {"level": "region", "code": "53", "name": "Bretagne"}
            ],
            "children": [],
            "schools": {
                "total": 2,
                "by_type": {"college": 1, "ecole": 1},
                "by_secteur": {"prive": 1, "public": 1},
                "by_type_and_secteur": {"college": {"prive": 1}, "ecole": {"public": 1}}
            }
        })
    );

    // Paris counts the schools of its arrondissements; an arrondissement has Paris as parent.
    let paris = app.get("/api/v1/territories/commune/75056").await.json();
    assert_eq!(paris["children"].as_array().map(Vec::len), Some(20));
    assert_eq!(
        paris["children"][4],
        json!({"level": "commune", "code": "75105", "name": "Paris 5e Arrondissement"})
    );
    assert_eq!(paris["schools"]["by_type"], json!({"lycee": 1}));
    let fifth = app.get("/api/v1/territories/commune/75105").await.json();
    assert_eq!(fifth["kind"], "arrondissement");
    assert_eq!(
        codes(&fifth["parents"]),
        [
            "commune 75056",
            "epci 200054781",
            "departement 75",
            "academie 01",
            "region 11"
        ]
    );
    assert_eq!(fifth["schools"]["total"], 1);
    let grand_paris = app.get("/api/v1/territories/epci/200054781").await.json();
    assert_eq!(grand_paris["schools"]["total"], 1);

    // The Métropole de Lyon counts the school of Lyon 3e.
    let met69 = app.get("/api/v1/territories/epci/200046977").await.json();
    assert_eq!(
        (&met69["name"], &met69["kind"], &met69["population"]),
        (
            &json!("Métropole de Lyon"),
            &json!("MET69"),
            &json!(1_433_613)
        )
    );
    assert_eq!(
        met69["schools"]["by_type_and_secteur"],
        json!({"ecole": {"public": 1}})
    );
    assert_eq!(
        app.get("/api/v1/territories/departement/69").await.json()["schools"]["total"],
        1
    );

    // Corse and Mayotte.
    let d2a = app.get("/api/v1/territories/departement/02a").await.json();
    assert_eq!(d2a["code"], "2A");
    assert_eq!(codes(&d2a["parents"]), ["academie 27", "region 94"]);
    let corse = app.get("/api/v1/territories/region/94").await.json();
    assert_eq!(
        codes(&corse["children"]),
        ["academie 27", "departement 2A", "departement 2B"]
    );
    assert_eq!(corse["zone"], "metro");
    let a43 = app.get("/api/v1/territories/academie/43").await.json();
    assert_eq!(
        (&a43["name"], &a43["kind"]),
        (&json!("Mayotte"), &json!("academie"))
    );
    assert_eq!(codes(&a43["parents"]), ["region 06"]);
    assert_eq!(codes(&a43["children"]), ["departement 976"]);
    assert_eq!(a43["schools"]["total"], 0);
    assert_eq!(a43["schools"]["by_type"], json!({}));
    let a40 = app.get("/api/v1/territories/academie/40").await.json();
    assert_eq!(a40["kind"], "vice_rectorat");

    // Errors: a bad level or malformed code is a 400 saying why; an unknown territory a 404.
    let res = app.get("/api/v1/territories/canton/35").await;
    res.assert_status(StatusCode::BAD_REQUEST);
    assert_eq!(
        res.header(header::CONTENT_TYPE),
        Some("application/problem+json")
    );
    assert_eq!(
        res.json()["errors"],
        json!([{
            "pointer": "level",
            "detail": "« canton » n'est pas un niveau de territoire (national, region, academie, \
                       departement, commune, epci)"
        }])
    );
    let res = app.get("/api/v1/territories/departement/20").await;
    res.assert_status(StatusCode::BAD_REQUEST);
    assert_eq!(res.json()["errors"][0]["pointer"], "code");
    assert_eq!(
        res.json()["detail"],
        "« 20 » n'est pas un code de département (INSEE `35`, `2A`, `971` ou ministère `035`, \
         `02A`)"
    );
    let res = app.get("/api/v1/territories/epci/12345").await;
    res.assert_status(StatusCode::BAD_REQUEST);
    assert_eq!(
        res.json()["detail"],
        "« 12345 » n'est pas un SIREN (9 chiffres)"
    );
    for uri in [
        "/api/v1/territories/departement/979",
        "/api/v1/territories/commune/35999",
        "/api/v1/territories/academie/99",
        "/api/v1/territories/region/05",
        "/api/v1/territories/epci/123456789",
    ] {
        let res = app.get(uri).await;
        res.assert_status(StatusCode::NOT_FOUND);
        assert_eq!(
            res.header(header::CONTENT_TYPE),
            Some("application/problem+json"),
            "{uri}"
        );
    }
    assert_eq!(
        app.get("/api/v1/territories/departement/979").await.json()["detail"],
        "aucun territoire de niveau departement n'a le code « 979 »"
    );

    // The service reads codes the same way as the API.
    let view = territories::territory(db, Level::Departement, "035")
        .await
        .expect("query")
        .expect("35");
    assert_eq!(view.name, "Ille-et-Vilaine");
    assert!(
        territories::territory(db, Level::Departement, "xx")
            .await
            .expect("query")
            .is_none()
    );
}

/// A département's completeness, checked against a count made here from the open-data CSV
/// export and the catalogue file — another path through the same published values.
#[tokio::test]
async fn a_departement_completeness_matches_a_count_from_the_export() {
    let app = TestApp::with_sample(|_| {}).await;
    let catalogue =
        std::fs::read_to_string(ecarto_tests::repo_root().join("backend/catalog/fields.csv"))
            .unwrap();
    let rules: Vec<(String, String)> = catalogue
        .lines()
        .skip(1)
        .map(|l| {
            let c: Vec<&str> = l.split(';').collect();
            (c[0].to_owned(), c[5].to_owned())
        })
        .collect();
    let csv = app.get("/api/v1/exports/schools.csv").await.text();
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(b';')
        .from_reader(csv.trim_start_matches('\u{feff}').as_bytes());
    let headers = reader.headers().unwrap().clone();
    let col = |name: &str| headers.iter().position(|h| h == name).unwrap();
    let mut expected: std::collections::HashMap<String, (u32, u32)> = Default::default();
    let mut schools = 0;
    for row in reader.records() {
        let row = row.unwrap();
        if &row[col("code_departement")] != "35" {
            continue;
        }
        schools += 1;
        let (t, secteur, ministere) = (
            &row[col("type_etablissement")],
            &row[col("secteur")],
            &row[col("ministere_tutelle")],
        );
        for (field, rule) in &rules {
            let is_expected = match rule.as_str() {
                "all" => true,
                "public" => secteur == "public",
                "prive" => secteur == "prive",
                "none" => false,
                "etic" => {
                    secteur == "public"
                        && ["ecole", "college", "lycee", "erea"].contains(&t)
                        && (ministere.is_empty() || ministere.contains("EDUCATION NATIONALE"))
                }
                types => types.split(',').any(|x| x == t),
            };
            if is_expected {
                let e = expected.entry(field.clone()).or_default();
                e.1 += 1;
                if !row[col(field)].is_empty() {
                    e.0 += 1;
                }
            }
        }
    }
    let scores = app
        .get("/api/v1/territories/departement/035/completeness")
        .await
        .json();
    assert_eq!(scores["schools"], schools);
    for f in scores["by_field"].as_array().unwrap() {
        let (filled, exp) = expected[f["field"].as_str().unwrap()];
        assert_eq!(
            (
                f["filled"].as_u64().unwrap(),
                f["expected"].as_u64().unwrap()
            ),
            (filled as u64, exp as u64),
            "{f}"
        );
    }
    let total_expected: u32 = expected.values().map(|v| v.1).sum();
    assert_eq!(scores["total"]["expected"], total_expected);
    // Filters, CSV and errors.
    let colleges = app
        .get("/api/v1/territories/departement/35/completeness?type=college&theme=equipement&format=csv")
        .await;
    assert!(
        colleges
            .text()
            .starts_with("champ;theme;renseignes;attendus;taux")
    );
    assert!(colleges.text().contains("nb_terminaux;equipement;"));
    app.get("/api/v1/territories/departement/35/completeness?field=inconnu")
        .await
        .assert_status(axum::http::StatusCode::BAD_REQUEST);
    app.get("/api/v1/territories/departement/999/completeness")
        .await
        .assert_status(axum::http::StatusCode::BAD_REQUEST);
    app.get("/api/v1/territories/commune/99999/completeness")
        .await
        .assert_status(axum::http::StatusCode::NOT_FOUND);
    let national = app
        .get("/api/v1/territories/national/completeness")
        .await
        .json();
    assert!(national["schools"].as_u64().unwrap() > schools as u64);
    let commune = app
        .get("/api/v1/territories/commune/35238/completeness?secteur=public")
        .await
        .json();
    assert!(
        commune["schools"].as_u64().unwrap() > 50,
        "{}",
        commune["schools"]
    );
}
