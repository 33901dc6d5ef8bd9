//! Issue 13: the annuaire is the official list of schools. Completeness per département
//! against a count made here from the raw files (not through the scoring code); schools the
//! annuaire no longer lists kept, marked absent, out of the denominator, lists and exports;
//! the annuaire's secteur and type never overridden by ETIC; every ETIC code understood or
//! kept as written.

use std::collections::{BTreeMap, HashMap};

use axum::http::StatusCode;
use ecarto::services::imports::{self, ImportKind, ImportOptions, ImportOutcome, ImportStatus};
use ecarto_tests::{TestApp, shared_data};
use serde_json::{Value, json};

type Row = HashMap<String, String>;

fn raw(rel: &str) -> Vec<Row> {
    ecarto_tests::raw_rows(rel)
}

/// Which schools of a type expect a field, in the words of `fields.csv`'s `expected_for`.
#[derive(Clone, Copy)]
enum Expected {
    All,
    Public,
    Prive,
    Types(&'static [&'static str]),
    /// Public écoles, collèges, lycées and EREA under the ministry of education.
    Etic,
}

/// One field: the annuaire columns and the géolocalisation columns that fill it.
struct Spec {
    field: &'static str,
    annuaire: &'static [&'static str],
    geoloc: &'static [&'static str],
    expected: Expected,
}

const fn spec(
    field: &'static str,
    annuaire: &'static [&'static str],
    geoloc: &'static [&'static str],
    expected: Expected,
) -> Spec {
    Spec {
        field,
        annuaire,
        geoloc,
        expected,
    }
}

use Expected::{All, Etic, Prive, Public, Types};

/// Every field the annuaire files give, and some no sample file gives (counted expected and
/// never filled), written from the catalogue's documentation rather than read from it.
const SPECS: &[Spec] = &[
    spec(
        "appellation_officielle",
        &["Nom_etablissement"],
        &["Appellation officielle"],
        All,
    ),
    spec("denomination", &[], &["Dénomination principale"], All),
    spec("patronyme", &[], &["Patronyme uai"], All),
    spec(
        "type_etablissement",
        &["Type_etablissement", "code_nature"],
        &["Nature", "Code nature"],
        All,
    ),
    spec("code_nature", &["code_nature"], &["Code nature"], All),
    spec("libelle_nature", &["libelle_nature"], &["Nature"], All),
    spec(
        "secteur",
        &["Statut_public_prive"],
        &["Secteur Public/Privé"],
        All,
    ),
    spec("type_contrat_prive", &["Type_contrat_prive"], &[], Prive),
    spec("etat", &["etat"], &["Etat établissement"], All),
    spec(
        "date_ouverture",
        &["date_ouverture"],
        &["date_ouverture"],
        All,
    ),
    spec(
        "adresse",
        &["Adresse_1", "Adresse_2", "Adresse_3"],
        &["Adresse"],
        All,
    ),
    spec(
        "code_postal",
        &["Code postal", "Code_postal"],
        &["Code postal"],
        All,
    ),
    spec(
        "localite_acheminement",
        &[],
        &["Localite d'acheminement"],
        All,
    ),
    spec("code_commune", &["Code_commune"], &["Code commune"], All),
    spec(
        "code_departement",
        &["Code_departement"],
        &["Code département"],
        All,
    ),
    spec("code_academie", &["Code_academie"], &["Code académie"], All),
    spec("code_region", &["Code_region"], &["Code région"], All),
    spec("latitude", &["latitude"], &["Latitude"], All),
    spec("longitude", &["longitude"], &["Longitude"], All),
    spec(
        "precision_localisation",
        &["precision_localisation"],
        &["Qualité d'appariement"],
        All,
    ),
    spec("nombre_eleves", &["Nombre_d_eleves"], &[], All),
    spec(
        "education_prioritaire",
        &["Appartenance_Education_Prioritaire"],
        &[],
        Public,
    ),
    spec(
        "section_arts",
        &["Section_arts"],
        &[],
        Types(&["college", "lycee"]),
    ),
    spec(
        "section_cinema",
        &["Section_cinema"],
        &[],
        Types(&["college", "lycee"]),
    ),
    spec(
        "section_theatre",
        &["Section_theatre"],
        &[],
        Types(&["college", "lycee"]),
    ),
    spec(
        "section_sport",
        &["Section_sport"],
        &[],
        Types(&["college", "lycee"]),
    ),
    spec(
        "section_internationale",
        &["Section_internationale"],
        &[],
        Types(&["college", "lycee"]),
    ),
    spec(
        "section_europeenne",
        &["Section_europeenne"],
        &[],
        Types(&["college", "lycee"]),
    ),
    spec("ministere_tutelle", &["ministere_tutelle"], &[], All),
    spec("voie_generale", &["Voie_generale"], &[], Types(&["lycee"])),
    spec(
        "voie_technologique",
        &["Voie_technologique"],
        &[],
        Types(&["lycee"]),
    ),
    spec(
        "voie_professionnelle",
        &["Voie_professionnelle"],
        &[],
        Types(&["lycee"]),
    ),
    spec("segpa", &["Segpa"], &[], Types(&["college"])),
    spec("apprentissage", &["Apprentissage"], &[], Types(&["lycee"])),
    spec(
        "ulis",
        &["ULIS"],
        &[],
        Types(&["ecole", "college", "lycee"]),
    ),
    spec("post_bac", &["Post_BAC"], &[], Types(&["lycee"])),
    spec(
        "lycee_des_metiers",
        &["Lycee_des_metiers"],
        &[],
        Types(&["lycee"]),
    ),
    spec(
        "ecole_maternelle",
        &["Ecole_maternelle"],
        &[],
        Types(&["ecole"]),
    ),
    spec(
        "ecole_elementaire",
        &["Ecole_elementaire"],
        &[],
        Types(&["ecole"]),
    ),
    // No sample file gives these: expected, never filled.
    spec("nb_terminaux", &[], &[], Etic),
    spec("wifi", &[], &[], Etic),
    spec("couverture_thd", &[], &[], All),
];

