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
//! - one UAI on several lines (`etablissement_multi_lignes`: a lycée with a general and a
//!   vocational track, a collège with an annexe, a cité scolaire that is a collège and a
//!   lycée) is one school, its lines merged (see [`merge_lines`]), and the report says so;
//! - the annuaire is the official list of schools: an import says which schools are listed
//!   ([`Register`]), and `services::imports` marks `absent` the schools of the covered
//!   départements, types and secteurs that the file no longer lists.

use std::collections::{BTreeSet, HashMap, hash_map::Entry};

use serde_json::Value;

use super::{
    Format, RowValues, derived, detect, each_row, etic,
    input::Input,
    mapping::{Columns, Mapping, Rule, map},
    read_values,
    report::{ImportReport, MergedSchool},
    resolve_format, row_uai,
};
use crate::{
    domain::{
        catalog::{Catalog, FieldType},
        text::fold,
        uai::Uai,
        values::{iso_date, parse_date},
    },
    services::datasets::SchoolObservation,
};

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
        Rule::Vocabulary,
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
    map("voie_generale", &["Voie_generale"], Rule::Cell),
    map("voie_technologique", &["Voie_technologique"], Rule::Cell),
    map(
        "voie_professionnelle",
        &["Voie_professionnelle"],
        Rule::Cell,
    ),
    map("segpa", &["Segpa"], Rule::Cell),
    map("apprentissage", &["Apprentissage"], Rule::Cell),
    map("ulis", &["ULIS"], Rule::Cell),
    map("post_bac", &["Post_BAC"], Rule::Cell),
    map("lycee_des_metiers", &["Lycee_des_metiers"], Rule::Cell),
    map("ecole_maternelle", &["Ecole_maternelle"], Rule::Cell),
    map("ecole_elementaire", &["Ecole_elementaire"], Rule::Cell),
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

/// What an annuaire file vouches for as the official list: the schools it lists, within the
/// départements, types and secteurs it covers. A file may be an extract (one département, the
/// écoles only): a school is marked absent only by a file that covers its kind.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Register {
    /// (département, type, secteur) of the listed schools, as published.
    pub scope: BTreeSet<ScopeKey>,
    /// The date the file speaks of: its latest `date_maj_ligne`, `None` when undated.
    pub as_of: Option<String>,
}

/// A part of what a register covers: département, type and secteur, each as published.
pub type ScopeKey = (Option<String>, Option<String>, Option<String>);

/// The scope key of a school's values.
pub fn scope_key<'a>(get: impl Fn(&str) -> Option<&'a str>) -> ScopeKey {
    (
        get("code_departement").map(str::to_owned),
        get("type_etablissement").map(str::to_owned),
        get("secteur").map(str::to_owned),
    )
}

