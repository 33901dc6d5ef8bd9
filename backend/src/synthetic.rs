//! A deterministic, national-scale synthetic register in the format of the ministry's
//! "Annuaire de l'éducation" (2026 schema), spread over the real communes, for scale tests
//! and benchmarks. The same seed always gives the same bytes.

use std::io::{self, Write};

use crate::domain::uai::expected_check_letter;

/// The columns of the annuaire's 2026 schema, as the ministry names them.
pub const ANNUAIRE_2026_HEADERS: &[&str] = &[
    "Identifiant_de_l_etablissement",
    "Nom_etablissement",
    "Type_etablissement",
    "Statut_public_prive",
    "Adresse_1",
    "Adresse_2",
    "Adresse_3",
    "Code_postal",
    "Code_commune",
    "Nom_commune",
    "Code_departement",
    "Code_academie",
    "Code_region",
    "Ecole_maternelle",
    "Ecole_elementaire",
    "Voie_generale",
    "Voie_technologique",
    "Voie_professionnelle",
    "Telephone",
    "Fax",
    "Web",
    "Mail",
    "Restauration",
    "Hebergement",
    "ULIS",
    "Apprentissage",
    "Segpa",
    "Section_arts",
    "Section_cinema",
    "Section_theatre",
    "Section_sport",
    "Section_internationale",
    "Section_europeenne",
    "Lycee_Agricole",
    "Lycee_militaire",
    "Lycee_des_metiers",
    "Post_BAC",
    "Appartenance_Education_Prioritaire",
    "GRETA",
    "SIREN_SIRET",
    "Fiche_onisep",
    "position",
    "Type_contrat_prive",
    "Libelle_departement",
    "Libelle_academie",
    "Libelle_region",
    "coordX_origine",
    "coordY_origine",
    "epsg_origine",
    "nom_circonscription",
    "latitude",
    "longitude",
    "precision_localisation",
    "date_ouverture",
    "date_maj_ligne",
    "etat",
    "ministere_tutelle",
    "multi_uai",
    "rpi_concentre",
    "rpi_disperse",
    "code_nature",
    "libelle_nature",
    "Code_type_contrat_prive",
    "PIAL",
    "etablissement_mere",
    "type_rattachement_etablissement_mere",
    "code_circonscription",
    "code_zone_animation_pedagogique",
    "libelle_zone_animation_pedagogique",
    "code_bassin_formation",
    "libelle_bassin_formation",
];

/// A real commune to place schools in.
#[derive(Debug, Clone)]
pub struct CommuneSeed {
    pub code: String,
    pub name: String,
    /// The ministry's 3-character code (`035`, `02A`, `971`).
    pub departement_men: String,
    pub departement_name: String,
    pub academie_code: String,
    pub academie_name: String,
    pub region_code: String,
    pub region_name: String,
    pub postal_code: String,
    pub population: u64,
}

/// SplitMix64: tiny, good enough for test data, and stable forever (no crate upgrade can
/// change the generated files).
pub struct SplitMix64(u64);

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }
}

const FIRST_NAMES: &[&str] = &[
    "Jean Jaurès",
    "Jules Ferry",
    "Victor Hugo",
    "Louise Michel",
    "Marie Curie",
    "Jean Moulin",
    "Paul Langevin",
    "Simone Veil",
    "Jacques Prévert",
    "Anne Frank",
    "Pierre et Marie Curie",
    "Condorcet",
    "Émile Zola",
    "George Sand",
    "Colette",
    "Albert Camus",
    "Les Tilleuls",
    "Les Lucioles",
    "Le Petit Prince",
    "Jean de La Fontaine",
    "Olympe de Gouges",
    "Aimé Césaire",
];
const STREETS: &[&str] = &["rue", "avenue", "place", "allée", "boulevard", "chemin"];

struct Kind {
    type_label: &'static str,
    nature_code: &'static str,
    nature_label: &'static str,
    name_prefix: &'static str,
}