/// A school of the annuaire as the count sees it: every line of its UAI, and its line of
/// the géolocalisation file if it has one.
struct School {
    lines: Vec<Row>,
    geoloc: Option<Row>,
}

impl School {
    fn first(&self, column: &str) -> &str {
        self.lines[0].get(column).map_or("", String::as_str)
    }

    /// The annuaire's type: `Type_etablissement`, or the nature code for the STS/CPGE-only
    /// schools that leave it empty (nature 400: `autre`).
    fn school_type(&self) -> &'static str {
        match self.first("Type_etablissement") {
            "Ecole" => "ecole",
            "Collège" => "college",
            "Lycée" => "lycee",
            "EREA" => "erea",
            _ => "autre",
        }
    }

    fn public(&self) -> bool {
        self.first("Statut_public_prive") == "Public"
    }

    fn expects(&self, e: Expected) -> bool {
        let t = self.school_type();
        match e {
            All => true,
            Public => self.public(),
            Prive => self.first("Statut_public_prive") == "Privé",
            Types(types) => types.contains(&t),
            Etic => {
                self.public()
                    && ["ecole", "college", "lycee", "erea"].contains(&t)
                    && (self.first("ministere_tutelle").is_empty()
                        || self
                            .first("ministere_tutelle")
                            .contains("EDUCATION NATIONALE"))
            }
        }
    }

    /// Whether a source gives a value: any line of the UAI (a multi-line school is one
    /// school with every line's offers), or its géolocalisation line.
    fn filled(&self, s: &Spec) -> bool {
        if s.field == "type_contrat_prive" {
            return self.lines.iter().any(|l| {
                let v = &l["Type_contrat_prive"];
                !v.is_empty() && v != "SANS OBJET"
            });
        }
        // The annuaire leaves éducation prioritaire empty for a public school outside it,
        // which the import records as hors_rep (écoles, collèges, lycées, EREA).
        if s.field == "education_prioritaire"
            && self.public()
            && ["ecole", "college", "lycee", "erea"].contains(&self.school_type())
        {
            return true;
        }
        let in_annuaire = self.lines.iter().any(|l| {
            s.annuaire
                .iter()
                .any(|c| l.get(*c).is_some_and(|v| !v.is_empty()))
        });
        let in_geoloc = self.geoloc.as_ref().is_some_and(|g| {
            s.geoloc
                .iter()
                .any(|c| g.get(*c).is_some_and(|v| !v.is_empty()))
        });
        in_annuaire || in_geoloc
    }
}