/// One line of the file, read.
struct Line {
    uai: Uai,
    line: u64,
    values: Vec<(&'static str, Value)>,
    raw: Vec<(&'static str, String)>,
    millesime: Option<String>,
    /// The commune's name as written (not a catalogue field): for the sites of a multi-line
    /// school.
    commune_name: String,
}

impl Line {
    fn get(&self, field: &str) -> Option<&Value> {
        self.values
            .iter()
            .find(|(f, _)| *f == field)
            .map(|(_, v)| v)
    }

    fn str(&self, field: &str) -> Option<&str> {
        self.get(field).and_then(Value::as_str)
    }

    /// The line as one of a school's sites: its name, address, postal code and commune.
    fn site(&self) -> String {
        let town = format!(
            "{} {}",
            self.str("code_postal").unwrap_or(""),
            self.commune_name
        );
        let adresse = self.str("adresse").unwrap_or("");
        // The annuaire's third address line often holds the postal code and town already.
        let town = match self.str("code_postal") {
            Some(cp) if adresse.contains(cp) => "",
            _ => town.as_str(),
        };
        let place: Vec<&str> = [adresse, town]
            .into_iter()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect();
        let name = self.str("appellation_officielle").unwrap_or("");
        let site = if place.is_empty() {
            name.to_owned()
        } else {
            format!("{name} — {}", place.join(", "))
        };
        // `|` separates the items of a list in the CSV export.
        site.replace('|', "/")
    }
}

/// Fields that describe one site of a school rather than the school: a multi-line school
/// publishes its main line's, never a mix of lines.
const SITE_FIELDS: &[&str] = &[
    "appellation_officielle",
    "denomination",
    "patronyme",
    "adresse",
    "lieu_dit",
    "boite_postale",
    "code_postal",
    "localite_acheminement",
    "code_commune",
    "latitude",
    "longitude",
    "precision_localisation",
];

/// Types from the broadest to the narrowest, for choosing a multi-line school's main line.
const TYPE_RANK: &[&str] = &["lycee", "erea", "college", "ecole", "autre"];

/// The main line of a multi-line school: a line that is not an annexe, then the broadest
/// type (a cité scolaire's lycée), then one whose name begins with its nature's label
/// (« Lycée polyvalent … » for LYCEE POLYVALENT, where the other line is the « Lycée
/// professionnel … » track), then the first line.
fn main_line(lines: &[Line]) -> usize {
    let score = |l: &Line| {
        let name = fold(l.str("appellation_officielle").unwrap_or(""));
        let nature = fold(l.str("libelle_nature").unwrap_or(""));
        let annexe = name
            .split(|c: char| !c.is_alphanumeric())
            .any(|w| w == "annexe");
        let named_as_nature = !nature.is_empty() && name.starts_with(nature.trim());
        let rank = l
            .str("type_etablissement")
            .and_then(|t| TYPE_RANK.iter().position(|r| *r == t))
            .map_or(0, |p| TYPE_RANK.len() - p);
        (!annexe, rank, named_as_nature)
    };
    let mut best = 0;
    for (i, l) in lines.iter().enumerate().skip(1) {
        if score(l) > score(&lines[best]) {
            best = i;
        }
    }
    best
}

/// Merges the lines of one UAI into one school:
/// - name, address, postal code, commune and position (the site fields) are the main line's
///   ([`main_line`]); the other lines are kept as `sites_secondaires`;
/// - yes/no offers (tracks, SEGPA, apprenticeship, ULIS, sections…) are OR-ed: yes when any
///   line says yes, no when the lines that answer all say no;
/// - `type_etablissement` is the main line's, `types_etablissement` every line's type;
/// - any other field is the main line's, a gap filled from the first other line that has it;
/// - the millésime is the latest line's `date_maj_ligne`.
fn merge_lines(mut lines: Vec<Line>) -> (Line, MergedSchool) {
    let catalog = Catalog::get();
    let main_index = main_line(&lines);
    let main = lines.remove(main_index);
    let uai = main.uai.as_str().to_owned();
    let mut merged = Line {
        uai: main.uai.clone(),
        line: main.line,
        values: main.values.clone(),
        raw: main.raw.clone(),
        millesime: main.millesime.clone(),
        commune_name: main.commune_name.clone(),
    };
    let mut offers = Vec::new();
    for other in &lines {
        for (field, value) in &other.values {
            let is_offer = catalog
                .field(field)
                .is_some_and(|f| f.field_type == FieldType::Boolean);
            match merged.values.iter_mut().find(|(f, _)| f == field) {
                Some((_, current)) if is_offer => {
                    if value == &Value::Bool(true) && current != &Value::Bool(true) {
                        *current = Value::Bool(true);
                        offers.push(*field);
                    }
                }
                Some(_) => {}
                None if SITE_FIELDS.contains(field) => {}
                None => {
                    if is_offer && value == &Value::Bool(true) {
                        offers.push(*field);
                    }
                    merged.values.push((field, value.clone()));
                }
            }
        }
        for (field, raw) in &other.raw {
            if !merged.raw.iter().any(|(f, _)| f == field) {
                merged.raw.push((field, raw.clone()));
            }
        }
        if other.millesime > merged.millesime {
            merged.millesime.clone_from(&other.millesime);
        }
    }
    let mut all_lines: Vec<&Line> = lines.iter().collect();
    all_lines.push(&main);
    let mut types: Vec<&str> = all_lines
        .iter()
        .filter_map(|l| l.str("type_etablissement"))
        .collect();
    let order = catalog
        .field("type_etablissement")
        .map(|f| f.allowed.clone())
        .unwrap_or_default();
    types.sort_by_key(|t| order.iter().position(|o| o == t));
    types.dedup();
    let sites: Vec<String> = lines.iter().map(Line::site).collect();
    let mut line_numbers: Vec<u64> = all_lines.iter().map(|l| l.line).collect();
    line_numbers.sort_unstable();
    merged.values.push((
        "sites_secondaires",
        Value::Array(sites.iter().cloned().map(Value::String).collect()),
    ));
    if !types.is_empty() {
        merged.values.push((
            "types_etablissement",
            Value::Array(types.iter().map(|t| Value::from(*t)).collect()),
        ));
    }
    let report = MergedSchool {
        uai,
        lines: line_numbers,
        main_line: main.line,
        types: types.iter().map(|t| (*t).to_owned()).collect(),
        offers_from_other_lines: {
            offers.sort_by_key(|f| catalog.index_of(f));
            offers.dedup();
            offers.iter().map(|f| (*f).to_owned()).collect()
        },
        other_sites: sites,
    };
    (merged, report)
}

pub(super) struct ParsedAnnuaire {
    pub observations: Vec<SchoolObservation>,
    /// `None` for the géolocalisation file: it is no list of schools the ministry keeps open.
    pub register: Option<Register>,
}

pub(super) fn parse(
    input: &Input<'_>,
    report: &mut ImportReport,
    progress: &mut dyn FnMut(u64, u64),
) -> ParsedAnnuaire {
    let empty = ParsedAnnuaire {
        observations: Vec::new(),
        register: None,
    };
    let columns = Columns::new(&input.headers);
    let format = match detect(
        &columns,
        &[&ANNUAIRE_FORMAT, &GEOLOCALISATION_FORMAT],
        &[(&etic::ETIC_FORMAT, "ecarto import etic")],
    ) {
        Ok(f) => f,
        Err(e) => {
            report.file_error(e);
            return empty;
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
        return empty;
    };
    let millesime_column = if is_annuaire {
        columns.find(MILLESIME_COLUMN)
    } else {
        None
    };
    let commune_column = columns
        .find("Nom_commune")
        .or_else(|| columns.find("Commune"));
    let has_education_prioritaire = columns.has("Appartenance_Education_Prioritaire");

    // Every line first: a UAI's lines may be far apart in the file. The first line of each
    // UAI is kept in file order, its later lines aside (they are few).
    let mut schools: Vec<Line> = Vec::new();
    let mut first_of: HashMap<u64, usize> = HashMap::new();
    let mut later: Vec<(usize, Line)> = Vec::new();
    each_row(input, report, progress, |line, record, report| {
        let Some(uai) = row_uai(line, record, uai_column, &columns, report) else {
            return false;
        };
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
        let RowValues { values, raw } = read_values(line, record, &resolved, &columns, report);
        let key = uai.key();
        let read = Line {
            uai,
            line,
            values,
            raw,
            millesime,
            commune_name: commune_column
                .and_then(|c| record.get(c))
                .unwrap_or("")
                .trim()
                .to_owned(),
        };
        match first_of.entry(key) {
            Entry::Occupied(o) => later.push((*o.get(), read)),
            Entry::Vacant(v) => {
                v.insert(schools.len());
                schools.push(read);
            }
        }
        true
    });
    drop(first_of);
    // The multi-line schools, merged in place, in the order of their first line.
    later.sort_by_key(|(i, _)| *i);
    let mut later = later.into_iter().peekable();
    while let Some((index, line)) = later.next() {
        let mut lines = vec![line];
        while let Some((_, l)) = later.next_if(|(i, _)| *i == index) {
            lines.push(l);
        }
        let placeholder = Line {
            uai: schools[index].uai.clone(),
            line: 0,
            values: Vec::new(),
            raw: Vec::new(),
            millesime: None,
            commune_name: String::new(),
        };
        lines.insert(0, std::mem::replace(&mut schools[index], placeholder));
        let (school, merged) = merge_lines(lines);
        report.merged.push(merged);
        schools[index] = school;
    }

    let mut register = Register::default();
    let mut last_scope: Option<ScopeKey> = None;
    let mut observations = Vec::with_capacity(schools.len());
    for mut school in schools {
        if school.get("types_etablissement").is_none()
            && let Some(t) = school.get("type_etablissement").cloned()
        {
            school
                .values
                .push(("types_etablissement", Value::Array(vec![t])));
        }
        if has_education_prioritaire && school.get("education_prioritaire").is_none() {
            let public_school = school.str("secteur") == Some("public")
                && matches!(
                    school.str("type_etablissement"),
                    Some("ecole" | "college" | "lycee" | "erea")
                );
            if public_school {
                school
                    .values
                    .extend(derived("education_prioritaire", "hors_rep"));
            }
        }
        if is_annuaire {
            // Rows of one département and kind mostly follow one another: allocate a key only
            // when it changes.
            let key = (
                school.str("code_departement"),
                school.str("type_etablissement"),
                school.str("secteur"),
            );
            let same = last_scope.as_ref().is_some_and(|(d, t, s): &ScopeKey| {
                (d.as_deref(), t.as_deref(), s.as_deref()) == key
            });
            if !same {
                let owned = scope_key(|f| school.str(f));
                register.scope.insert(owned.clone());
                last_scope = Some(owned);
            }
            if school.millesime > register.as_of {
                register.as_of.clone_from(&school.millesime);
            }
        }
        observations.push(SchoolObservation {
            uai: school.uai,
            millesime: school.millesime,
            values: school.values,
            raw: school.raw,
        });
    }
    ParsedAnnuaire {
        observations,
        register: is_annuaire.then_some(register),
    }
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
            // Worked out from all of a UAI's lines, or from the file as a whole.
            let derived = [
                "uai",
                "presence_annuaire",
                "types_etablissement",
                "sites_secondaires",
            ];
            let mapped = derived.contains(&f.name)
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
    fn rows_cells_and_lines_of_one_uai() {
        let parsed = parse(&format!(
            "{HEADER}0350122T;École A;Ecole;Public;;48.1;2023-06-08\n\
             0350122A;École B;Ecole;Public;;48.1;2023-06-08\n\
             0350165P;École C;Ecole;Privé;;nord;2023-06-08\n\
             0350122T;École A bis;Ecole;Public;REP;48.1;2023-06-09\n"
        ));
        let r = &parsed.report;
        assert_eq!((r.rows_read, r.rows_imported, r.rows_rejected), (4, 3, 1));
        assert_eq!(r.row_errors.len(), 2);
        assert_eq!(r.row_errors[0].line, 3);
        assert!(
            r.row_errors[0]
                .expected
                .contains("la lettre attendue pour 0350122 est T")
        );
        assert_eq!(r.row_errors[1].column.as_deref(), Some("latitude"));
        assert_eq!(r.row_errors[1].value.as_deref(), Some("nord"));
        assert!(!r.row_errors[1].row_rejected);
        assert_eq!(r.values_dropped, 1);
        assert_eq!(r.merged.len(), 1);
        assert_eq!(r.merged[0].lines, [2, 5]);
        assert_eq!(r.merged[0].main_line, 2);
        let first = &parsed.observations[0];
        let get = |f: &str| {
            first
                .values
                .iter()
                .find(|(n, _)| *n == f)
                .map(|(_, v)| v.clone())
        };
        // The latest line's date; the main line's name; a gap filled from the other line.
        assert_eq!(first.millesime.as_deref(), Some("2023-06-09"));
        assert_eq!(get("appellation_officielle"), Some("École A".into()));
        assert_eq!(get("education_prioritaire"), Some("rep".into()));
        assert_eq!(
            get("sites_secondaires"),
            Some(serde_json::json!(["École A bis"]))
        );
        // A public school without éducation prioritaire; a private one is not expected it.
        let private = &parsed.observations[1];
        assert_eq!(private.uai.as_str(), "0350165P");
        assert!(
            !private
                .values
                .iter()
                .any(|(f, _)| *f == "education_prioritaire")
        );
        let register = parsed.register.expect("an annuaire is a register");
        assert_eq!(register.as_of.as_deref(), Some("2023-06-09"));
        assert!(
            register
                .scope
                .contains(&(None, Some("ecole".into()), Some("prive".into())))
        );
    }

    fn value<'a>(o: &'a SchoolObservation, field: &str) -> Option<&'a Value> {
        o.values.iter().find(|(f, _)| *f == field).map(|(_, v)| v)
    }

    /// The three UAIs the Ille-et-Vilaine extract lists twice, as written there: a private
    /// lycée with a vocational and a general track, a collège with an annexe in another
    /// commune, a lycée with an annexe.
    #[test]
    fn the_real_multi_line_schools_keep_every_flag_of_every_line() {
        let parsed = parse_file(
            ImportKind::Annuaire,
            "annuaire-multi-lignes.csv",
            include_bytes!("../../fixtures/annuaire-multi-lignes.csv"),
            &Context::default(),
            &mut |_, _| {},
        );
        let r = &parsed.report;
        assert_eq!((r.rows_read, r.rows_imported, r.rows_rejected), (6, 6, 0));
        assert!(r.row_errors.is_empty(), "{:?}", r.row_errors);
        assert_eq!(parsed.observations.len(), 3);
        let school = |uai: &str| {
            parsed
                .observations
                .iter()
                .find(|o| o.uai.as_str() == uai)
                .expect("merged school")
        };
        let merged = |uai: &str| {
            r.merged
                .iter()
                .find(|m| m.uai == uai)
                .expect("merge report")
        };

        // 0352072M: the « Lycée polyvalent » line is the main one; the LP line's vocational
        // track is kept, and so are the general line's tracks, sport and European sections.
        let lp = school("0352072M");
        assert_eq!(
            value(lp, "appellation_officielle"),
            Some(&Value::from(
                "Lycée polyvalent Institution Saint-Malo La Providence"
            ))
        );
        for f in [
            "voie_generale",
            "voie_technologique",
            "voie_professionnelle",
            "section_sport",
            "section_europeenne",
            "post_bac",
        ] {
            assert_eq!(value(lp, f), Some(&Value::Bool(true)), "0352072M {f}");
        }
        assert_eq!(value(lp, "segpa"), Some(&Value::Bool(false)));
        assert_eq!(merged("0352072M").main_line, 5);
        assert_eq!(
            merged("0352072M").offers_from_other_lines,
            ["voie_professionnelle"]
        );

        // 0350852L: Collège Saint-Joseph in Bruz is the main site; its annexe in
        // Saint-Erblon is a secondary site.
        let college = school("0350852L");
        assert_eq!(
            value(college, "appellation_officielle"),
            Some(&Value::from("Collège Saint-Joseph"))
        );
        assert_eq!(value(college, "code_commune"), Some(&Value::from("35047")));
        assert_eq!(value(college, "section_sport"), Some(&Value::Bool(true)));
        assert_eq!(
            value(college, "sites_secondaires"),
            Some(&serde_json::json!([
                "Collège Saint-Paul (annexe du collège Saint-Joseph, Bruz) — 22 Avenue de la Mare Guesclin, 35230 Saint-Erblon"
            ]))
        );

        // 0350778F: the Lycée Assomption in Rennes, its annexe in Retiers.
        let lycee = school("0350778F");
        assert_eq!(
            value(lycee, "appellation_officielle"),
            Some(&Value::from("Lycée Assomption"))
        );
        assert_eq!(value(lycee, "post_bac"), Some(&Value::Bool(true)));
        assert_eq!(value(lycee, "section_arts"), Some(&Value::Bool(true)));
        assert_eq!(
            value(lycee, "types_etablissement"),
            Some(&serde_json::json!(["lycee"]))
        );
        let text = r.summary(10, None);
        assert!(
            text.contains(
                "établissement multi-lignes 0350852L : lignes 3, 6 fusionnées, ligne 6 principale"
            ),
            "{text}"
        );
    }

    /// A cité scolaire is a collège and a lycée under one UAI: no such school is in the
    /// shipped extracts, so this fixture is written in the annuaire's format from a real line.
    #[test]
    fn a_cite_scolaire_keeps_both_types() {
        let parsed = parse_file(
            ImportKind::Annuaire,
            "annuaire-cite-scolaire-construite.csv",
            include_bytes!("../../fixtures/annuaire-cite-scolaire-construite.csv"),
            &Context::default(),
            &mut |_, _| {},
        );
        assert!(
            parsed.report.row_errors.is_empty(),
            "{:?}",
            parsed.report.row_errors
        );
        let [cite] = &parsed.observations[..] else {
            panic!("one school");
        };
        assert_eq!(
            value(cite, "type_etablissement"),
            Some(&Value::from("lycee"))
        );
        assert_eq!(
            value(cite, "types_etablissement"),
            Some(&serde_json::json!(["college", "lycee"]))
        );
        for f in [
            "segpa",
            "voie_generale",
            "section_sport",
            "section_europeenne",
        ] {
            assert_eq!(value(cite, f), Some(&Value::Bool(true)), "{f}");
        }
        assert_eq!(parsed.report.merged[0].types, ["college", "lycee"]);
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
