//! The ministry's register of schools: the "Annuaire de l'éducation" (both schema
//! generations: the older one with `Nombre_d_eleves`, the 2026 one without it) and the
//! "adresse et géolocalisation des établissements" file, told apart by their headers.
//!
//! Decisions, from the real files:
//! - required columns: the UAI, the name, the type and the sector (annuaire:
//!   `Identifiant_de_l_etablissement`, `Nom_etablissement`, `Type_etablissement`,
//!   `Statut_public_prive`; géolocalisation: `Code établissement`, `Appellation officielle`,
//!   `Secteur Public/Privé`); a row needs only a valid UAI to be usable;
//! - every row of the annuaire is imported, administrative services and médico-social
//!   institutes included, with type `autre`: the filters and completeness use the type;
//! - `Type_etablissement` is empty for schools of STS/CPGE only (nature 400): the nature code
//!   decides then (`domain::nature`);
//! - `education_prioritaire`: `REP` and `REP+` as given; an empty cell means "hors éducation
//!   prioritaire" for a public école, collège, lycée or EREA (the field is expected for public
//!   schools only) and is left out for private schools and other kinds of establishment;
//! - `type_contrat_prive` `SANS OBJET` (every public school) is "not applicable": left out;
//! - `adresse` joins `Adresse_1`, `Adresse_2` and `Adresse_3` with `, `;
//! - the millésime of an annuaire row is its `date_maj_ligne`; the géolocalisation file has no
//!   date, so its values only fill gaps left by a dated annuaire (`domain::record`);
//! - some establishments span several lines of the annuaire with one UAI
//!   (`etablissement_multi_lignes`): the first line is kept, the others are reported.

use std::collections::{HashMap, hash_map::Entry};

use super::{
    Format, derived, detect, each_row, etic,
    input::Input,
    mapping::{Columns, Mapping, Rule, map},
    read_values,
    report::ImportReport,
    resolve_format, row_uai,
};
use crate::{
    domain::values::{iso_date, parse_date},
    services::datasets::SchoolObservation,
};

const EDUCATION_PRIORITAIRE: &[(&str, &str)] = &[
    ("REP", "rep"),
    ("REP+", "rep_plus"),
    ("REP PLUS", "rep_plus"),
    ("HORS REP", "hors_rep"),
];

pub static ANNUAIRE: &[Mapping] = &[
    map("appellation_officielle", &["Nom_etablissement"], Rule::Cell),
    map(
        "type_etablissement",
        &["Type_etablissement", "code_nature"],
        Rule::SchoolType,
    ),
    map("code_nature", &["code_nature"], Rule::Cell),
    map("libelle_nature", &["libelle_nature"], Rule::Cell),
    map("secteur", &["Statut_public_prive"], Rule::Label),
    map(
        "type_contrat_prive",
        &["Type_contrat_prive"],
        Rule::TextExcept(&["SANS OBJET"]),
    ),
    map("etat", &["etat"], Rule::Label),
    map("date_ouverture", &["date_ouverture"], Rule::Cell),
    map(
        "adresse",
        &["Adresse_1", "Adresse_2", "Adresse_3"],
        Rule::Join,
    ),
    map("code_postal", &["Code_postal"], Rule::PostalCode),
    map("code_commune", &["Code_commune"], Rule::Cell),
    map("code_departement", &["Code_departement"], Rule::Cell),
    map("code_academie", &["Code_academie"], Rule::Cell),
    map("code_region", &["Code_region"], Rule::Cell),
    map("latitude", &["latitude"], Rule::Range(-90.0, 90.0)),
    map("longitude", &["longitude"], Rule::Range(-180.0, 180.0)),
    map(
        "precision_localisation",
        &["precision_localisation"],
        Rule::Cell,
    ),
    map("nombre_eleves", &["Nombre_d_eleves"], Rule::Cell),
    map(
        "education_prioritaire",
        &["Appartenance_Education_Prioritaire"],
        Rule::Exact(EDUCATION_PRIORITAIRE),
    ),
    map("section_arts", &["Section_arts"], Rule::Cell),
    map("section_cinema", &["Section_cinema"], Rule::Cell),
    map("section_theatre", &["Section_theatre"], Rule::Cell),
    map("section_sport", &["Section_sport"], Rule::Cell),
    map(
        "section_internationale",
        &["Section_internationale"],
        Rule::Cell,
    ),
    map("section_europeenne", &["Section_europeenne"], Rule::Cell),
    map("ministere_tutelle", &["ministere_tutelle"], Rule::Cell),
];