/// The annuaire's open schools of a file, by UAI: a UAI's lines are one school, a school the
/// annuaire does not list (the géolocalisation file's collège opening soon) is none.
fn official_list(file: &str, geoloc: &[Row]) -> BTreeMap<String, School> {
    let mut schools: BTreeMap<String, School> = BTreeMap::new();
    for r in raw(file) {
        let uai = r["Identifiant_de_l_etablissement"].clone();
        schools
            .entry(uai)
            .or_insert_with(|| School {
                lines: Vec::new(),
                geoloc: None,
            })
            .lines
            .push(r);
    }
    for g in geoloc {
        if let Some(s) = schools.get_mut(&g["Code établissement"]) {
            s.geoloc = Some(g.clone());
        }
    }
    schools.retain(|_, s| matches!(s.first("etat"), "OUVERT" | "A FERMER"));
    schools
}

async fn run(app: &TestApp, job: &str) -> Value {
    ecarto_tests::run_job(&app.state, job).await
}

use ecarto_tests::field_score as by_field;

#[tokio::test]
async fn completeness_per_departement_equals_a_count_over_the_annuaires_open_schools() {
    let app = TestApp::with_sample(|_| {}).await;
    run(&app, "completeness").await;
    let geoloc = raw("annuaire/geolocalisation-colleges-ille-et-vilaine.csv");
    for (file, dept) in [
        ("annuaire/annuaire-ille-et-vilaine.csv", "35"),
        ("annuaire/annuaire-val-de-marne.csv", "94"),
    ] {
        let schools = official_list(file, if dept == "35" { &geoloc } else { &[] });
        let all = app
            .get(&format!(
                "/api/v1/territories/departement/{dept}/completeness"
            ))
            .await
            .json();
        assert_eq!(all["basis"]["source"], "stored");
        assert_eq!(all["schools"], schools.len(), "{dept}");
        for t in ["ecole", "college", "lycee", "erea", "autre"] {
            let mine: Vec<&School> = schools.values().filter(|s| s.school_type() == t).collect();
            let scores = app
                .get(&format!(
                    "/api/v1/territories/departement/{dept}/completeness?type={t}"
                ))
                .await
                .json();
            assert_eq!(scores["schools"], mine.len(), "{dept} {t}");
            let mut total = (0u64, 0u64);
            for s in SPECS {
                let expected: Vec<&&School> =
                    mine.iter().filter(|m| m.expects(s.expected)).collect();
                let filled = expected.iter().filter(|m| m.filled(s)).count() as u64;
                let got = by_field(&scores, s.field);
                if expected.is_empty() {
                    assert!(
                        got.is_none_or(|g| g["expected"] == 0),
                        "{dept} {t} {}: {got:?}",
                        s.field
                    );
                    continue;
                }
                let got = got.unwrap_or_else(|| panic!("{dept} {t} {} missing", s.field));
                assert_eq!(
                    (
                        got["filled"].as_u64().unwrap(),
                        got["expected"].as_u64().unwrap()
                    ),
                    (filled, expected.len() as u64),
                    "{dept} {t} {}",
                    s.field
                );
                total.0 += filled;
                total.1 += expected.len() as u64;
            }
            assert!(total.1 > 0 || mine.is_empty(), "{dept} {t}");
        }
    }
    // The géolocalisation file's collège opening soon is not in the annuaire: it counts in
    // no territory, and says why.
    let school = app.get("/api/v1/schools/0353083L").await.json();
    assert_eq!(school["annuaire"]["presence"], Value::Null);
    assert_eq!(school["annuaire"]["counted"], false);
    // Nor do the académie de Montpellier's schools, known from ETIC only.
    let montpellier = app
        .get("/api/v1/territories/academie/11/completeness")
        .await
        .json();
    assert_eq!(montpellier["schools"], 0, "{montpellier}");
    let aude = app.get("/api/v1/territories/departement/11").await.json();
    assert_eq!(aude["schools"]["total"], 0);
}

async fn import(app: &TestApp, kind: ImportKind, name: &str, text: &str) -> ImportOutcome {
    app.import_file(kind, name, text.as_bytes()).await
}

const HEADER: &str = "Identifiant_de_l_etablissement;Nom_etablissement;Type_etablissement;Statut_public_prive;Code_departement;etat;date_maj_ligne\n";

