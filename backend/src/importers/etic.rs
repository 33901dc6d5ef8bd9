//! The ETIC survey: ETIC 1 (écoles) and ETIC 2 (collèges, lycées, EREA), several millésimes per
//! file, read by one importer (the report says which degree a file holds).
//!
//! Decisions, from the real file:
//! - required columns: `Code_UAI` and `Millesime`; a row needs a valid UAI and a year, and is
//!   a duplicate when its UAI already appeared with the same year;
//! - each row's millésime is its `Millesime`; the publication keeps every millésime in
//!   `observations` and publishes the latest (`domain::record`);
//! - bands stay bands, whatever the source spelling (`50pctOuPlus` and `50OuPlus` → `50_plus`,
//!   `InfA50` → `moins_50`): the spellings are `backend/catalog/vocabulary.csv`'s; the one
//!   the file wrote is kept with the observation (`observations.raw`), and a code no
//!   spelling matches is a warning that keeps it as written, never a value dropped;
//! - `acces_internet` is the opposite of `AccWeb_Aucun`; `maintenance_education_nationale` is
//!   yes when either `Maint_PersonnelEducNatHsEtab` or `Maint_PersonnelEtab` is;
//! - identity: ETIC also says what the school is, which gives a place to schools the annuaire
//!   has not brought (yet): `type_etablissement` (from `Code_nature`, then `nature_uai`),
//!   `code_nature`, `secteur` = public (the survey covers public schools only),
//!   `nombre_eleves` (`NbEleve`), `code_region` (`Code_region`), `code_departement` (from the
//!   UAI's first digits, `Uai::departement`) and `code_academie` (from the `departements`
//!   table, when the territories are loaded). Their catalogue source is the annuaire, so
//!   these values only fill gaps: the annuaire replaces them and they never replace it. The
//!   name (`nature_uai` is a kind, not a name) and the commune are not in the file.

use std::collections::HashMap;

use super::{
    Context, Format, RowValues, annuaire, derived, detect, each_row,
    input::Input,
    mapping::{Columns, Mapping, Rule, map},
    read_values,
    report::ImportReport,
    resolve_format, row_uai,
};
use crate::services::datasets::SchoolObservation;

pub static ETIC: &[Mapping] = &[
    // Connectivité.
    map("acces_internet", &["AccWeb_Aucun"], Rule::Not),
    map("acces_adsl", &["AccWeb_ADSL"], Rule::Cell),
    map("acces_fibre", &["AccWeb_CableFibreOptique"], Rule::Cell),
    map("acces_rtc", &["AccWeb_RTC"], Rule::Cell),
    map(
        "acces_autre_haut_debit",
        &["AccWeb_AutresHautDebit"],
        Rule::Cell,
    ),
    map("acces_inconnu", &["AccWeb_NeSaitPas"], Rule::Cell),
    map("debit_web", &["DebitWeb"], Rule::Vocabulary),
    map("wifi", &["SiWifi"], Rule::Vocabulary),
    map(
        "part_classes_internet",
        &["SalleInternet"],
        Rule::Vocabulary,
    ),
    // Équipement.
    map("nb_terminaux", &["NbTerminaux"], Rule::Cell),
    map("nb_tablettes", &["NbTablette"], Rule::Cell),
    map("nb_tablettes_pc", &["NbTablettePC"], Rule::Cell),
    map("nb_terminaux_mobiles", &["NbMicroPortable"], Rule::Cell),
    map("nb_terminaux_moins_5_ans", &["NbMicroMoins5"], Rule::Cell),
    map("nb_mobiles_affectes_eleves", &["NbPortAffEl"], Rule::Cell),
    map(
        "nb_mobiles_affectes_enseignants",
        &["NbPortAffEns"],
        Rule::Cell,
    ),
    map("nb_tni", &["NbTBI"], Rule::Cell),
    map(
        "part_classes_tbi",
        &["propClassesAvecTBI"],
        Rule::Vocabulary,
    ),
    map("nb_videoprojecteurs", &["NbVideoProj"], Rule::Cell),
    map("nb_classes_mobiles", &["NbClassMobile"], Rule::Cell),
    map("nb_imprimantes_3d", &["NbImpr3D"], Rule::Cell),
    map(
        "maintenance_collectivite",
        &["Maint_PersCollect"],
        Rule::Cell,
    ),
    map("maintenance_prestataire", &["Maint_PrestaExt"], Rule::Cell),
    map(
        "maintenance_education_nationale",
        &["Maint_PersonnelEducNatHsEtab", "Maint_PersonnelEtab"],
        Rule::Any,
    ),
    map("maintenance_aucune", &["Maint_Personne"], Rule::Cell),
    // Services et ressources.
    map("ent_disponible", &["SiEntDisponible"], Rule::Cell),
    map("ent_utilise", &["SiEntUtilise"], Rule::Cell),
    map(
        "nb_ressources_editoriales",
        &["NbRessourceEdit"],
        Rule::Vocabulary,
    ),
    map("ress_manuels_numeriques", &["TpRess_ManuelNum"], Rule::Cell),
    map(
        "ress_animations_simulation",
        &["TpRess_AnimScienLogiSimu"],
        Rule::Cell,
    ),
    map("ress_banques_documents", &["TpRess_Bdd"], Rule::Cell),
    map("ress_logiciels_outils", &["TpRess_LogiOutils"], Rule::Cell),
    map("ress_ouvrages_reference", &["TpRess_OuvRef"], Rule::Cell),
    map("ress_entrainement", &["TpRess_ResEntrainement"], Rule::Cell),
    map("ress_aucune", &["TpRess_aucune"], Rule::Cell),
    map("visioconference", &["SiVisioConferenc"], Rule::Cell),
    // Identity, filling gaps only (the annuaire is these fields' source).
    map(
        "type_etablissement",
        &["nature_uai", "Code_nature"],
        Rule::SchoolType,
    ),
    map("code_nature", &["Code_nature"], Rule::Cell),
    map("nombre_eleves", &["NbEleve"], Rule::Cell),
    map("code_region", &["Code_region"], Rule::Cell),
];