pub static GEOLOCALISATION: &[Mapping] = &[
    map(
        "appellation_officielle",
        &["Appellation officielle"],
        Rule::Cell,
    ),
    map("denomination", &["Dénomination principale"], Rule::Cell),
    map("patronyme", &["Patronyme uai"], Rule::Cell),
    map(
        "type_etablissement",
        &["Nature", "Code nature"],
        Rule::SchoolType,
    ),
    map("code_nature", &["Code nature"], Rule::Cell),
    map("libelle_nature", &["Nature"], Rule::Cell),
    map("secteur", &["Secteur Public/Privé"], Rule::Label),
    map("etat", &["Etat établissement"], Rule::Label),
    map("date_ouverture", &["date_ouverture"], Rule::Cell),
    map("adresse", &["Adresse"], Rule::Join),
    map("lieu_dit", &["Lieu dit"], Rule::Cell),
    map("boite_postale", &["Boite postale"], Rule::Cell),
    map("code_postal", &["Code postal"], Rule::PostalCode),
    map(
        "localite_acheminement",
        &["Localite d'acheminement"],
        Rule::Cell,
    ),
    map("code_commune", &["Code commune"], Rule::Cell),
    map("code_departement", &["Code département"], Rule::Cell),
    map("code_academie", &["Code académie"], Rule::Cell),
    map("code_region", &["Code région"], Rule::Cell),
    map("latitude", &["Latitude"], Rule::Range(-90.0, 90.0)),
    map("longitude", &["Longitude"], Rule::Range(-180.0, 180.0)),
    map(
        "precision_localisation",
        &["Qualité d'appariement"],
        Rule::Cell,
    ),
];

pub static ANNUAIRE_FORMAT: Format = Format {
    name: "l'annuaire de l'éducation",
    uai: "Identifiant_de_l_etablissement",
    required: &[
        "Identifiant_de_l_etablissement",
        "Nom_etablissement",
        "Type_etablissement",
        "Statut_public_prive",
    ],
    table: ANNUAIRE,
};

pub static GEOLOCALISATION_FORMAT: Format = Format {
    name: "le fichier « adresse et géolocalisation des établissements »",
    uai: "Code établissement",
    required: &[
        "Code établissement",
        "Appellation officielle",
        "Secteur Public/Privé",
    ],
    table: GEOLOCALISATION,
};

const MILLESIME_COLUMN: &str = "date_maj_ligne";