/// Shares as the ministry counted them in October 2018: 81 % écoles, 11 % collèges, 8 % lycées,
/// 0.1 % EREA.
fn pick_kind(rng: &mut SplitMix64) -> Kind {
    let x = rng.unit();
    if x < 0.40 {
        Kind {
            type_label: "Ecole",
            nature_code: "101",
            nature_label: "ECOLE MATERNELLE",
            name_prefix: "Ecole maternelle",
        }
    } else if x < 0.81 {
        Kind {
            type_label: "Ecole",
            nature_code: "151",
            nature_label: "ECOLE DE NIVEAU ELEMENTAIRE",
            name_prefix: "Ecole élémentaire",
        }
    } else if x < 0.92 {
        Kind {
            type_label: "Collège",
            nature_code: "340",
            nature_label: "COLLEGE",
            name_prefix: "Collège",
        }
    } else if x < 0.955 {
        Kind {
            type_label: "Lycée",
            nature_code: "300",
            nature_label: "LYCEE ENSEIGNT GENERAL ET TECHNOLOGIQUE",
            name_prefix: "Lycée",
        }
    } else if x < 0.999 {
        Kind {
            type_label: "Lycée",
            nature_code: "320",
            nature_label: "LYCEE PROFESSIONNEL",
            name_prefix: "Lycée professionnel",
        }
    } else {
        Kind {
            type_label: "EREA",
            nature_code: "370",
            nature_label: "ETAB REGIONAL/LYCEE ENSEIGNEMENT ADAPTE",
            name_prefix: "EREA",
        }
    }
}

/// The 3-digit prefix of the UAIs of a département: its ministry code, Corsica excepted.
fn uai_prefix(departement_men: &str) -> String {
    match departement_men {
        "02A" => "620".into(),
        "02B" => "720".into(),
        other => other.to_owned(),
    }
}

/// Rough centre of the overseas départements; metropolitan schools are spread over the
/// metropolitan bounding box (synthetic coordinates are not matched to their commune).
fn coordinates(rng: &mut SplitMix64, departement_men: &str) -> (f64, f64) {
    let (lat, lon, spread) = match departement_men {
        "971" => (16.25, -61.55, 0.2),
        "972" => (14.64, -61.02, 0.15),
        "973" => (4.9, -52.5, 0.6),
        "974" => (-21.11, 55.53, 0.2),
        "976" => (-12.82, 45.15, 0.1),
        _ => return (42.5 + rng.unit() * 8.5, -4.5 + rng.unit() * 12.5),
    };
    (
        lat + (rng.unit() - 0.5) * spread,
        lon + (rng.unit() - 0.5) * spread,
    )
}

fn set<'a>(row: &mut [&'a str], col: &str, v: &'a str) {
    if let Some(i) = ANNUAIRE_2026_HEADERS.iter().position(|h| *h == col) {
        row[i] = v;
    }
}