/// Eight écoles of one département, listed by a first annuaire.
fn annuaire_2025(except: &[&str], date: &str) -> String {
    let mut text = HEADER.to_owned();
    for i in 1..=8 {
        let uai = ecarto_tests::uai(&format!("03500{i:02}"));
        if except.contains(&uai.as_str()) {
            continue;
        }
        text.push_str(&format!("{uai};École {i};Ecole;Public;035;OUVERT;{date}\n"));
    }
    text
}

#[tokio::test]
async fn a_school_the_annuaire_no_longer_lists_is_kept_absent_and_counted_nowhere() {
    let app = TestApp::new().await;
    ecarto::services::territories::ensure_loaded(&app.state.db)
        .await
        .unwrap();
    let first = import(
        &app,
        ImportKind::Annuaire,
        "annuaire-2025.csv",
        &annuaire_2025(&[], "2025-06-01"),
    )
    .await;
    assert_eq!(first.status, ImportStatus::Published);
    let gone = ecarto_tests::uai("0350003");
    // A school the ETIC survey knows and the annuaire never listed.
    let etic_only = ecarto_tests::uai("0350099");
    let etic = format!(
        "Code_UAI;Millesime;Code_nature;nature_uai;NbTerminaux\n{etic_only};2024;151;Ecole;12\n{gone};2024;151;Ecole;30\n"
    );
    let o = import(&app, ImportKind::Etic, "etic.csv", &etic).await;
    assert_eq!(o.report.outside_register, std::slice::from_ref(&etic_only));
    assert!(o.report.summary(5, None).contains(&format!("absents de l'annuaire (publiés, hors complétude, listes et exports par défaut) : {etic_only}")));

    // A year later the annuaire no longer lists one école.
    let second = import(
        &app,
        ImportKind::Annuaire,
        "annuaire-2026.csv",
        &annuaire_2025(&[gone.as_str()], "2026-06-01"),
    )
    .await;
    let register = second.report.register.clone().unwrap();
    assert_eq!(register.scope, ["35 · ecole · public"]);
    assert_eq!(register.as_of, "2026-06-01");
    let mut marked = register.marked_absent.clone();
    marked.sort();
    let mut want = vec![gone.clone(), etic_only.clone()];
    want.sort();
    assert_eq!(marked, want);
    assert_eq!(second.publication.as_ref().unwrap().values_changed, 2);

    // Kept, with every value and its provenance; its page says since when it is absent.
    let school = app.get(&format!("/api/v1/schools/{gone}")).await;
    school.assert_status(StatusCode::OK);
    let school = school.json();
    assert_eq!(school["themes"]["equipement"]["nb_terminaux"]["value"], 30);
    assert_eq!(school["annuaire"]["presence"], "absent");
    assert_eq!(school["annuaire"]["import_id"], second.import_id);
    assert_eq!(school["annuaire"]["counted"], false);
    assert_eq!(
        school["annuaire"]["message"],
        format!(
            "absent de l'annuaire depuis l'import {}, annuaire au 2026-06-01 : conservé avec ses valeurs et leur provenance, hors complétude, listes et exports par défaut (include=absent pour l'y voir)",
            second.import_id
        )
    );
    // Out of lists, exports and counts by default; there with include=absent.
    let list = app.get("/api/v1/schools?departement=35").await.json();
    assert_eq!(list["total"], 7);
    assert!(!list.to_string().contains(gone.as_str()));
    let list = app
        .get("/api/v1/schools?departement=35&include=absent")
        .await
        .json();
    assert_eq!(list["total"], 9);
    let bad = app.get("/api/v1/schools?include=tous").await;
    bad.assert_status(StatusCode::BAD_REQUEST);
    let csv = app.get("/api/v1/exports/schools.csv").await.text();
    assert!(!csv.contains(gone.as_str()) && csv.contains(&ecarto_tests::uai("0350004")));
    assert!(
        app.get("/api/v1/exports/schools.csv?include=absent")
            .await
            .text()
            .contains(gone.as_str())
    );
    run(&app, "completeness").await;
    let scores = app
        .get("/api/v1/territories/departement/35/completeness?field=nb_terminaux")
        .await
        .json();
    assert_eq!(scores["schools"], 7);
    assert_eq!(by_field(&scores, "nb_terminaux").unwrap()["filled"], 0);
    let territory = app.get("/api/v1/territories/departement/35").await.json();
    assert_eq!(territory["schools"]["total"], 7);

    // An older file imported afterwards does not undo the newer one.
    let again = import(
        &app,
        ImportKind::Annuaire,
        "annuaire-2025.csv",
        &annuaire_2025(&[], "2025-06-01"),
    )
    .await;
    assert!(again.report.outside_register.contains(&gone));
    assert_eq!(
        app.get(&format!("/api/v1/schools/{gone}")).await.json()["annuaire"]["presence"],
        "absent"
    );
    // A newer file that lists it again puts it back.
    let back = import(
        &app,
        ImportKind::Annuaire,
        "annuaire-2027.csv",
        &annuaire_2025(&[], "2027-06-01"),
    )
    .await;
    assert_eq!(
        back.report.register.as_ref().unwrap().listed_again,
        std::slice::from_ref(&gone)
    );
    let school = app.get(&format!("/api/v1/schools/{gone}")).await.json();
    assert_eq!(school["annuaire"]["presence"], "present");
    assert_eq!(school["annuaire"]["counted"], true);
    // The history keeps the absence with its provenance.
    let history = school["history"].as_array().unwrap();
    assert!(
        history
            .iter()
            .any(|h| h["field"] == "presence_annuaire" && h["value"] == "absent"),
        "{history:?}"
    );
}

