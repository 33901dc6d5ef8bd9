//! Imports of the real ministry files and of broken copies of them, through the service.

// Helpers of the tests unwrap too: a panic is how a test fails.
#![allow(clippy::unwrap_used)]

use ecarto::{
    domain::{catalog::Catalog, uai::Uai},
    entities::{
        dataset_version, departement, import, observation, provenance, school, school_revision,
    },
    importers::{input, mapping::Columns},
    services::{
        datasets,
        imports::{self, ImportError, ImportKind, ImportOutcome, ImportStatus},
    },
};
use ecarto_tests::{TestApp, shared_data};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder, Set,
};
use serde_json::{Value, json};

const IILE_ET_VILAINE: &str = "annuaire/annuaire-ille-et-vilaine.csv";
const VAL_DE_MARNE: &str = "annuaire/annuaire-val-de-marne.csv";
const GEOLOCALISATION: &str = "annuaire/geolocalisation-colleges-ille-et-vilaine.csv";
const ETIC: &str = "etic/etic-2d-academie-montpellier.csv";
/// Values the Ille-et-Vilaine extract publishes: the 19,655 cells of the fields the catalogue
/// had before issue 13, plus, counted from the file by a script: each school's presence and
/// types (2 × 993), the 3 multi-line schools' other sites, and the 3,584 yes/no offers
/// (tracks, SEGPA, ULIS…) a UAI's lines answer.
const VALUES_35: u64 = 19_655 + 2 * 993 + 3 + 3_584;
/// The same for Val-de-Marne: 11,034 + 2 × 613 + 1,839.
const VALUES_94: u64 = 11_034 + 2 * 613 + 1_839;