/// Writes `n` synthetic schools as an annuaire CSV (UTF-8 with BOM, `;`), in the communes
/// given, each commune weighted by its population. UAIs are numbered from 5000 up in each
/// département (`0355000…`), away from most real numbers, with a correct check letter.
pub fn write_annuaire<W: Write>(
    out: W,
    communes: &[CommuneSeed],
    n: usize,
    seed: u64,
) -> io::Result<usize> {
    if communes.is_empty() {
        return Err(io::Error::other(
            "aucune commune : chargez d'abord le référentiel des territoires",
        ));
    }
    let mut rng = SplitMix64::new(seed);
    let mut cumulative = Vec::with_capacity(communes.len());
    let mut total = 0u64;
    for c in communes {
        total += c.population.max(1);
        cumulative.push(total);
    }
    let mut next_number: std::collections::HashMap<String, u32> = std::collections::HashMap::new();
    let mut out = out;
    out.write_all("\u{feff}".as_bytes())?;
    let mut w = csv::WriterBuilder::new().delimiter(b';').from_writer(out);
    w.write_record(ANNUAIRE_2026_HEADERS)?;
    let mut written = 0;
    let mut attempts = 0;
    while written < n {
        attempts += 1;
        if attempts > n * 4 + 1000 {
            return Err(io::Error::other(
                "trop d'établissements pour les communes données",
            ));
        }
        let target = rng.below(total);
        let idx = cumulative.partition_point(|&c| c <= target);
        let c = &communes[idx.min(communes.len() - 1)];
        let prefix = uai_prefix(&c.departement_men);
        let counter = next_number.entry(prefix.clone()).or_insert(5000);
        if *counter > 9999 {
            continue; // this département is full; draw another commune
        }
        let digits = format!("{prefix}{:04}", *counter);
        *counter += 1;
        let uai = format!("{digits}{}", expected_check_letter(&digits));
        let kind = pick_kind(&mut rng);
        let public = rng.chance(0.86);
        let patron = FIRST_NAMES[rng.below(FIRST_NAMES.len() as u64) as usize];
        let secteur = if public { "Public" } else { "Privé" };
        let name = format!(
            "{} {} {}",
            kind.name_prefix,
            if public { "publique" } else { "privée" },
            patron
        );
        let (lat, lon) = coordinates(&mut rng, &c.departement_men);
        let street = format!(
            "{} {} {}",
            1 + rng.below(120),
            STREETS[rng.below(STREETS.len() as u64) as usize],
            FIRST_NAMES[rng.below(FIRST_NAMES.len() as u64) as usize]
        );
        let rep = if public && kind.type_label != "Lycée" {
            match rng.below(100) {
                0..=11 => "REP",
                12..=14 => "REP+",
                _ => "",
            }
        } else {
            ""
        };
        let is_school = kind.type_label == "Ecole";
        let secondary = !is_school;
        let flag = |rng: &mut SplitMix64, p: f64| {
            if secondary {
                if rng.chance(p) { "1" } else { "0" }
            } else {
                ""
            }
        };
        let arts = flag(&mut rng, 0.1);
        let cinema = flag(&mut rng, 0.05);
        let theatre = flag(&mut rng, 0.05);
        let sport = flag(&mut rng, 0.2);
        let inter = flag(&mut rng, 0.03);
        let euro = flag(&mut rng, 0.15);
        let opened = format!("{}-{:02}-01", 1950 + rng.below(70), 1 + rng.below(12));
        let updated = format!(
            "20{:02}-{:02}-{:02}",
            20 + rng.below(7),
            1 + rng.below(12),
            1 + rng.below(28)
        );
        let etat = if rng.chance(0.005) {
            "A FERMER"
        } else {
            "OUVERT"
        };
        let pos = format!("{lat}, {lon}");
        let (lat_s, lon_s) = (lat.to_string(), lon.to_string());
        let address3 = format!("{} {}", c.postal_code, c.name.to_uppercase());
        let contract = if public {
            "SANS OBJET"
        } else {
            "CONTRAT D'ASSOCIATION TOUTES CLASSES"
        };
        let contract_code = if public { "99" } else { "30" };
        let mail = format!("ce.{uai}@ac-example.fr");
        let mut row: Vec<&str> = vec![""; ANNUAIRE_2026_HEADERS.len()];
        set(&mut row, "Identifiant_de_l_etablissement", &uai);
        set(&mut row, "Nom_etablissement", &name);
        set(&mut row, "Type_etablissement", kind.type_label);
        set(&mut row, "Statut_public_prive", secteur);
        set(&mut row, "Adresse_1", &street);
        set(&mut row, "Adresse_3", &address3);
        set(&mut row, "Code_postal", &c.postal_code);
        set(&mut row, "Code_commune", &c.code);
        set(&mut row, "Nom_commune", &c.name);
        set(&mut row, "Code_departement", &c.departement_men);
        set(&mut row, "Code_academie", &c.academie_code);
        set(&mut row, "Code_region", &c.region_code);
        set(&mut row, "Mail", &mail);
        set(&mut row, "Section_arts", arts);
        set(&mut row, "Section_cinema", cinema);
        set(&mut row, "Section_theatre", theatre);
        set(&mut row, "Section_sport", sport);
        set(&mut row, "Section_internationale", inter);
        set(&mut row, "Section_europeenne", euro);
        set(&mut row, "Appartenance_Education_Prioritaire", rep);
        set(&mut row, "position", &pos);
        set(&mut row, "Type_contrat_prive", contract);
        set(&mut row, "Libelle_departement", &c.departement_name);
        set(&mut row, "Libelle_academie", &c.academie_name);
        set(&mut row, "Libelle_region", &c.region_name);
        set(&mut row, "latitude", &lat_s);
        set(&mut row, "longitude", &lon_s);
        set(&mut row, "precision_localisation", "Numéro de rue");
        set(&mut row, "date_ouverture", &opened);
        set(&mut row, "date_maj_ligne", &updated);
        set(&mut row, "etat", etat);
        set(
            &mut row,
            "ministere_tutelle",
            "MINISTERE DE L'EDUCATION NATIONALE",
        );
        set(&mut row, "code_nature", kind.nature_code);
        set(&mut row, "libelle_nature", kind.nature_label);
        set(&mut row, "Code_type_contrat_prive", contract_code);
        w.write_record(&row)?;
        written += 1;
    }
    w.flush()?;
    Ok(written)
}