#[tokio::test]
async fn an_extract_narrower_than_its_scope_marks_nothing_absent_unless_confirmed() {
    let app = TestApp::new().await;
    import(
        &app,
        ImportKind::Annuaire,
        "annuaire.csv",
        &annuaire_2025(&[], "2025-06-01"),
    )
    .await;
    // Two écoles of eight: an extract, not the list.
    let keep: Vec<String> = (3..=8)
        .map(|i| ecarto_tests::uai(&format!("03500{i:02}")))
        .collect();
    let keep: Vec<&str> = keep.iter().map(String::as_str).collect();
    let extract = annuaire_2025(&keep, "2026-06-01");
    let o = import(&app, ImportKind::Annuaire, "extrait.csv", &extract).await;
    let register = o.report.register.as_ref().unwrap();
    assert!(register.marked_absent.is_empty());
    assert_eq!(register.withheld.len(), 6);
    let list = app.get("/api/v1/schools?departement=35").await.json();
    assert_eq!(list["total"], 8);
    // Confirmed: the file is the list.
    let confirmed = imports::import_file_with_progress(
        &app.state.db,
        ImportKind::Annuaire,
        "extrait.csv",
        extract.as_bytes(),
        ImportOptions {
            confirm_absences: true,
        },
        &mut |_, _| {},
    )
    .await
    .unwrap();
    app.written_beside();
    assert_eq!(
        confirmed
            .report
            .register
            .as_ref()
            .unwrap()
            .marked_absent
            .len(),
        6
    );
    let list = app.get("/api/v1/schools?departement=35").await.json();
    assert_eq!(list["total"], 2);
}

/// ETIC guesses what a school is (`typ_etab`, the survey's public sector); the annuaire
/// knows. Whichever comes first, the annuaire's secteur and type are published.
#[tokio::test]
async fn etic_never_overrides_the_annuaires_secteur_and_type() {
    let uai = ecarto_tests::uai("0350501");
    let annuaire = format!("{HEADER}{uai};Lycée Saint-Exemple;Lycée;Privé;035;OUVERT;2025-06-01\n");
    let etic = format!(
        "Code_UAI;Millesime;Code_nature;nature_uai;typ_etab;NbTerminaux\n{uai};2026;340;Collège;C;80\n"
    );
    for order in [["annuaire", "etic"], ["etic", "annuaire"]] {
        let app = TestApp::new().await;
        for kind in order {
            match kind {
                "annuaire" => import(&app, ImportKind::Annuaire, "a.csv", &annuaire).await,
                _ => import(&app, ImportKind::Etic, "e.csv", &etic).await,
            };
        }
        let school = app.get(&format!("/api/v1/schools/{uai}")).await.json();
        let e = &school["themes"]["etablissement"];
        assert_eq!(e["secteur"]["value"], "prive", "{order:?}");
        assert_eq!(
            e["secteur"]["provenance"]["source"], "annuaire",
            "{order:?}"
        );
        assert_eq!(e["type_etablissement"]["value"], "lycee", "{order:?}");
        assert_eq!(e["type_etablissement"]["provenance"]["source"], "annuaire");
        // What ETIC said is kept: an observation never published, or a value the annuaire
        // replaced (in the history, with its provenance).
        let observed = school["other_observations"]
            .as_array()
            .unwrap()
            .iter()
            .any(|o| o["source"] == "etic" && o["values"]["secteur"] == "public");
        let replaced = school["history"].as_array().unwrap().iter().any(|h| {
            h["field"] == "secteur" && h["value"] == "public" && h["provenance"]["source"] == "etic"
        });
        assert!(observed || replaced, "{order:?}: {school}");
        assert_eq!(school["themes"]["equipement"]["nb_terminaux"]["value"], 80);
    }
}