fn read(rel: &str) -> Vec<u8> {
    std::fs::read(shared_data(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn text(rel: &str) -> String {
    String::from_utf8(read(rel)).expect("UTF-8")
}

async fn import(app: &TestApp, kind: ImportKind, name: &str, bytes: &[u8]) -> ImportOutcome {
    app.import_file(kind, name, bytes).await
}

async fn import_real(app: &TestApp, kind: ImportKind, rel: &str) -> ImportOutcome {
    let name = rel.rsplit('/').next().unwrap_or(rel);
    import(app, kind, name, &read(rel)).await
}

fn counts(o: &ImportOutcome) -> (u64, u64, u64) {
    (
        o.report.rows_read,
        o.report.rows_imported,
        o.report.rows_rejected,
    )
}

fn published(o: &ImportOutcome) -> (Option<i32>, u64, u64, u64) {
    let p = o.publication.clone().unwrap_or_default();
    (
        p.version,
        p.schools_created,
        p.schools_changed,
        p.values_changed,
    )
}

/// The published data: row counts of every table it lives in, and the latest version.
#[derive(Debug, PartialEq)]
struct Snapshot {
    schools: u64,
    observations: u64,
    provenances: u64,
    versions: u64,
    revisions: u64,
    latest: Option<i32>,
}

async fn snapshot(db: &DatabaseConnection) -> Snapshot {
    Snapshot {
        schools: school::Entity::find().count(db).await.unwrap(),
        observations: observation::Entity::find().count(db).await.unwrap(),
        provenances: provenance::Entity::find().count(db).await.unwrap(),
        versions: dataset_version::Entity::find().count(db).await.unwrap(),
        revisions: school_revision::Entity::find().count(db).await.unwrap(),
        latest: datasets::latest_version(db).await.unwrap(),
    }
}

async fn record(db: &DatabaseConnection, uai: &str) -> Value {
    let current = datasets::current_records(db, [uai.to_owned()])
        .await
        .unwrap();
    let data = &current
        .get(uai)
        .unwrap_or_else(|| panic!("{uai} not published"))
        .data;
    serde_json::from_str(data).unwrap()
}

fn value(record: &Value, field: &str) -> Value {
    record[field][0].clone()
}

async fn count_where(db: &DatabaseConnection, field: &str, v: &str) -> u64 {
    let uais = school::Entity::find()
        .all(db)
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.uai);
    datasets::current_records(db, uais)
        .await
        .unwrap()
        .values()
        .filter(|r| serde_json::from_str::<Value>(&r.data).unwrap()[field][0].as_str() == Some(v))
        .count() as u64
}

fn error_lines(o: &ImportOutcome) -> Vec<String> {
    o.report
        .row_errors
        .iter()
        .map(ToString::to_string)
        .collect()
}

#[tokio::test]
async fn annuaire_files_import_with_exact_counts() {
    let app = TestApp::new().await;
    let db = &app.state.db;

    let o = import_real(&app, ImportKind::Annuaire, IILE_ET_VILAINE).await;
    assert_eq!(o.status, ImportStatus::Published);
    assert_eq!(
        o.report.format.as_deref(),
        Some("l'annuaire de l'éducation")
    );
    assert_eq!(o.report.encoding.as_deref(), Some("UTF-8 avec BOM"));
    assert_eq!(counts(&o), (996, 996, 0));
    assert_eq!(published(&o), (Some(1), 993, 0, VALUES_35));
    // Three establishments span two lines of this extract: each is one school.
    let merged: Vec<(&str, &[u64], u64)> = o
        .report
        .merged
        .iter()
        .map(|m| (m.uai.as_str(), m.lines.as_slice(), m.main_line))
        .collect();
    assert_eq!(
        merged,
        [
            ("0352072M", &[139, 940][..], 940),
            ("0350852L", &[162, 961][..], 961),
            ("0350778F", &[794, 974][..], 794)
        ]
    );
    assert!(error_lines(&o).is_empty(), "{:?}", error_lines(&o));
    assert_eq!((o.report.values_dropped, o.report.values_kept_raw), (0, 0));
    assert!(o.report.file_errors.is_empty() && o.report.notes.is_empty());
    let register = o
        .report
        .register
        .as_ref()
        .expect("the annuaire is the register");
    assert_eq!(
        (register.listed, register.as_of.as_str()),
        (993, "2023-06-08")
    );
    assert!(register.marked_absent.is_empty() && register.withheld.is_empty());
    assert!(o.report.outside_register.is_empty());

    let r = record(db, "0350122T").await;
    assert_eq!(
        value(&r, "appellation_officielle"),
        "Ecole primaire publique les Lucioles"
    );
    assert_eq!(value(&r, "type_etablissement"), "ecole");
    assert_eq!(value(&r, "secteur"), "public");
    assert_eq!(value(&r, "etat"), "ouvert");
    assert_eq!(value(&r, "code_departement"), "35");
    assert_eq!(value(&r, "code_academie"), "14");
    assert_eq!(value(&r, "code_commune"), "35016");
    assert_eq!(value(&r, "adresse"), "6 rue PHILIPPE, 35580 BAULON");
    assert_eq!(value(&r, "nombre_eleves"), 143);
    assert_eq!(value(&r, "latitude"), 47.98614492070133);
    assert_eq!(value(&r, "education_prioritaire"), "hors_rep");
    assert_eq!(value(&r, "date_ouverture"), "1965-10-01");
    assert!(
        r.get("type_contrat_prive").is_none(),
        "SANS OBJET is left out"
    );
    assert!(
        r.get("section_arts").is_none(),
        "empty cells are not communicated"
    );
    let prov = provenance::Entity::find_by_id(r["secteur"][1].as_i64().unwrap())
        .one(db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (prov.source.as_str(), prov.millesime.as_deref()),
        ("annuaire", Some("2023-06-08"))
    );
    assert_eq!(prov.import_id, Some(o.import_id));
    assert_eq!(count_where(db, "education_prioritaire", "rep").await, 50);
    assert_eq!(
        count_where(db, "education_prioritaire", "rep_plus").await,
        6
    );
    assert_eq!(count_where(db, "type_etablissement", "erea").await, 2);
    // STS/CPGE-only schools have no Type_etablissement: the nature code (400) decides.
    let sts = record(db, "0352813T").await;
    assert_eq!(value(&sts, "code_nature"), "400");
    assert_eq!(value(&sts, "type_etablissement"), "autre");

    let o = import_real(&app, ImportKind::Annuaire, VAL_DE_MARNE).await;
    assert_eq!(
        o.report.format.as_deref(),
        Some("l'annuaire de l'éducation (schéma 2026, sans Nombre_d_eleves)")
    );
    assert_eq!(counts(&o), (613, 613, 0));
    assert_eq!(published(&o), (Some(2), 613, 0, VALUES_94));
    assert_eq!(
        o.report.notes,
        [
            "colonnes absentes de ce fichier, valeurs non communiquées : Nombre_d_eleves (nombre_eleves)"
        ]
    );
    let r = record(db, "0940176F").await;
    assert_eq!(value(&r, "code_departement"), "94");
    assert!(r.get("nombre_eleves").is_none());
    assert_eq!(count_where(db, "etat", "a_fermer").await, 1 + 2);

    let o = import_real(&app, ImportKind::Annuaire, GEOLOCALISATION).await;
    assert_eq!(
        o.report.format.as_deref(),
        Some("le fichier « adresse et géolocalisation des établissements »")
    );
    assert_eq!(counts(&o), (117, 117, 0));
    // One collège opening soon is not in the annuaire extract (its type is published for it,
    // as `types_etablissement` too); the others gain the fields only this file has
    // (dénomination, patronyme, lieu-dit, BP, localité), nothing else changes: the file is
    // undated, so it never overrides the dated annuaire. It is no register: the collège it
    // brings is outside the official list.
    assert_eq!(published(&o), (Some(3), 1, 116, 438 + 1));
    assert_eq!(o.report.outside_register, ["0353083L"]);
    assert!(o.report.register.is_none());
    let created = record(db, "0353083L").await;
    assert_eq!(value(&created, "etat"), "a_ouvrir");
    assert!(created.get("presence_annuaire").is_none());
    assert_eq!(value(&created, "type_etablissement"), "college");
    assert_eq!(value(&created, "secteur"), "prive");
    let r = record(db, "0350017D").await;
    assert_eq!(value(&r, "denomination"), "COLLEGE");
    assert_eq!(value(&r, "lieu_dit"), "Maure-de-Bretagne");
    assert_eq!(
        value(&r, "adresse"),
        "Route de Campel, Maure-de-Bretagne - Val d'Anast"
    );
    assert_eq!(value(&r, "nombre_eleves"), 365);

    let s = snapshot(db).await;
    assert_eq!(s.schools, 993 + 613 + 1);
    // Published values live in the revisions; observations keep what a source said that is
    // not published: the géolocalisation file's undated values where the dated annuaire
    // wins (all its rows but the school it created).
    assert_eq!(s.observations, 116);
    assert_eq!(s.latest, Some(3));

    // The stored report is the one returned.
    let stored = imports::get_import(db, o.import_id).await.unwrap().unwrap();
    assert_eq!(stored.report, o.report);
    assert_eq!(stored.import.status, "published");
    assert_eq!(stored.import.dataset_version, Some(3));
    assert_eq!(stored.import.rows_read, 117);
}

#[tokio::test]
async fn every_uai_of_the_real_files_passes_the_check_letter() {
    for (rel, column, rows, distinct) in [
        (IILE_ET_VILAINE, "Identifiant_de_l_etablissement", 996, 993),
        (VAL_DE_MARNE, "Identifiant_de_l_etablissement", 613, 613),
        (GEOLOCALISATION, "Code établissement", 117, 117),
        (ETIC, "Code_UAI", 312, 176),
    ] {
        let bytes = read(rel);
        let input = input::read(&bytes).unwrap();
        let index = Columns::new(&input.headers).find(column).unwrap();
        let mut records = input.records();
        let mut record = csv::StringRecord::new();
        let mut seen = std::collections::HashSet::new();
        let mut n = 0;
        while let Some(line) = records.next_into(&mut record).unwrap() {
            let raw = &record[index];
            let uai = Uai::parse(raw).unwrap_or_else(|e| panic!("{rel} line {line}: {e}"));
            assert_eq!(uai.as_str(), raw, "already canonical");
            seen.insert(uai);
            n += 1;
        }
        assert_eq!((n, seen.len()), (rows, distinct), "{rel}");
    }
}

#[tokio::test]
async fn importing_the_same_file_twice_publishes_no_new_version() {
    let app = TestApp::new().await;
    let db = &app.state.db;
    for rel in [IILE_ET_VILAINE, GEOLOCALISATION] {
        import_real(&app, ImportKind::Annuaire, rel).await;
    }
    import_real(&app, ImportKind::Etic, ETIC).await;
    // The géolocalisation file brought a collège the annuaire does not list: importing the
    // annuaire again marks it absent, once.
    let o = import_real(&app, ImportKind::Annuaire, IILE_ET_VILAINE).await;
    assert_eq!(published(&o), (Some(4), 0, 1, 1));
    assert_eq!(
        o.report.register.as_ref().unwrap().marked_absent,
        ["0353083L"]
    );
    let before = snapshot(db).await;
    for (kind, rel) in [
        (ImportKind::Annuaire, IILE_ET_VILAINE),
        (ImportKind::Annuaire, GEOLOCALISATION),
        (ImportKind::Etic, ETIC),
    ] {
        let o = import_real(&app, kind, rel).await;
        assert_eq!(o.status, ImportStatus::Unchanged, "{rel}");
        assert_eq!(published(&o), (None, 0, 0, 0), "{rel}");
        assert!(
            o.report
                .headline()
                .ends_with("aucun changement, pas de nouvelle version")
        );
        let stored = imports::get_import(db, o.import_id).await.unwrap().unwrap();
        assert_eq!(
            (stored.import.status.as_str(), stored.import.dataset_version),
            ("unchanged", None)
        );
    }
    assert_eq!(snapshot(db).await, before);
    assert_eq!(import::Entity::find().count(db).await.unwrap(), 7);
}

#[tokio::test]
async fn a_modified_copy_publishes_exactly_that_change() {
    let app = TestApp::new().await;
    let db = &app.state.db;
    import_real(&app, ImportKind::Annuaire, IILE_ET_VILAINE).await;
    let original = text(IILE_ET_VILAINE);
    let line = original
        .lines()
        .find(|l| l.starts_with("0350122T;"))
        .unwrap();
    assert_eq!(line.matches(";143;").count(), 1);
    let modified = original.replacen(line, &line.replacen(";143;", ";150;", 1), 1);
    let o = import(&app, ImportKind::Annuaire, "copie.csv", modified.as_bytes()).await;
    assert_eq!(published(&o), (Some(2), 0, 1, 1));
    let (schools, changes) = datasets::changes(db, 2, 1, 100).await.unwrap();
    assert_eq!(schools, 1);
    assert_eq!(changes.len(), 1);
    let c = &changes[0];
    assert_eq!(
        (c.uai.as_str(), c.field.as_str(), &c.old, &c.new),
        (
            "0350122T",
            "nombre_eleves",
            &Some(json!(143)),
            &Some(json!(150))
        )
    );
    assert_ne!(c.old_provenance, c.new_provenance);
    let version = dataset_version::Entity::find_by_id(2)
        .one(db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(version.import_id, Some(o.import_id));
    assert_eq!(
        version.summary,
        "Import annuaire : copie.csv (996 lignes importées)"
    );
}

async fn load_montpellier_departements(db: &DatabaseConnection) {
    for (code, name) in [
        ("11", "Aude"),
        ("30", "Gard"),
        ("34", "Hérault"),
        ("48", "Lozère"),
        ("66", "Pyrénées-Orientales"),
    ] {
        departement::ActiveModel {
            code: Set(code.into()),
            code_men: Set(format!("0{code}")),
            name: Set(name.into()),
            region_code: Set("76".into()),
            academie_code: Set(Some("11".into())),
        }
        .insert(db)
        .await
        .unwrap();
    }
}

#[tokio::test]
async fn etic_publishes_the_latest_millesime_and_keeps_the_earlier_one() {
    let app = TestApp::new().await;
    let db = &app.state.db;
    load_montpellier_departements(db).await;
    let o = import_real(&app, ImportKind::Etic, ETIC).await;
    assert_eq!(
        o.report.format.as_deref(),
        Some("l'enquête ETIC (second degré)")
    );
    assert_eq!(o.report.encoding.as_deref(), Some("UTF-8"));
    assert_eq!(counts(&o), (312, 312, 0));
    assert!(o.report.row_errors.is_empty(), "{:?}", o.report.row_errors);
    assert_eq!(published(&o), (Some(1), 176, 0, 7103));

    // 0110067N answered in 2018 and 2019: 2019's values are published.
    let r = record(db, "0110067N").await;
    assert_eq!(value(&r, "nombre_eleves"), 657);
    assert_eq!(value(&r, "nb_videoprojecteurs"), 24);
    assert_eq!(value(&r, "type_etablissement"), "college");
    assert_eq!(value(&r, "secteur"), "public");
    assert_eq!(value(&r, "code_departement"), "11");
    assert_eq!(value(&r, "code_academie"), "11");
    assert_eq!(value(&r, "code_region"), "76");
    let prov = provenance::Entity::find_by_id(r["nb_videoprojecteurs"][1].as_i64().unwrap())
        .one(db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (prov.source.as_str(), prov.millesime.as_deref()),
        ("etic", Some("2019"))
    );
    // …and 2018's stay in the observations.
    let history = observation::Entity::find()
        .filter(observation::Column::Uai.eq("0110067N"))
        .order_by_asc(observation::Column::Millesime)
        .all(db)
        .await
        .unwrap();
    let by_year: Vec<(String, Value, Value)> = history
        .iter()
        .map(|h| {
            let data: Value = serde_json::from_str(&h.data).unwrap();
            (
                h.millesime.clone(),
                data["nombre_eleves"].clone(),
                data["nb_videoprojecteurs"].clone(),
            )
        })
        .collect();
    // 2018's answers stay as an observation. So do 2019's: some repeat 2018's, and an equal
    // value keeps the provenance that first published it, so that row is not published as is.
    assert_eq!(
        by_year,
        [
            ("2018".into(), json!(665), json!(26)),
            ("2019".into(), json!(657), json!(24))
        ]
    );
    assert_eq!(r["nombre_eleves"][0], json!(657));
    assert_eq!(r["nb_videoprojecteurs"][0], json!(24));
    // ENT availability was answered in 2018 only: not communicated in 2019 keeps 2018's.
    let prov = provenance::Entity::find_by_id(r["ent_disponible"][1].as_i64().unwrap())
        .one(db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(prov.millesime.as_deref(), Some("2018"));

    // Band spellings: `50pctOuPlus` (165 rows) and `50OuPlus` (140 rows) are one band.
    let parsed = ecarto::importers::parse_file(
        ImportKind::Etic,
        "etic.csv",
        &read("etic/etic-2d-academie-montpellier.csv"),
        &ecarto::importers::Context::default(),
        &mut |_, _| {},
    );
    assert_eq!(parsed.observations.len(), 312);
    let band_count = |field: &str, code: &str| {
        parsed
            .observations
            .iter()
            .filter(|o| o.values.iter().any(|(f, v)| *f == field && v == code))
            .count()
    };
    assert_eq!(band_count("part_classes_internet", "50_plus"), 305);
    assert_eq!(band_count("part_classes_internet", "moins_20"), 1);
    assert_eq!(band_count("part_classes_tbi", "moins_20"), 188);
    assert_eq!(band_count("nb_ressources_editoriales", "20_plus"), 38);
    assert_eq!(band_count("debit_web", "10_50"), 106);
    assert_eq!(band_count("wifi", "borne_mobile"), 78);
    let catalog = Catalog::get();
    for o in &parsed.observations {
        for (name, v) in &o.values {
            let field = catalog.field(name).unwrap();
            if !field.allowed.is_empty() {
                assert!(
                    field.allowed.contains(&v.as_str().unwrap()),
                    "{name} = {v} in {}",
                    o.uai
                );
            }
        }
    }
}

#[tokio::test]
async fn the_annuaire_outranks_etic_for_identity_fields() {
    let app = TestApp::new().await;
    let db = &app.state.db;
    import_real(&app, ImportKind::Etic, ETIC).await;
    let annuaire = "Identifiant_de_l_etablissement;Nom_etablissement;Type_etablissement;Statut_public_prive;Nombre_d_eleves;date_maj_ligne\n\
                    0110067N;Collège Antoine-Fabre;Collège;Public;700;2023-06-08\n";
    let o = import(
        &app,
        ImportKind::Annuaire,
        "extrait.csv",
        annuaire.as_bytes(),
    )
    .await;
    // The name and the number of pupils, its presence in the annuaire and its types.
    assert_eq!(published(&o), (Some(2), 0, 1, 4));
    let r = record(db, "0110067N").await;
    assert_eq!(value(&r, "nombre_eleves"), 700);
    assert_eq!(value(&r, "appellation_officielle"), "Collège Antoine-Fabre");
    // ETIC again: its values of the annuaire's fields never override the annuaire.
    let o = import_real(&app, ImportKind::Etic, ETIC).await;
    assert_eq!(o.status, ImportStatus::Unchanged);
    assert_eq!(value(&record(db, "0110067N").await, "nombre_eleves"), 700);
}

/// Imports a broken file on a database holding the real Ille-et-Vilaine import, and checks
/// that the published data is left as it was.
async fn import_broken(app: &TestApp, name: &str, bytes: &[u8]) -> ImportOutcome {
    let db = &app.state.db;
    let dir = app.dir.path().join("broken");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    let before = snapshot(db).await;
    let imports_before = import::Entity::find().count(db).await.unwrap();
    let o = import(
        app,
        ImportKind::Annuaire,
        name,
        &std::fs::read(&path).unwrap(),
    )
    .await;
    assert_eq!(
        snapshot(db).await,
        before,
        "{name} changed the published data"
    );
    assert_eq!(o.publication.as_ref().and_then(|p| p.version), None);
    // The attempt itself is recorded, with its report.
    assert_eq!(
        import::Entity::find().count(db).await.unwrap(),
        imports_before + 1
    );
    let stored = imports::get_import(db, o.import_id).await.unwrap().unwrap();
    assert_eq!(stored.report, o.report);
    o
}

async fn app_with_ille_et_vilaine() -> TestApp {
    let app = TestApp::new().await;
    import_real(&app, ImportKind::Annuaire, IILE_ET_VILAINE).await;
    app
}

fn assert_refused(o: &ImportOutcome, message: &str) {
    assert_eq!(o.status, ImportStatus::Failed);
    assert_eq!(o.report.file_errors, [message]);
    assert_eq!(o.report.rows_imported, 0);
    assert!(!o.report.is_usable());
}

#[tokio::test]
async fn a_file_cut_in_the_middle_of_a_row() {
    let app = app_with_ille_et_vilaine().await;
    let original = text(IILE_ET_VILAINE);
    // Cut after the last line of the multi-line schools (line 974), so that every school the
    // cut file lists is whole.
    let line_980 = original.lines().nth(979).unwrap();
    let start = original.find(line_980).unwrap();
    let cut = start + line_980.match_indices(';').nth(10).unwrap().0 + 3;
    let o = import_broken(&app, "tronque.csv", &original.as_bytes()[..cut]).await;
    assert_eq!(o.status, ImportStatus::Unchanged);
    assert_eq!(counts(&o), (979, 978, 1));
    assert_eq!(
        error_lines(&o),
        [
            "ligne 980, valeur « 12 colonnes » : attendu 69 colonnes séparées par « ; » comme la ligne d'en-tête (ligne incomplète, ou séparateur différent) (ligne ignorée)"
        ]
    );
    assert_eq!(
        o.report.notes,
        [
            "la dernière ligne (ligne 980) est incomplète et le fichier ne se termine pas par un saut de ligne : il a sans doute été tronqué"
        ]
    );
    // The schools after the cut are not marked absent from the annuaire: a cut file says
    // nothing of them.
    let register = o.report.register.as_ref().unwrap();
    assert!(register.marked_absent.is_empty());
    assert_eq!(register.withheld.len(), 993 - 975);
    assert!(o.report.summary(0, None).contains("--confirm-absences"));
}

#[tokio::test]
async fn a_windows_1252_copy_reads_the_same_accents() {
    let app = app_with_ille_et_vilaine().await;
    let original = text(IILE_ET_VILAINE);
    let (bytes, _, unmappable) =
        encoding_rs::WINDOWS_1252.encode(original.trim_start_matches('\u{feff}'));
    assert!(!unmappable);
    assert!(std::str::from_utf8(&bytes).is_err());
    let o = import_broken(&app, "windows.csv", &bytes).await;
    assert_eq!(o.report.encoding.as_deref(), Some("Windows-1252"));
    assert_eq!(counts(&o), (996, 996, 0));
    // Every value, accents included, equals the UTF-8 import's: nothing to publish.
    assert_eq!(o.status, ImportStatus::Unchanged);
    assert_eq!(
        value(
            &record(&app.state.db, "0350165P").await,
            "appellation_officielle"
        ),
        "Ecole élémentaire publique de Cardroc"
    );
}

#[tokio::test]
async fn separators_other_than_semicolons() {
    let app = app_with_ille_et_vilaine().await;
    let original = text(IILE_ET_VILAINE);
    // Tab- and comma-separated copies hold the same data.
    let tabs = original.replace(';', "\t");
    let o = import_broken(&app, "tabulations.csv", tabs.as_bytes()).await;
    assert_eq!(
        (o.status, counts(&o)),
        (ImportStatus::Unchanged, (996, 996, 0))
    );
    assert_eq!(o.report.separator.as_deref(), Some("tabulation"));
    let commas: String = original
        .lines()
        .map(|l| {
            let cells: Vec<String> = l
                .split(';')
                .map(|c| {
                    if c.contains(',') {
                        format!("\"{c}\"")
                    } else {
                        c.to_owned()
                    }
                })
                .collect();
            cells.join(",") + "\r\n"
        })
        .collect();
    let o = import_broken(&app, "virgules.csv", commas.as_bytes()).await;
    assert_eq!(
        (o.status, counts(&o)),
        (ImportStatus::Unchanged, (996, 996, 0))
    );
    assert_eq!(o.report.separator.as_deref(), Some("« , »"));
    // A separator that is none of them.
    let pipes = original.replace(';', "|");
    let o = import_broken(&app, "pipes.csv", pipes.as_bytes()).await;
    assert_refused(
        &o,
        "séparateur non reconnu : la ligne d'en-tête (ligne 1) ne contient ni « ; », ni « , », ni tabulation (elle semble séparée par « | ») ; enregistrez le fichier en CSV séparé par des points-virgules",
    );
    // Header and rows with different separators: every row is rejected, nothing is usable.
    let mut lines = original.lines();
    let mixed: String = std::iter::once(lines.next().unwrap().to_owned())
        .chain(lines.take(3).map(|l| l.replace(';', "\t")))
        .map(|l| l + "\n")
        .collect();
    let o = import_broken(&app, "melange.csv", mixed.as_bytes()).await;
    assert_eq!((o.status, counts(&o)), (ImportStatus::Failed, (3, 0, 3)));
    assert!(o.report.file_errors.is_empty());
    assert_eq!(
        error_lines(&o)[0],
        "ligne 2, valeur « 1 colonne » : attendu 69 colonnes séparées par « ; » comme la ligne d'en-tête (ligne incomplète, ou séparateur différent) (ligne ignorée)"
    );
}

#[tokio::test]
async fn missing_required_columns() {
    let app = app_with_ille_et_vilaine().await;
    let without_sector: String = text(IILE_ET_VILAINE)
        .lines()
        .map(|l| {
            let mut cells: Vec<&str> = l.split(';').collect();
            cells.remove(3);
            cells.join(";") + "\n"
        })
        .collect();
    let o = import_broken(&app, "sans-secteur.csv", without_sector.as_bytes()).await;
    assert_refused(
        &o,
        "colonne obligatoire absente : Statut_public_prive (fichier reconnu comme l'annuaire de l'éducation ; colonnes obligatoires : Identifiant_de_l_etablissement, Nom_etablissement, Type_etablissement, Statut_public_prive)",
    );
    let o = import_broken(&app, "autre.csv", b"nom;prenom;age\nDupont;Jean;42\n").await;
    assert_refused(
        &o,
        "colonnes non reconnues : l'en-tête (ligne 1) n'a les colonnes obligatoires d'aucun des formats attendus : l'annuaire de l'éducation (Identifiant_de_l_etablissement, Nom_etablissement, Type_etablissement, Statut_public_prive), le fichier « adresse et géolocalisation des établissements » (Code établissement, Appellation officielle, Secteur Public/Privé) ; vérifiez que la première ligne est bien la ligne d'en-tête",
    );
    let o = import_broken(&app, "etic.csv", &read(ETIC)).await;
    assert_refused(
        &o,
        "ce fichier est l'enquête ETIC : importez-le avec `ecarto import etic`",
    );
}

#[tokio::test]
async fn duplicated_uai_and_wrong_check_letter() {
    let app = app_with_ille_et_vilaine().await;
    let original = text(IILE_ET_VILAINE);
    // A UAI on a second line is one more line of that school (a site, a track): merged,
    // the first line staying the main one, the other kept as a secondary site.
    let second = original.lines().nth(1).unwrap();
    let duplicated = format!(
        "{original}{}\n",
        second.replace("les Lucioles", "les Lucioles (bis)")
    );
    let o = import(
        &app,
        ImportKind::Annuaire,
        "doublon.csv",
        duplicated.as_bytes(),
    )
    .await;
    assert_eq!(
        (o.status, counts(&o)),
        (ImportStatus::Published, (997, 997, 0))
    );
    assert_eq!(published(&o), (Some(2), 0, 1, 1));
    let m = o
        .report
        .merged
        .iter()
        .find(|m| m.uai == "0350122T")
        .unwrap();
    assert_eq!((m.lines.as_slice(), m.main_line), (&[2, 998][..], 2));
    let r = record(&app.state.db, "0350122T").await;
    assert_eq!(
        value(&r, "appellation_officielle"),
        "Ecole primaire publique les Lucioles"
    );
    assert_eq!(
        value(&r, "sites_secondaires"),
        json!(["Ecole primaire publique les Lucioles (bis) — 6 rue PHILIPPE, 35580 BAULON"])
    );

    let wrong_letter = original.replacen("\n0350165P;", "\n0350165A;", 1);
    let o = import_broken(&app, "lettre-cle.csv", wrong_letter.as_bytes()).await;
    assert_eq!(
        (o.status, counts(&o)),
        (ImportStatus::Unchanged, (996, 995, 1))
    );
    // The school whose UAI was mistyped is not marked absent: a rejected row may be it.
    let register = o.report.register.as_ref().unwrap();
    assert!(register.marked_absent.is_empty());
    assert_eq!(register.withheld, ["0350165P"]);
    assert_eq!(
        error_lines(&o)[0],
        "ligne 3, colonne « Identifiant_de_l_etablissement », valeur « 0350165A » : attendu un code UAI valide (7 chiffres et la lettre clé) : la lettre clé de « 0350165A » est fausse : la lettre attendue pour 0350165 est P (ligne ignorée)"
    );
    // The row is not imported: the school keeps its published values.
    assert!(
        school::Entity::find_by_id("0350165A".to_owned())
            .one(&app.state.db)
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn bad_cells_are_reported_and_the_rest_of_the_row_kept() {
    let app = app_with_ille_et_vilaine().await;
    let original = text(IILE_ET_VILAINE);
    let line = original.lines().nth(1).unwrap();
    let bad = line
        .replacen(";47.98614492070133;", ";47,98.6;", 1)
        .replacen(";1965-10-01;", ";31/02/1965;", 1)
        .replacen(";143;", ";cent;", 1);
    let modified = original.replacen(line, &bad, 1);
    let o = import_broken(&app, "cellules.csv", modified.as_bytes()).await;
    assert_eq!(
        (o.status, counts(&o)),
        (ImportStatus::Unchanged, (996, 996, 0))
    );
    assert_eq!(
        error_lines(&o)[..3],
        [
            "ligne 2, colonne « date_ouverture », valeur « 31/02/1965 » : attendu une date au format AAAA-MM-JJ (ou JJ/MM/AAAA) (valeur ignorée, le reste de la ligne est importé)",
            "ligne 2, colonne « latitude », valeur « 47,98.6 » : attendu un nombre (virgule ou point décimal) (valeur ignorée, le reste de la ligne est importé)",
            "ligne 2, colonne « Nombre_d_eleves », valeur « cent » : attendu un nombre entier positif ou nul (valeur ignorée, le reste de la ligne est importé)",
        ]
    );
    // Bad cells are not communicated: the published values stay.
    let r = record(&app.state.db, "0350122T").await;
    assert_eq!(value(&r, "nombre_eleves"), 143);
}

#[tokio::test]
async fn binary_garbage_and_empty_files() {
    let app = app_with_ille_et_vilaine().await;
    let mut seed: u32 = 2018;
    let garbage: Vec<u8> = (0..4096)
        .map(|_| {
            seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            (seed >> 16) as u8
        })
        .collect();
    let first_nul = garbage.iter().position(|&b| b == 0).unwrap() + 1;
    let o = import_broken(&app, "binaire.csv", &garbage).await;
    assert_refused(
        &o,
        &format!(
            "le fichier contient des données binaires (octet nul à la position {first_nul}) : ce n'est pas un fichier CSV texte"
        ),
    );
    let no_nul: Vec<u8> = garbage.iter().map(|&b| b.max(1)).collect();
    let o = import_broken(&app, "binaire2.csv", &no_nul).await;
    assert!(o.report.file_errors[0].starts_with("le fichier contient des données binaires ("));
    let o = import_broken(&app, "classeur.csv", b"PK\x03\x04\x14\x00\x06\x00").await;
    assert_refused(
        &o,
        "ce fichier n'est pas un CSV mais un classeur Excel (.xlsx), OpenDocument (.ods) ou une archive zip : ouvrez-le dans un tableur et enregistrez-le au format CSV (séparateur point-virgule, UTF-8)",
    );
    let o = import_broken(&app, "vide.csv", b"").await;
    assert_refused(&o, "le fichier est vide (0 octet)");
    let header = text(IILE_ET_VILAINE).lines().next().unwrap().to_owned();
    let o = import_broken(&app, "entete.csv", header.as_bytes()).await;
    assert_refused(
        &o,
        "le fichier ne contient que la ligne d'en-tête, aucune ligne de données (fichier tronqué ?)",
    );
}

#[tokio::test]
async fn a_database_failure_leaves_nothing_behind() {
    let app = TestApp::new().await;
    let db = &app.state.db;
    // Publication writes schools, then revisions: without the revisions table it fails midway.
    db.execute_unprepared("DROP TABLE school_revisions")
        .await
        .unwrap();
    let err = imports::import_file(db, ImportKind::Annuaire, "a.csv", &read(VAL_DE_MARNE))
        .await
        .unwrap_err();
    assert!(matches!(err, ImportError::Db(_)), "{err}");
    assert_eq!(import::Entity::find().count(db).await.unwrap(), 0);
    assert_eq!(school::Entity::find().count(db).await.unwrap(), 0);
    assert_eq!(observation::Entity::find().count(db).await.unwrap(), 0);
    assert_eq!(provenance::Entity::find().count(db).await.unwrap(), 0);
}