pub static ETIC_FORMAT: Format = Format {
    name: "l'enquête ETIC",
    uai: "Code_UAI",
    required: &["Code_UAI", "Millesime"],
    table: ETIC,
};

const MILLESIME_COLUMN: &str = "Millesime";

pub(super) fn parse(
    input: &Input<'_>,
    report: &mut ImportReport,
    context: &Context,
    progress: &mut dyn FnMut(u64, u64),
) -> Vec<SchoolObservation> {
    let columns = Columns::new(&input.headers);
    let format = match detect(
        &columns,
        &[&ETIC_FORMAT],
        &[
            (&annuaire::ANNUAIRE_FORMAT, "ecarto import annuaire"),
            (&annuaire::GEOLOCALISATION_FORMAT, "ecarto import annuaire"),
        ],
    ) {
        Ok(f) => f,
        Err(e) => {
            report.file_error(e);
            return Vec::new();
        }
    };
    report.format = Some(format.name.to_owned());
    let resolved = resolve_format(format, &columns, report);
    let (Some(uai_column), Some(millesime_column)) =
        (columns.find(format.uai), columns.find(MILLESIME_COLUMN))
    else {
        return Vec::new();
    };

    let mut seen: HashMap<(String, u16), u64> = HashMap::new();
    let mut observations = Vec::new();
    each_row(input, report, progress, |line, record, report| {
        let Some(uai) = row_uai(line, record, uai_column, &columns, report) else {
            return false;
        };
        let raw_year = record.get(millesime_column).unwrap_or("").trim();
        let Some(year) = parse_year(raw_year) else {
            report.row_rejected(
                line,
                Some(columns.name(millesime_column)),
                Some(raw_year),
                "l'année de l'enquête sur 4 chiffres (ex. 2019)",
            );
            return false;
        };
        let key = (uai.as_str().to_owned(), year);
        if let Some(first) = seen.get(&key) {
            report.row_rejected(
                line,
                Some(columns.name(uai_column)),
                Some(uai.as_str()),
                format!(
                    "une seule ligne par établissement et par millésime : {uai} figure déjà ligne {first} pour {year}, seule cette première ligne est importée"
                ),
            );
            return false;
        }
        seen.insert(key, line);

        let RowValues { mut values, raw } = read_values(line, record, &resolved, &columns, report);
        values.extend(derived("secteur", "public"));
        if let Some(dep) = uai.departement() {
            if let Some(academie) = context.academie_of_departement.get(dep.as_str()) {
                values.extend(derived("code_academie", academie));
            }
            values.extend(derived("code_departement", dep.as_str()));
        }
        observations.push(SchoolObservation {
            uai,
            millesime: Some(year.to_string()),
            values,
            raw,
        });
        true
    });
    // ETIC 1 surveys the écoles, ETIC 2 the collèges, lycées and EREA: the report says which
    // one the file is, from the types of its rows.
    let types = |t: &str| {
        observations.iter().any(|o: &SchoolObservation| {
            o.values
                .iter()
                .any(|(f, v)| *f == "type_etablissement" && v == t)
        })
    };
    let first = types("ecole");
    let second = types("college") || types("lycee") || types("erea");
    let degree = match (first, second) {
        (true, true) => " (premier et second degrés)",
        (true, false) => " (premier degré)",
        (false, true) => " (second degré)",
        (false, false) => "",
    };
    report.format = Some(format!("{}{degree}", format.name));
    observations
}