/// The survey's codes in every spelling met: translated, the spelling kept beside the code;
/// a code no spelling matches kept as written, reported as a warning, never dropped.
#[tokio::test]
async fn every_code_of_the_etic_files_is_understood_or_kept_as_written() {
    let app = TestApp::new().await;
    // The real survey file: every code is understood, nothing is dropped.
    let real = std::fs::read(shared_data("etic/etic-2d-academie-montpellier.csv")).unwrap();
    let o = app
        .import_file(ImportKind::Etic, "etic-2d.csv", &real)
        .await;
    assert!(o.report.row_errors.is_empty(), "{:?}", o.report.row_errors);
    assert_eq!((o.report.values_dropped, o.report.values_kept_raw), (0, 0));
    // 0110067N wrote `50pctOuPlus` in 2018 and `50OuPlus` in 2019, one band: the value
    // published in 2018 stands (an equal value changes nothing), with its spelling; 2019's
    // spelling stays with 2019's observation.
    let school = app.get("/api/v1/schools/0110067N").await.json();
    let part = &school["themes"]["connectivite"]["part_classes_internet"];
    assert_eq!(part["value"], "50_plus");
    assert_eq!(part["provenance"]["millesime"], "2018");
    assert_eq!(part["raw"], "50pctOuPlus");
    let y2019 = school["other_observations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["millesime"] == "2019")
        .unwrap()
        .clone();
    assert_eq!(y2019["raw"]["part_classes_internet"], "50OuPlus");

    // Another académie's file: `InfA50`, and a code never seen.
    let uai = ecarto_tests::uai("0300099");
    let other = format!(
        "Code_UAI;Millesime;Code_nature;SalleInternet;propClassesAvecTBI;SiWifi;AccWeb_Aucun\n\
         {uai};2020;340;InfA50;InfA30;Oui;non\n"
    );
    let o = import(&app, ImportKind::Etic, "etic-autre.csv", &other).await;
    assert_eq!(o.status, ImportStatus::Published);
    assert_eq!((o.report.values_dropped, o.report.values_kept_raw), (0, 2));
    let codes: Vec<(&str, &str, u64)> = o
        .report
        .unrecognised_codes
        .iter()
        .map(|c| (c.column.as_str(), c.value.as_str(), c.rows))
        .collect();
    assert_eq!(
        codes,
        [("SiWifi", "Oui", 1), ("propClassesAvecTBI", "InfA30", 1)]
    );
    let text = o.report.summary(10, None);
    assert!(
        text.contains("2 codes non reconnus conservés tels quels"),
        "{text}"
    );
    assert!(
        text.contains("code non reconnu : colonne « SiWifi » (wifi), « Oui »"),
        "{text}"
    );
    let school = app.get(&format!("/api/v1/schools/{uai}")).await.json();
    let c = &school["themes"]["connectivite"];
    assert_eq!(c["part_classes_internet"]["value"], "moins_50");
    assert_eq!(c["part_classes_internet"]["raw"], "InfA50");
    assert!(c.get("wifi").is_none(), "an unknown code is not published");
    let observation = school["other_observations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["source"] == "etic")
        .unwrap()
        .clone();
    assert_eq!(
        observation["unrecognised"],
        json!({"part_classes_tbi": "InfA30", "wifi": "Oui"})
    );
    assert_eq!(observation["raw"]["part_classes_internet"], "InfA50");
}