/// The header of the synthetic `inventaire-equipement` file (the schema's columns).
pub const INVENTAIRE_HEADER: &str = "uai;date_inventaire;nb_terminaux;nb_terminaux_mobiles;nb_tablettes;nb_tablettes_pc;nb_terminaux_moins_5_ans;nb_mobiles_affectes_eleves;nb_mobiles_affectes_enseignants;nb_classes_mobiles;nb_tni;nb_videoprojecteurs;nb_imprimantes_3d;maintenance;commentaire";

/// A deterministic `inventaire-equipement` CSV of `rows` rows (`;`, UTF-8), about
/// `invalid_share` of them with one error each of a kind agents make: a negative or
/// non-numeric count, more recent terminals than terminals, a date in the future or that does
/// not exist, a wrong UAI check letter, an unknown maintenance value, a repeated UAI.
pub fn write_inventaire<W: Write>(
    out: &mut W,
    rows: usize,
    seed: u64,
    invalid_share: f64,
) -> std::io::Result<usize> {
    const MAINTENANCE: [&str; 4] = [
        "collectivite",
        "prestataire",
        "education_nationale",
        "aucune",
    ];
    let mut rng = SplitMix64::new(seed);
    writeln!(out, "{INVENTAIRE_HEADER}")?;
    let mut invalid = 0;
    let mut previous_uai = String::new();
    for i in 0..rows {
        let digits = format!("{:07}", 100_000 + i as u64 * 37 % 9_000_000);
        let mut uai = format!(
            "{digits}{}",
            crate::domain::uai::expected_check_letter(&digits)
        );
        let total = 5 + rng.below(400);
        let mobiles = rng.below(total + 1);
        let recent = rng.below(total + 1);
        let tablets = rng.below(total.min(120) + 1);
        let pupils = rng.below((mobiles + tablets) / 2 + 1);
        let teachers = rng.below((mobiles + tablets) / 2 + 1);
        let mut cells: Vec<String> = vec![
            String::new(),
            format!("2025-{:02}-{:02}", 1 + rng.below(12), 1 + rng.below(28)),
            total.to_string(),
            mobiles.to_string(),
            tablets.to_string(),
            rng.below(total.min(30) + 1).to_string(),
            recent.to_string(),
            pupils.to_string(),
            teachers.to_string(),
            rng.below(5).to_string(),
            rng.below(40).to_string(),
            rng.below(60).to_string(),
            rng.below(4).to_string(),
            MAINTENANCE[rng.below(4) as usize].to_owned(),
            if rng.chance(0.1) {
                "Inventaire réalisé par le service informatique".into()
            } else {
                String::new()
            },
        ];
        if rng.chance(invalid_share) {
            invalid += 1;
            match rng.below(8) {
                0 => cells[2] = format!("-{total}"),
                1 => cells[6] = (total + 1 + rng.below(10)).to_string(),
                2 => cells[1] = "2099-01-15".into(),
                3 => cells[1] = "31/02/2025".into(),
                4 => {
                    const LETTERS: &str = "ABCDEFGHJKLMNPRSTUVWXYZ";
                    let right = crate::domain::uai::expected_check_letter(&digits);
                    let at = LETTERS.find(right).unwrap_or(0);
                    let wrong = LETTERS.as_bytes()[(at + 1) % LETTERS.len()] as char;
                    uai = format!("{digits}{wrong}");
                }
                5 => cells[13] = "mairie".into(),
                6 => cells[4] = "beaucoup".into(),
                _ if !previous_uai.is_empty() => uai = previous_uai.clone(),
                _ => cells[2] = "-1".into(),
            }
        }
        cells[0] = uai.clone();
        previous_uai = uai;
        writeln!(out, "{}", cells.join(";"))?;
    }
    Ok(invalid)
}