/// A survey year: `2019` (or `2019.0` as some exports write it), within 1990–2100.
fn parse_year(raw: &str) -> Option<u16> {
    let digits = raw.strip_suffix(".0").unwrap_or(raw);
    let year: u16 = digits.parse().ok()?;
    (1990..=2100).contains(&year).then_some(year)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::importers::{
        ImportKind, mapping::tests::assert_table_matches_catalogue, parse_file,
    };
    use serde_json::Value;

    #[test]
    fn table_follows_the_catalogue() {
        assert_table_matches_catalogue(ETIC, "etic");
        let catalog = crate::domain::catalog::Catalog::get();
        for f in catalog.fields().iter().filter(|f| f.source == "etic") {
            assert!(
                ETIC.iter().any(|m| m.field == f.name),
                "{} has no ETIC column",
                f.name
            );
        }
    }

    #[test]
    fn bands_identity_and_millesimes() {
        let text = "Code_UAI;Millesime;Code_nature;nature_uai;NbEleve;SalleInternet;NbRessourceEdit;DebitWeb;SiWifi;AccWeb_Aucun;NbTerminaux\n\
                    0110067N;2018;340;Collège;665.0;50pctOuPlus;20ouPlus;De2a10;OuiPerma;non;190.0\n\
                    0110067N;2019;340;Collège;670.0;50OuPlus;zero;InfA2;;oui;12.5\n\
                    0110067N;2019;340;Collège;670.0;;;;;;\n\
                    0110067N;19;340;Collège;670.0;;;;;;\n\
                    0110067N;2020;340;Collège;670.0;Mois20;;;;;\n";
        let mut context = Context::default();
        context
            .academie_of_departement
            .insert("11".into(), "11".into());
        let parsed = parse_file(
            ImportKind::Etic,
            "etic.csv",
            text.as_bytes(),
            &context,
            &mut |_, _| {},
        );
        let r = &parsed.report;
        assert_eq!((r.rows_read, r.rows_imported, r.rows_rejected), (5, 3, 2));
        let errors: Vec<String> = r.row_errors.iter().map(ToString::to_string).collect();
        assert_eq!(
            errors,
            [
                "ligne 3, colonne « NbTerminaux », valeur « 12.5 » : attendu un nombre entier positif ou nul (valeur ignorée, le reste de la ligne est importé)",
                "ligne 4, colonne « Code_UAI », valeur « 0110067N » : attendu une seule ligne par établissement et par millésime : 0110067N figure déjà ligne 3 pour 2019, seule cette première ligne est importée (ligne ignorée)",
                "ligne 5, colonne « Millesime », valeur « 19 » : attendu l'année de l'enquête sur 4 chiffres (ex. 2019) (ligne ignorée)",
                "ligne 6, colonne « SalleInternet », valeur « Mois20 » : attendu une de ces valeurs : Mois20pct, Moins20pct, 20pcta50pct, 50pctOuPlus, 50OuPlus, InfA50 (code non reconnu, conservé tel quel comme observation, non publié)",
            ]
        );
        // The unknown code is kept as written; the spellings that were translated too.
        assert_eq!((r.values_dropped, r.values_kept_raw), (1, 1));
        assert_eq!(r.unrecognised_codes[0].value, "Mois20");
        assert!(
            parsed.observations[2]
                .raw
                .contains(&("part_classes_internet", "Mois20".to_owned()))
        );
        assert!(
            parsed.observations[0]
                .raw
                .contains(&("part_classes_internet", "50pctOuPlus".to_owned()))
        );
        let get = |i: usize, f: &str| {
            parsed.observations[i]
                .values
                .iter()
                .find(|(n, _)| *n == f)
                .map(|(_, v)| v.clone())
        };
        assert_eq!(get(0, "part_classes_internet"), Some("50_plus".into()));
        assert_eq!(get(1, "part_classes_internet"), Some("50_plus".into()));
        assert_eq!(get(0, "nb_ressources_editoriales"), Some("20_plus".into()));
        assert_eq!(get(1, "debit_web"), Some("inf_2".into()));
        assert_eq!(get(0, "wifi"), Some("permanent".into()));
        assert_eq!(get(1, "wifi"), None);
        assert_eq!(get(0, "acces_internet"), Some(Value::Bool(true)));
        assert_eq!(get(1, "acces_internet"), Some(Value::Bool(false)));
        assert_eq!(get(0, "nb_terminaux"), Some(Value::from(190)));
        assert_eq!(get(0, "type_etablissement"), Some("college".into()));
        assert_eq!(get(0, "code_departement"), Some("11".into()));
        assert_eq!(get(0, "code_academie"), Some("11".into()));
        assert_eq!(get(0, "secteur"), Some("public".into()));
        assert_eq!(parsed.observations[1].millesime.as_deref(), Some("2019"));
    }
}