pub(super) fn parse(
    input: &Input<'_>,
    report: &mut ImportReport,
    progress: &mut dyn FnMut(u64, u64),
) -> Vec<SchoolObservation> {
    let columns = Columns::new(&input.headers);
    let format = match detect(
        &columns,
        &[&ANNUAIRE_FORMAT, &GEOLOCALISATION_FORMAT],
        &[(&etic::ETIC_FORMAT, "ecarto import etic")],
    ) {
        Ok(f) => f,
        Err(e) => {
            report.file_error(e);
            return Vec::new();
        }
    };
    let is_annuaire = std::ptr::eq(format, &ANNUAIRE_FORMAT);
    report.format = Some(if is_annuaire && !columns.has("Nombre_d_eleves") {
        format!("{} (schéma 2026, sans Nombre_d_eleves)", format.name)
    } else {
        format.name.to_owned()
    });
    let resolved = resolve_format(format, &columns, report);
    let Some(uai_column) = columns.find(format.uai) else {
        return Vec::new();
    };
    let millesime_column = if is_annuaire {
        columns.find(MILLESIME_COLUMN)
    } else {
        None
    };
    let has_education_prioritaire = columns.has("Appartenance_Education_Prioritaire");

    let mut seen: HashMap<String, u64> = HashMap::new();
    let mut observations = Vec::new();
    each_row(input, report, progress, |line, record, report| {
        let Some(uai) = row_uai(line, record, uai_column, &columns, report) else {
            return false;
        };
        match seen.entry(uai.as_str().to_owned()) {
            Entry::Occupied(first) => {
                let first = *first.get();
                report.row_rejected(
                    line,
                    Some(columns.name(uai_column)),
                    Some(uai.as_str()),
                    format!(
                        "un code UAI qui n'apparaît qu'une fois dans le fichier : {uai} figure déjà ligne {first}, seule cette première ligne est importée"
                    ),
                );
                return false;
            }
            Entry::Vacant(v) => {
                v.insert(line);
            }
        }

        let millesime = millesime_column.and_then(|c| {
            let raw = record.get(c).unwrap_or("").trim();
            if raw.is_empty() {
                return None;
            }
            match parse_date(raw) {
                Ok(d) => Some(iso_date(d)),
                Err(e) => {
                    report.cell_error(line, columns.name(c), raw, e.expected);
                    None
                }
            }
        });
        let mut values = read_values(line, record, &resolved, &columns, report);
        if has_education_prioritaire && !values.iter().any(|(f, _)| *f == "education_prioritaire") {
            let get = |name: &str| {
                values
                    .iter()
                    .find(|(f, _)| *f == name)
                    .and_then(|(_, v)| v.as_str())
            };
            let public_school = get("secteur") == Some("public")
                && matches!(
                    get("type_etablissement"),
                    Some("ecole" | "college" | "lycee" | "erea")
                );
            if public_school {
                values.extend(derived("education_prioritaire", "hors_rep"));
            }
        }
        observations.push(SchoolObservation {
            uai,
            millesime,
            values,
        });
        true
    });
    observations
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::importers::{
        Context, ImportKind, mapping::tests::assert_table_matches_catalogue, parse_file,
    };
    use serde_json::Value;

    #[test]
    fn tables_follow_the_catalogue() {
        assert_table_matches_catalogue(ANNUAIRE, "annuaire");
        assert_table_matches_catalogue(GEOLOCALISATION, "annuaire");
        let catalog = crate::domain::catalog::Catalog::get();
        for f in catalog.fields().iter().filter(|f| f.source == "annuaire") {
            let mapped = f.name == "uai"
                || ANNUAIRE
                    .iter()
                    .chain(GEOLOCALISATION)
                    .any(|m| m.field == f.name);
            assert!(mapped, "{} has no annuaire column", f.name);
        }
    }

    fn parse(text: &str) -> crate::importers::Parsed {
        parse_file(
            ImportKind::Annuaire,
            "t.csv",
            text.as_bytes(),
            &Context::default(),
            &mut |_, _| {},
        )
    }

    const HEADER: &str = "Identifiant_de_l_etablissement;Nom_etablissement;Type_etablissement;Statut_public_prive;Appartenance_Education_Prioritaire;latitude;date_maj_ligne\n";

    #[test]
    fn rows_cells_and_duplicates() {
        let parsed = parse(&format!(
            "{HEADER}0350122T;École A;Ecole;Public;;48.1;2023-06-08\n\
             0350122A;École B;Ecole;Public;;48.1;2023-06-08\n\
             0350165P;École C;Ecole;Privé;;nord;2023-06-08\n\
             0350122T;École A bis;Ecole;Public;REP;48.1;2023-06-08\n"
        ));
        let r = &parsed.report;
        assert_eq!((r.rows_read, r.rows_imported, r.rows_rejected), (4, 2, 2));
        assert_eq!(r.row_errors.len(), 3);
        assert_eq!(r.row_errors[0].line, 3);
        assert!(
            r.row_errors[0]
                .expected
                .contains("la lettre attendue pour 0350122 est T")
        );
        assert_eq!(r.row_errors[1].column.as_deref(), Some("latitude"));
        assert_eq!(r.row_errors[1].value.as_deref(), Some("nord"));
        assert!(!r.row_errors[1].row_rejected);
        assert!(r.row_errors[2].expected.contains("figure déjà ligne 2"));
        let first = &parsed.observations[0];
        assert_eq!(first.millesime.as_deref(), Some("2023-06-08"));
        assert!(
            first
                .values
                .contains(&("education_prioritaire", Value::from("hors_rep")))
        );
        assert!(
            !parsed.observations[1]
                .values
                .iter()
                .any(|(f, _)| *f == "education_prioritaire")
        );
    }

    #[test]
    fn missing_columns_and_other_kinds_are_file_errors() {
        let parsed = parse(
            "Identifiant_de_l_etablissement;Nom_etablissement;Type_etablissement\n0350122T;A;Ecole\n",
        );
        assert_eq!(
            parsed.report.file_errors,
            [
                "colonne obligatoire absente : Statut_public_prive (fichier reconnu comme l'annuaire de l'éducation ; colonnes obligatoires : Identifiant_de_l_etablissement, Nom_etablissement, Type_etablissement, Statut_public_prive)"
            ]
        );
        assert!(parsed.observations.is_empty());
        let parsed = parse("Code_UAI;Millesime;NbEleve\n0110067N;2019;665.0\n");
        assert!(parsed.report.file_errors[0].contains("`ecarto import etic`"));
    }
}