/// The columns of the synthetic ETIC file: a subset of the survey's, enough for every score.
pub const ETIC_HEADER: &str = "Code_UAI;Millesime;NbEleve;NbTerminaux;NbTablette;NbMicroPortable;NbMicroMoins5;NbTBI;NbImpr3D;SiWifi;SalleInternet;AccWeb_Aucun;AccWeb_ADSL;AccWeb_CableFibreOptique;AccWeb_RTC;Maint_PersCollect;Maint_Personne;SiEntDisponible";

/// A deterministic ETIC survey file (`;`, UTF-8) answering for the given schools, with the
/// survey's gaps: each school answers with probability 0.8, and each cell is left empty
/// ("n.c.") with probability 0.25.
pub fn write_etic<W: Write>(mut out: W, uais: &[String], seed: u64) -> io::Result<usize> {
    const WIFI: [&str; 3] = ["OuiPerma", "OuiBorneMobile", "Non"];
    const PART: [&str; 3] = ["Mois20pct", "20pcta50pct", "50pctOuPlus"];
    let mut rng = SplitMix64::new(seed);
    writeln!(out, "{ETIC_HEADER}")?;
    let mut n = 0;
    let yes_no = |b: bool| if b { "oui" } else { "non" };
    for uai in uais {
        if !rng.chance(0.8) {
            continue;
        }
        let terminals = 5 + rng.below(300);
        let cells = [
            (100 + rng.below(900)).to_string(),
            terminals.to_string(),
            rng.below(terminals / 2 + 1).to_string(),
            rng.below(terminals / 2 + 1).to_string(),
            rng.below(terminals + 1).to_string(),
            rng.below(30).to_string(),
            rng.below(3).to_string(),
            WIFI[rng.below(3) as usize].to_owned(),
            PART[rng.below(3) as usize].to_owned(),
            yes_no(rng.chance(0.02)).to_owned(),
            yes_no(rng.chance(0.7)).to_owned(),
            yes_no(rng.chance(0.3)).to_owned(),
            yes_no(rng.chance(0.1)).to_owned(),
            yes_no(rng.chance(0.75)).to_owned(),
            yes_no(rng.chance(0.05)).to_owned(),
            yes_no(rng.chance(0.6)).to_owned(),
        ];
        let cells: Vec<String> = cells
            .into_iter()
            .map(|c| if rng.chance(0.25) { String::new() } else { c })
            .collect();
        writeln!(out, "{uai};2018;{}", cells.join(";"))?;
        n += 1;
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::uai::Uai;

    fn communes() -> Vec<CommuneSeed> {
        let c = |code: &str, dep: &str, pop| CommuneSeed {
            code: code.into(),
            name: format!("Commune {code}"),
            departement_men: dep.into(),
            departement_name: "Dép".into(),
            academie_code: "14".into(),
            academie_name: "Rennes".into(),
            region_code: "53".into(),
            region_name: "Bretagne".into(),
            postal_code: "35000".into(),
            population: pop,
        };
        vec![
            c("35238", "035", 220_000),
            c("35016", "035", 2_000),
            c("2A004", "02A", 70_000),
        ]
    }

    #[test]
    fn same_seed_same_bytes_and_valid_uais() {
        let mut a = Vec::new();
        let mut b = Vec::new();
        assert_eq!(write_annuaire(&mut a, &communes(), 300, 7).unwrap(), 300);
        write_annuaire(&mut b, &communes(), 300, 7).unwrap();
        assert_eq!(a, b);
        let mut c = Vec::new();
        write_annuaire(&mut c, &communes(), 300, 8).unwrap();
        assert_ne!(a, c);
        let text = String::from_utf8(a).unwrap();
        let mut uais = std::collections::HashSet::new();
        for line in text.lines().skip(1) {
            let uai = line.split(';').next().unwrap();
            Uai::parse(uai).unwrap();
            assert!(uais.insert(uai.to_owned()), "{uai} repeated");
        }
        assert_eq!(uais.len(), 300);
        assert!(
            uais.iter().any(|u| u.starts_with("620")),
            "Corsican UAIs start with 620"
        );
    }
}
