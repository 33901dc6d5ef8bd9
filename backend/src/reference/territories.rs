//! The territory reference: régions, académies, départements, communes, EPCIs and the former
//! codes of merged communes.
//!
//! It is read from Etalab's « découpage administratif » files (`regions.json`,
//! `departements.json`, `communes.json`, `epci.json`) and the ministry's
//! `departement-academie-region.csv`, then kept in the repository as a small gzipped TSV bundle
//! embedded in the binary, so that a fresh machine needs neither the files nor a network.

use std::{
    collections::{BTreeMap, BTreeSet},
    fmt::Write as _,
    io::{Read, Write},
    path::Path,
};

use flate2::{Compression, GzBuilder, read::GzDecoder};
use serde::{Deserialize, Serialize, de::DeserializeOwned};

use crate::domain::{
    territory::{AcademieCode, CodeError, CommuneCode, DepartementCode, RegionCode, Siren},
    text::fold,
};

/// The bundle committed in the repository and embedded in the binary.
static BUNDLE: &[u8] = include_bytes!("../../reference/territories.tsv.gz");

/// The first line of a bundle: its format and version.
const BUNDLE_MAGIC: &str = "ecarto-territories\t1";

/// Where a région lies: metropolitan France, an overseas département-région, or one of the
/// collectivités d'outre-mer that Etalab's files list as régions of their own (`975`, `988`…).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Zone {
    Metro,
    Drom,
    Com,
}

impl Zone {
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "metro" => Self::Metro,
            "drom" => Self::Drom,
            "com" => Self::Com,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Metro => "metro",
            Self::Drom => "drom",
            Self::Com => "com",
        }
    }
}

/// Académies proper, and the vice-rectorats (or services of the ministry) of the collectivités
/// d'outre-mer, which the ministry numbers in the same series (`40` Nouvelle-Calédonie…).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AcademieKind {
    Academie,
    ViceRectorat,
}

impl AcademieKind {
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "academie" => Self::Academie,
            "vice_rectorat" => Self::ViceRectorat,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Academie => "academie",
            Self::ViceRectorat => "vice_rectorat",
        }
    }
}

/// A commune, or one of the 45 municipal arrondissements of Paris, Lyon and Marseille (schools
/// there carry the arrondissement's code).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CommuneKind {
    Commune,
    Arrondissement,
}

impl CommuneKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Commune => "commune",
            Self::Arrondissement => "arrondissement",
        }
    }
}

/// The legal forms of EPCI à fiscalité propre, as Etalab's file writes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum EpciKind {
    #[serde(rename = "CC")]
    CommunauteDeCommunes,
    #[serde(rename = "CA")]
    CommunauteDAgglomeration,
    #[serde(rename = "CU")]
    CommunauteUrbaine,
    #[serde(rename = "METRO")]
    Metropole,
    /// The Métropole de Lyon, a collectivité à statut particulier.
    #[serde(rename = "MET69")]
    MetropoleDeLyon,
}

impl EpciKind {
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "CC" => Self::CommunauteDeCommunes,
            "CA" => Self::CommunauteDAgglomeration,
            "CU" => Self::CommunauteUrbaine,
            "METRO" => Self::Metropole,
            "MET69" => Self::MetropoleDeLyon,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::CommunauteDeCommunes => "CC",
            Self::CommunauteDAgglomeration => "CA",
            Self::CommunauteUrbaine => "CU",
            Self::Metropole => "METRO",
            Self::MetropoleDeLyon => "MET69",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Region {
    pub code: RegionCode,
    pub name: String,
    pub zone: Zone,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Academie {
    /// The ministry's 2-digit code (`14` Rennes, `70` Normandie, `43` Mayotte).
    pub code: AcademieCode,
    pub name: String,
    /// The région académique, identified by the INSEE code of its région.
    pub region: RegionCode,
    pub kind: AcademieKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Departement {
    /// The INSEE code; the ministry's 3-character code is `code.ministry_code()`.
    pub code: DepartementCode,
    pub name: String,
    pub region: RegionCode,
    /// `None` for the two territories without schools (`984` TAAF, `989` Clipperton).
    pub academie: Option<AcademieCode>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Commune {
    pub code: CommuneCode,
    pub name: String,
    /// `fold(name)`, for searches without regard to case or accents.
    pub name_folded: String,
    pub kind: CommuneKind,
    /// For an arrondissement, its commune (`75056`, `69123`, `13055`).
    pub parent: Option<CommuneCode>,
    pub departement: DepartementCode,
    pub region: RegionCode,
    /// `None` for arrondissements and the communes of the collectivités d'outre-mer.
    pub siren: Option<Siren>,
    pub population: Option<i64>,
    pub postal_codes: Vec<String>,
    /// The EPCI the commune belongs to; an arrondissement gets its commune's.
    pub epci: Option<Siren>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Epci {
    pub siren: Siren,
    pub name: String,
    pub kind: EpciKind,
    /// Population municipale, the same measure as the communes'.
    pub population: Option<i64>,
}

/// A code that no longer designates a commune of its own (merged, delegated or associated
/// commune), and the current commune that took it over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormerCode {
    pub code: CommuneCode,
    pub current: CommuneCode,
}

/// The whole reference, every list sorted by code.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TerritoryReference {
    pub regions: Vec<Region>,
    pub academies: Vec<Academie>,
    pub departements: Vec<Departement>,
    pub communes: Vec<Commune>,
    pub epcis: Vec<Epci>,
    pub former_codes: Vec<FormerCode>,
}

/// A reference file that cannot be read, always naming the file, the record and what was
/// expected.
#[derive(Debug, thiserror::Error)]
pub enum ReferenceError {
    #[error("{file} : lecture impossible : {source}")]
    Io {
        file: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{file}, ligne {line}, colonne {column} : JSON invalide ou inattendu : {detail}")]
    Json {
        file: String,
        line: usize,
        column: usize,
        detail: String,
    },
    #[error("{file}, {record} : {detail}")]
    Record {
        file: String,
        record: String,
        detail: String,
    },
}

fn record_err(file: &str, record: &str, detail: impl Into<String>) -> ReferenceError {
    ReferenceError::Record {
        file: file.to_owned(),
        record: record.to_owned(),
        detail: detail.into(),
    }
}

fn code_err(file: &str, record: &str, field: &str, e: CodeError) -> ReferenceError {
    record_err(file, record, format!("champ `{field}` : {e}"))
}

const REGIONS_FILE: &str = "regions.json";
const DEPARTEMENTS_FILE: &str = "departements.json";
const ACADEMIES_FILE: &str = "departement-academie-region.csv";
const COMMUNES_FILE: &str = "communes.json";
const EPCI_FILE: &str = "epci.json";

fn read_file(dir: &Path, name: &str) -> Result<Vec<u8>, ReferenceError> {
    std::fs::read(dir.join(name)).map_err(|source| ReferenceError::Io {
        file: dir.join(name).display().to_string(),
        source,
    })
}

fn read_json<T: DeserializeOwned>(dir: &Path, name: &str) -> Result<Vec<T>, ReferenceError> {
    let bytes = read_file(dir, name)?;
    serde_json::from_slice(&bytes).map_err(|e| {
        // serde_json appends the position in English; it is given in French instead.
        let mut detail = e.to_string();
        if let Some(at) = detail.find(" at line ") {
            detail.truncate(at);
        }
        ReferenceError::Json {
            file: name.to_owned(),
            line: e.line(),
            column: e.column(),
            detail,
        }
    })
}

/// « enregistrement n° 12 (code « 01012 ») »: JSON records are numbered from 1 in file order.
fn json_record(index: usize, code: Option<&str>) -> String {
    match code {
        Some(c) => format!("enregistrement n° {} (code « {c} »)", index + 1),
        None => format!("enregistrement n° {}", index + 1),
    }
}

/// A required text field: present, not blank, and free of the control characters that would
/// break the bundle's TSV.
fn required<'a>(
    value: &'a Option<String>,
    field: &str,
    file: &str,
    record: &str,
) -> Result<&'a str, ReferenceError> {
    let v = value.as_deref().map(str::trim).unwrap_or("");
    if v.is_empty() {
        return Err(record_err(
            file,
            record,
            format!("champ `{field}` absent ou vide (texte attendu)"),
        ));
    }
    if v.chars().any(char::is_control) {
        return Err(record_err(
            file,
            record,
            format!("champ `{field}` : « {v} » contient un caractère de contrôle"),
        ));
    }
    Ok(v)
}

fn population(
    value: Option<i64>,
    field: &str,
    file: &str,
    record: &str,
) -> Result<Option<i64>, ReferenceError> {
    match value {
        Some(n) if n < 0 => Err(record_err(
            file,
            record,
            format!("champ `{field}` : {n} (un nombre d'habitants positif attendu)"),
        )),
        other => Ok(other),
    }
}

#[derive(Deserialize)]
struct RawRegion {
    code: Option<String>,
    nom: Option<String>,
    zone: Option<String>,
}

#[derive(Deserialize)]
struct RawDepartement {
    code: Option<String>,
    nom: Option<String>,
    region: Option<String>,
}

#[derive(Deserialize)]
struct RawCommune {
    code: Option<String>,
    nom: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    departement: Option<String>,
    region: Option<String>,
    /// The commune of a municipal arrondissement.
    commune: Option<String>,
    /// The current commune of a delegated or associated commune.
    #[serde(rename = "chefLieu")]
    chef_lieu: Option<String>,
    siren: Option<String>,
    population: Option<i64>,
    #[serde(rename = "codesPostaux", default)]
    codes_postaux: Vec<String>,
    #[serde(rename = "anciensCodes", default)]
    anciens_codes: Vec<String>,
}

#[derive(Deserialize)]
struct RawEpci {
    code: Option<String>,
    nom: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    #[serde(rename = "populationMunicipale")]
    population: Option<i64>,
    #[serde(default)]
    membres: Vec<RawMember>,
}

#[derive(Deserialize)]
struct RawMember {
    code: Option<String>,
}

impl TerritoryReference {
    /// Reads the official files of a directory such as `../shared/data/territories`.
    pub fn from_dir(dir: &Path) -> Result<Self, ReferenceError> {
        let regions = parse_regions(read_json(dir, REGIONS_FILE)?)?;
        let mut departements = parse_departements(read_json(dir, DEPARTEMENTS_FILE)?, &regions)?;
        let academies = parse_academies(
            &read_file(dir, ACADEMIES_FILE)?,
            &regions,
            &mut departements,
        )?;
        let (mut communes, former) = parse_communes(read_json(dir, COMMUNES_FILE)?, &departements)?;
        let epcis = parse_epcis(read_json(dir, EPCI_FILE)?, &mut communes)?;
        Ok(Self {
            regions: regions.into_values().collect(),
            academies,
            departements: departements.into_values().collect(),
            communes: communes.into_values().collect(),
            epcis,
            former_codes: former,
        })
    }

    pub fn region(&self, code: &RegionCode) -> Option<&Region> {
        find(&self.regions, code, |r| &r.code)
    }

    pub fn academie(&self, code: &AcademieCode) -> Option<&Academie> {
        find(&self.academies, code, |a| &a.code)
    }

    pub fn departement(&self, code: &DepartementCode) -> Option<&Departement> {
        find(&self.departements, code, |d| &d.code)
    }

    pub fn commune(&self, code: &CommuneCode) -> Option<&Commune> {
        find(&self.communes, code, |c| &c.code)
    }

    pub fn epci(&self, siren: &Siren) -> Option<&Epci> {
        find(&self.epcis, siren, |e| &e.siren)
    }

    /// The current commune a code designates, following the former codes of merged communes.
    pub fn resolve_commune(&self, code: &CommuneCode) -> Option<&Commune> {
        self.commune(code).or_else(|| {
            let former = find(&self.former_codes, code, |f| &f.code)?;
            self.commune(&former.current)
        })
    }

    /// Writes the compact bundle: a gzipped TSV, byte for byte the same for the same reference.
    pub fn write_bundle(&self, path: &Path) -> Result<(), ReferenceError> {
        let io_err = |source| ReferenceError::Io {
            file: path.display().to_string(),
            source,
        };
        let bytes = self.bundle_bytes().map_err(io_err)?;
        std::fs::write(path, bytes).map_err(io_err)
    }

    /// The bundle's bytes; see [`TerritoryReference::write_bundle`].
    pub fn bundle_bytes(&self) -> std::io::Result<Vec<u8>> {
        let text = self.bundle_text();
        // No file name and a zero time in the gzip header, so that the output depends only on
        // the reference.
        let mut gz = GzBuilder::new()
            .mtime(0)
            .operating_system(255)
            .write(Vec::new(), Compression::best());
        gz.write_all(text.as_bytes())?;
        gz.finish()
    }

    fn bundle_text(&self) -> String {
        let mut out = String::with_capacity(2_000_000);
        let opt = |o: Option<&str>| o.unwrap_or("").to_owned();
        let _ = writeln!(out, "{BUNDLE_MAGIC}");
        let _ = writeln!(out, "#regions\t{}", self.regions.len());
        for r in &self.regions {
            let _ = writeln!(out, "{}\t{}\t{}", r.code, r.name, r.zone.as_str());
        }
        let _ = writeln!(out, "#academies\t{}", self.academies.len());
        for a in &self.academies {
            let _ = writeln!(
                out,
                "{}\t{}\t{}\t{}",
                a.code,
                a.name,
                a.region,
                a.kind.as_str()
            );
        }
        let _ = writeln!(out, "#departements\t{}", self.departements.len());
        for d in &self.departements {
            let _ = writeln!(
                out,
                "{}\t{}\t{}\t{}",
                d.code,
                d.name,
                d.region,
                opt(d.academie.as_ref().map(AcademieCode::as_str))
            );
        }
        let _ = writeln!(out, "#epcis\t{}", self.epcis.len());
        for e in &self.epcis {
            let _ = writeln!(
                out,
                "{}\t{}\t{}\t{}",
                e.siren,
                e.name,
                e.kind.as_str(),
                e.population.map(|p| p.to_string()).unwrap_or_default()
            );
        }
        // A commune's département follows from its code and its région from its département,
        // so neither is written; an arrondissement is a commune with a parent.
        let _ = writeln!(out, "#communes\t{}", self.communes.len());
        for c in &self.communes {
            let _ = writeln!(
                out,
                "{}\t{}\t{}\t{}\t{}\t{}\t{}",
                c.code,
                c.name,
                opt(c.parent.as_ref().map(CommuneCode::as_str)),
                opt(c.siren.as_ref().map(Siren::as_str)),
                c.population.map(|p| p.to_string()).unwrap_or_default(),
                c.postal_codes.join(" "),
                opt(c.epci.as_ref().map(Siren::as_str)),
            );
        }
        let _ = writeln!(out, "#former_codes\t{}", self.former_codes.len());
        for f in &self.former_codes {
            let _ = writeln!(out, "{}\t{}", f.code, f.current);
        }
        out
    }

    /// The reference bundled in the binary (`backend/reference/territories.tsv.gz`).
    pub fn bundled() -> Result<Self, ReferenceError> {
        Self::from_bundle_bytes(BUNDLE, "bundle embarqué")
    }

    /// Reads a bundle written by [`TerritoryReference::write_bundle`].
    pub fn from_bundle_bytes(bytes: &[u8], file: &str) -> Result<Self, ReferenceError> {
        let mut text = String::new();
        GzDecoder::new(bytes)
            .read_to_string(&mut text)
            .map_err(|source| ReferenceError::Io {
                file: file.to_owned(),
                source,
            })?;
        BundleReader::new(&text, file)?.read()
    }
}

fn opt(s: &str) -> Option<&str> {
    (!s.is_empty()).then_some(s)
}

fn find<'a, T, K: Ord>(items: &'a [T], key: &K, get: impl Fn(&T) -> &K) -> Option<&'a T> {
    items
        .binary_search_by(|item| get(item).cmp(key))
        .ok()
        .map(|i| &items[i])
}

fn parse_regions(raw: Vec<RawRegion>) -> Result<BTreeMap<RegionCode, Region>, ReferenceError> {
    let f = REGIONS_FILE;
    let mut out = BTreeMap::new();
    for (i, r) in raw.into_iter().enumerate() {
        let rec = json_record(i, r.code.as_deref());
        let code = RegionCode::parse(required(&r.code, "code", f, &rec)?)
            .map_err(|e| code_err(f, &rec, "code", e))?;
        let name = required(&r.nom, "nom", f, &rec)?.to_owned();
        let zone_s = required(&r.zone, "zone", f, &rec)?;
        let zone = Zone::parse(zone_s).ok_or_else(|| {
            record_err(
                f,
                &rec,
                format!("champ `zone` : « {zone_s} » inconnu (metro, drom ou com attendu)"),
            )
        })?;
        if out.contains_key(&code) {
            return Err(record_err(f, &rec, format!("région {code} en double")));
        }
        out.insert(code.clone(), Region { code, name, zone });
    }
    Ok(out)
}

fn parse_departements(
    raw: Vec<RawDepartement>,
    regions: &BTreeMap<RegionCode, Region>,
) -> Result<BTreeMap<DepartementCode, Departement>, ReferenceError> {
    let f = DEPARTEMENTS_FILE;
    let mut out = BTreeMap::new();
    for (i, d) in raw.into_iter().enumerate() {
        let rec = json_record(i, d.code.as_deref());
        let code = DepartementCode::parse(required(&d.code, "code", f, &rec)?)
            .map_err(|e| code_err(f, &rec, "code", e))?;
        let name = required(&d.nom, "nom", f, &rec)?.to_owned();
        let region = RegionCode::parse(required(&d.region, "region", f, &rec)?)
            .map_err(|e| code_err(f, &rec, "region", e))?;
        if !regions.contains_key(&region) {
            return Err(record_err(
                f,
                &rec,
                format!("champ `region` : région {region} absente de {REGIONS_FILE}"),
            ));
        }
        if out.contains_key(&code) {
            return Err(record_err(f, &rec, format!("département {code} en double")));
        }
        out.insert(
            code.clone(),
            Departement {
                code,
                name,
                region,
                academie: None,
            },
        );
    }
    Ok(out)
}

/// Reads the ministry's département → académie table, sets each département's académie and
/// derives the académies.
///
/// An académie's région académique is the région of its départements; Guadeloupe's académie
/// also covers Saint-Barthélemy and Saint-Martin, which are régions of their own in Etalab's
/// files, so the régions of collectivités d'outre-mer count only for an académie that has no
/// other. An académie that covers only collectivités d'outre-mer is a vice-rectorat.
fn parse_academies(
    bytes: &[u8],
    regions: &BTreeMap<RegionCode, Region>,
    departements: &mut BTreeMap<DepartementCode, Departement>,
) -> Result<Vec<Academie>, ReferenceError> {
    let f = ACADEMIES_FILE;
    let bytes = bytes.strip_prefix("\u{feff}".as_bytes()).unwrap_or(bytes);
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(b';')
        .flexible(true)
        .from_reader(bytes);
    let headers = reader
        .headers()
        .map_err(|e| record_err(f, "en-tête", format!("illisible : {e}")))?
        .clone();
    let column = |name: &str| {
        headers
            .iter()
            .position(|h| h.trim() == name)
            .ok_or_else(|| {
                record_err(
                    f,
                    "en-tête",
                    format!(
                        "colonne `{name}` absente (colonnes attendues : code_departement_men, \
                     code_academie, libelle_academie, code_region)"
                    ),
                )
            })
    };
    let c_dep = column("code_departement_men")?;
    let c_acad = column("code_academie")?;
    let c_acad_name = column("libelle_academie")?;
    let c_region = column("code_region")?;

    let mut names: BTreeMap<AcademieCode, String> = BTreeMap::new();
    let mut covered: BTreeMap<AcademieCode, BTreeSet<RegionCode>> = BTreeMap::new();
    let mut seen = BTreeSet::new();
    for row in reader.records() {
        let row = row.map_err(|e| {
            let line = e.position().map_or(0, |p| line_at(bytes, p.byte()));
            record_err(f, &format!("ligne {line}"), format!("illisible : {e}"))
        })?;
        let rec = format!(
            "ligne {}",
            row.position().map_or(0, |p| line_at(bytes, p.byte()))
        );
        let cell = |i: usize, name: &str| -> Result<&str, ReferenceError> {
            match row.get(i).map(str::trim) {
                Some(v) if !v.is_empty() => Ok(v),
                _ => Err(record_err(
                    f,
                    &rec,
                    format!("colonne `{name}` vide (une valeur attendue)"),
                )),
            }
        };
        let dep = DepartementCode::parse(cell(c_dep, "code_departement_men")?)
            .map_err(|e| code_err(f, &rec, "code_departement_men", e))?;
        let acad = AcademieCode::parse(cell(c_acad, "code_academie")?)
            .map_err(|e| code_err(f, &rec, "code_academie", e))?;
        let acad_name = cell(c_acad_name, "libelle_academie")?;
        if acad_name.chars().any(char::is_control) {
            return Err(record_err(
                f,
                &rec,
                "colonne `libelle_academie` : caractère de contrôle",
            ));
        }
        let region_s = cell(c_region, "code_region")?;
        let Some(d) = departements.get_mut(&dep) else {
            return Err(record_err(
                f,
                &rec,
                format!("département {dep} absent de {DEPARTEMENTS_FILE}"),
            ));
        };
        if !seen.insert(dep.clone()) {
            return Err(record_err(f, &rec, format!("département {dep} en double")));
        }
        // The ministry writes `00` for every collectivité d'outre-mer: no région to check.
        if region_s != "00" {
            let region =
                RegionCode::parse(region_s).map_err(|e| code_err(f, &rec, "code_region", e))?;
            if region != d.region {
                return Err(record_err(
                    f,
                    &rec,
                    format!(
                        "colonne `code_region` : « {region} » alors que {DEPARTEMENTS_FILE} \
                         place le département {dep} dans la région {}",
                        d.region
                    ),
                ));
            }
        }
        match names.get(&acad) {
            Some(n) if n != acad_name => {
                return Err(record_err(
                    f,
                    &rec,
                    format!(
                        "colonne `libelle_academie` : l'académie {acad} s'appelle « {n} » \
                         plus haut, « {acad_name} » ici"
                    ),
                ));
            }
            Some(_) => {}
            None => {
                names.insert(acad.clone(), acad_name.to_owned());
            }
        }
        covered
            .entry(acad.clone())
            .or_default()
            .insert(d.region.clone());
        d.academie = Some(acad);
    }

    let mut out = Vec::new();
    for (code, name) in names {
        let none = BTreeSet::new();
        let all = covered.get(&code).unwrap_or(&none);
        let zone = |r: &RegionCode| regions.get(r).map(|r| r.zone);
        let main: Vec<&RegionCode> = all.iter().filter(|r| zone(r) != Some(Zone::Com)).collect();
        let found = match main.as_slice() {
            [one] => Some(((*one).clone(), AcademieKind::Academie)),
            [] if all.len() == 1 => all
                .iter()
                .next()
                .map(|r| (r.clone(), AcademieKind::ViceRectorat)),
            _ => None,
        };
        let Some((region, kind)) = found else {
            let list: Vec<&str> = all.iter().map(RegionCode::as_str).collect();
            return Err(record_err(
                f,
                &format!("académie {code}"),
                format!(
                    "ses départements sont dans plusieurs régions ({}) : une seule région \
                     académique attendue",
                    list.join(", ")
                ),
            ));
        };
        out.push(Academie {
            code,
            name,
            region,
            kind,
        });
    }
    Ok(out)
}

/// The 1-based line of the record starting at a byte offset. The csv crate's own line count
/// is one short on files with CRLF line ends (as this one is): it ends a record at `\r` and
/// starts the next at the `\n`, so line ends at the offset are skipped before counting.
fn line_at(bytes: &[u8], offset: u64) -> usize {
    let mut end = usize::try_from(offset)
        .unwrap_or(usize::MAX)
        .min(bytes.len());
    while end < bytes.len() && matches!(bytes[end], b'\r' | b'\n') {
        end += 1;
    }
    1 + bytes[..end].iter().filter(|&&b| b == b'\n').count()
}

type Communes = BTreeMap<CommuneCode, Commune>;

fn parse_communes(
    raw: Vec<RawCommune>,
    departements: &BTreeMap<DepartementCode, Departement>,
) -> Result<(Communes, Vec<FormerCode>), ReferenceError> {
    let f = COMMUNES_FILE;
    let mut communes: Communes = BTreeMap::new();
    let mut records: BTreeMap<CommuneCode, String> = BTreeMap::new();
    // Former codes listed by a current commune, then delegated or associated communes with
    // the current commune they belong to.
    let mut anciens: Vec<(CommuneCode, CommuneCode, String)> = Vec::new();
    let mut delegated: Vec<(CommuneCode, CommuneCode, String)> = Vec::new();
    for (i, c) in raw.into_iter().enumerate() {
        let rec = json_record(i, c.code.as_deref());
        let code = CommuneCode::parse(required(&c.code, "code", f, &rec)?)
            .map_err(|e| code_err(f, &rec, "code", e))?;
        let kind = required(&c.kind, "type", f, &rec)?;
        let kind = match kind {
            "commune-actuelle" => CommuneKind::Commune,
            "arrondissement-municipal" => CommuneKind::Arrondissement,
            "commune-deleguee" | "commune-associee" => {
                let current = CommuneCode::parse(required(&c.chef_lieu, "chefLieu", f, &rec)?)
                    .map_err(|e| code_err(f, &rec, "chefLieu", e))?;
                delegated.push((code, current, rec));
                continue;
            }
            other => {
                return Err(record_err(
                    f,
                    &rec,
                    format!(
                        "champ `type` : « {other} » inconnu (commune-actuelle, \
                         arrondissement-municipal, commune-deleguee ou commune-associee attendu)"
                    ),
                ));
            }
        };
        let name = required(&c.nom, "nom", f, &rec)?.to_owned();
        let dep = DepartementCode::parse(required(&c.departement, "departement", f, &rec)?)
            .map_err(|e| code_err(f, &rec, "departement", e))?;
        if dep != code.departement() {
            return Err(record_err(
                f,
                &rec,
                format!(
                    "champ `departement` : « {dep} » alors que le code de la commune le place \
                     dans le département {}",
                    code.departement()
                ),
            ));
        }
        let Some(departement) = departements.get(&dep) else {
            return Err(record_err(
                f,
                &rec,
                format!("champ `departement` : département {dep} absent de {DEPARTEMENTS_FILE}"),
            ));
        };
        let region = RegionCode::parse(required(&c.region, "region", f, &rec)?)
            .map_err(|e| code_err(f, &rec, "region", e))?;
        if region != departement.region {
            return Err(record_err(
                f,
                &rec,
                format!(
                    "champ `region` : « {region} » alors que le département {dep} est dans la \
                     région {}",
                    departement.region
                ),
            ));
        }
        let siren = match c.siren.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(s) => Some(Siren::parse(s).map_err(|e| code_err(f, &rec, "siren", e))?),
        };
        let population = population(c.population, "population", f, &rec)?;
        let mut postal_codes = Vec::with_capacity(c.codes_postaux.len());
        for p in &c.codes_postaux {
            let p = p.trim();
            if p.len() != 5 || !p.bytes().all(|b| b.is_ascii_digit()) {
                return Err(record_err(
                    f,
                    &rec,
                    format!("champ `codesPostaux` : « {p} » n'est pas un code postal (5 chiffres)"),
                ));
            }
            postal_codes.push(p.to_owned());
        }
        let parent = match kind {
            CommuneKind::Commune => None,
            CommuneKind::Arrondissement => Some(
                CommuneCode::parse(required(&c.commune, "commune", f, &rec)?)
                    .map_err(|e| code_err(f, &rec, "commune", e))?,
            ),
        };
        for a in &c.anciens_codes {
            let old = CommuneCode::parse(a).map_err(|e| code_err(f, &rec, "anciensCodes", e))?;
            anciens.push((old, code.clone(), rec.clone()));
        }
        if communes.contains_key(&code) {
            return Err(record_err(f, &rec, format!("commune {code} en double")));
        }
        records.insert(code.clone(), rec);
        communes.insert(
            code.clone(),
            Commune {
                code,
                name_folded: fold(&name),
                name,
                kind,
                parent,
                departement: dep,
                region,
                siren,
                population,
                postal_codes,
                epci: None,
            },
        );
    }

    let is_commune = |c: &CommuneCode| {
        communes
            .get(c)
            .is_some_and(|c| c.kind == CommuneKind::Commune)
    };
    for c in communes.values() {
        if let Some(parent) = &c.parent
            && !is_commune(parent)
        {
            return Err(record_err(
                f,
                records.get(&c.code).map_or("", String::as_str),
                format!("champ `commune` : {parent} n'est pas une commune actuelle du fichier"),
            ));
        }
    }

    let mut former: BTreeMap<CommuneCode, CommuneCode> = BTreeMap::new();
    // A code listed by two current communes (a former commune split between them) goes to
    // the first in code order, whatever the order of the file.
    anciens.sort();
    for (old, current, _) in anciens {
        former.entry(old).or_insert(current);
    }
    // A delegated or associated commune still exists within its current commune: that link is
    // the present one and wins over an older listing in `anciensCodes`.
    for (old, current, rec) in delegated {
        if !is_commune(&current) {
            return Err(record_err(
                f,
                &rec,
                format!("champ `chefLieu` : {current} n'est pas une commune actuelle du fichier"),
            ));
        }
        former.insert(old, current);
    }
    // Delegated communes often keep the code of their current commune: a current code is not
    // a former one.
    let former = former
        .into_iter()
        .filter(|(old, _)| !communes.contains_key(old))
        .map(|(code, current)| FormerCode { code, current })
        .collect();
    Ok((communes, former))
}

fn parse_epcis(raw: Vec<RawEpci>, communes: &mut Communes) -> Result<Vec<Epci>, ReferenceError> {
    let f = EPCI_FILE;
    let mut out: BTreeMap<Siren, Epci> = BTreeMap::new();
    for (i, e) in raw.into_iter().enumerate() {
        let rec = json_record(i, e.code.as_deref());
        let siren = Siren::parse(required(&e.code, "code", f, &rec)?)
            .map_err(|err| code_err(f, &rec, "code", err))?;
        let name = required(&e.nom, "nom", f, &rec)?.to_owned();
        let kind_s = required(&e.kind, "type", f, &rec)?;
        let kind = EpciKind::parse(kind_s).ok_or_else(|| {
            record_err(
                f,
                &rec,
                format!("champ `type` : « {kind_s} » inconnu (CC, CA, CU, METRO ou MET69 attendu)"),
            )
        })?;
        let population = population(e.population, "populationMunicipale", f, &rec)?;
        if out.contains_key(&siren) {
            return Err(record_err(f, &rec, format!("EPCI {siren} en double")));
        }
        for m in &e.membres {
            let code = CommuneCode::parse(required(&m.code, "membres[].code", f, &rec)?)
                .map_err(|err| code_err(f, &rec, "membres[].code", err))?;
            let commune = match communes.get_mut(&code) {
                Some(c) if c.kind == CommuneKind::Commune => c,
                _ => {
                    return Err(record_err(
                        f,
                        &rec,
                        format!(
                            "membre {code} : pas une commune actuelle de {COMMUNES_FILE} \
                             (code de commune actuelle attendu)"
                        ),
                    ));
                }
            };
            if let Some(other) = &commune.epci {
                return Err(record_err(
                    f,
                    &rec,
                    format!("membre {code} : commune déjà membre de l'EPCI {other}"),
                ));
            }
            commune.epci = Some(siren.clone());
        }
        out.insert(
            siren.clone(),
            Epci {
                siren,
                name,
                kind,
                population,
            },
        );
    }
    // Schools in Paris, Lyon and Marseille carry the arrondissement's code: the arrondissement
    // belongs to its commune's EPCI.
    let parents: Vec<(CommuneCode, Option<Siren>)> = communes
        .values()
        .filter_map(|c| c.parent.clone().map(|p| (c.code.clone(), p)))
        .map(|(code, parent)| (code, communes.get(&parent).and_then(|p| p.epci.clone())))
        .collect();
    for (code, epci) in parents {
        if let Some(c) = communes.get_mut(&code) {
            c.epci = epci;
        }
    }
    Ok(out.into_values().collect())
}

/// Reads a bundle section by section, checking every code again: the bundle is data, and a
/// hand-edited copy must fail as clearly as a wrong source file.
struct BundleReader<'a> {
    lines: std::iter::Enumerate<std::str::Lines<'a>>,
    file: &'a str,
}

impl<'a> BundleReader<'a> {
    fn new(text: &'a str, file: &'a str) -> Result<Self, ReferenceError> {
        let mut lines = text.lines().enumerate();
        match lines.next() {
            Some((_, BUNDLE_MAGIC)) => Ok(Self { lines, file }),
            _ => Err(record_err(
                file,
                "ligne 1",
                format!(
                    "en-tête « {} » attendu : pas un bundle de territoires de cette version",
                    BUNDLE_MAGIC.replace('\t', " ")
                ),
            )),
        }
    }

    /// The rows of the next section, as (line label, fields).
    fn section(
        &mut self,
        name: &str,
        width: usize,
    ) -> Result<Vec<(String, Vec<&'a str>)>, ReferenceError> {
        let (i, header) = self.lines.next().unwrap_or((usize::MAX - 1, ""));
        let rec = format!("ligne {}", i.saturating_add(1));
        let count = header
            .strip_prefix('#')
            .and_then(|h| h.split_once('\t'))
            .filter(|(n, _)| *n == name)
            .and_then(|(_, c)| c.parse::<usize>().ok())
            .ok_or_else(|| {
                record_err(
                    self.file,
                    &rec,
                    format!("en-tête de section « #{name} <nombre de lignes> » attendu"),
                )
            })?;
        let mut rows = Vec::with_capacity(count);
        for _ in 0..count {
            let Some((i, line)) = self.lines.next() else {
                return Err(record_err(
                    self.file,
                    "fin du fichier",
                    format!("section {name} tronquée : {count} lignes annoncées"),
                ));
            };
            let rec = format!("ligne {}", i + 1);
            let fields: Vec<&str> = line.split('\t').collect();
            if fields.len() != width {
                return Err(record_err(
                    self.file,
                    &rec,
                    format!(
                        "{} champs au lieu de {width} (section {name})",
                        fields.len()
                    ),
                ));
            }
            rows.push((rec, fields));
        }
        Ok(rows)
    }

    fn read(mut self) -> Result<TerritoryReference, ReferenceError> {
        let f = self.file;
        let text = |rec: &str, s: &str| -> Result<String, ReferenceError> {
            if s.is_empty() {
                Err(record_err(f, rec, "nom vide"))
            } else {
                Ok(s.to_owned())
            }
        };
        let number = |rec: &str, s: &str| -> Result<Option<i64>, ReferenceError> {
            opt(s)
                .map(|s| {
                    s.parse::<i64>()
                        .map_err(|_| record_err(f, rec, format!("« {s} » : un entier attendu")))
                })
                .transpose()
        };
        let bad = |rec: &str, e: CodeError| record_err(f, rec, e.to_string());
        let unknown = |rec: &str, what: &str| record_err(f, rec, format!("{what} inconnu(e)"));

        let mut regions = Vec::new();
        for (rec, r) in self.section("regions", 3)? {
            regions.push(Region {
                code: RegionCode::parse(r[0]).map_err(|e| bad(&rec, e))?,
                name: text(&rec, r[1])?,
                zone: Zone::parse(r[2]).ok_or_else(|| unknown(&rec, "zone"))?,
            });
        }
        let mut academies = Vec::new();
        for (rec, a) in self.section("academies", 4)? {
            academies.push(Academie {
                code: AcademieCode::parse(a[0]).map_err(|e| bad(&rec, e))?,
                name: text(&rec, a[1])?,
                region: RegionCode::parse(a[2]).map_err(|e| bad(&rec, e))?,
                kind: AcademieKind::parse(a[3]).ok_or_else(|| unknown(&rec, "type d'académie"))?,
            });
        }
        let mut departements = Vec::new();
        for (rec, d) in self.section("departements", 4)? {
            departements.push(Departement {
                code: DepartementCode::parse(d[0]).map_err(|e| bad(&rec, e))?,
                name: text(&rec, d[1])?,
                region: RegionCode::parse(d[2]).map_err(|e| bad(&rec, e))?,
                academie: opt(d[3])
                    .map(AcademieCode::parse)
                    .transpose()
                    .map_err(|e| bad(&rec, e))?,
            });
        }
        let mut epcis = Vec::new();
        for (rec, e) in self.section("epcis", 4)? {
            epcis.push(Epci {
                siren: Siren::parse(e[0]).map_err(|err| bad(&rec, err))?,
                name: text(&rec, e[1])?,
                kind: EpciKind::parse(e[2]).ok_or_else(|| unknown(&rec, "type d'EPCI"))?,
                population: number(&rec, e[3])?,
            });
        }
        let region_of: BTreeMap<&DepartementCode, &RegionCode> =
            departements.iter().map(|d| (&d.code, &d.region)).collect();
        let mut communes = Vec::new();
        for (rec, c) in self.section("communes", 7)? {
            let code = CommuneCode::parse(c[0]).map_err(|e| bad(&rec, e))?;
            let departement = code.departement();
            let region = (*region_of
                .get(&departement)
                .ok_or_else(|| unknown(&rec, "département"))?)
            .clone();
            let parent = opt(c[2])
                .map(CommuneCode::parse)
                .transpose()
                .map_err(|e| bad(&rec, e))?;
            let name = text(&rec, c[1])?;
            communes.push(Commune {
                name_folded: fold(&name),
                name,
                kind: if parent.is_some() {
                    CommuneKind::Arrondissement
                } else {
                    CommuneKind::Commune
                },
                parent,
                departement,
                region,
                siren: opt(c[3])
                    .map(Siren::parse)
                    .transpose()
                    .map_err(|e| bad(&rec, e))?,
                population: number(&rec, c[4])?,
                postal_codes: c[5].split_whitespace().map(str::to_owned).collect(),
                epci: opt(c[6])
                    .map(Siren::parse)
                    .transpose()
                    .map_err(|e| bad(&rec, e))?,
                code,
            });
        }
        let mut former_codes = Vec::new();
        for (rec, r) in self.section("former_codes", 2)? {
            former_codes.push(FormerCode {
                code: CommuneCode::parse(r[0]).map_err(|e| bad(&rec, e))?,
                current: CommuneCode::parse(r[1]).map_err(|e| bad(&rec, e))?,
            });
        }
        let reference = TerritoryReference {
            regions,
            academies,
            departements,
            communes,
            epcis,
            former_codes,
        };
        reference.check_sorted(f)?;
        Ok(reference)
    }
}

impl TerritoryReference {
    /// Lookups search by code: every list must be strictly increasing.
    fn check_sorted(&self, file: &str) -> Result<(), ReferenceError> {
        fn strictly<T, K: Ord>(
            items: &[T],
            key: impl Fn(&T) -> &K,
            section: &str,
            file: &str,
        ) -> Result<(), ReferenceError> {
            match items.windows(2).position(|w| key(&w[0]) >= key(&w[1])) {
                None => Ok(()),
                Some(i) => Err(record_err(
                    file,
                    &format!("section {section}, ligne {} de la section", i + 2),
                    "codes non triés ou en double (ordre croissant strict attendu)",
                )),
            }
        }
        strictly(&self.regions, |r| &r.code, "regions", file)?;
        strictly(&self.academies, |a| &a.code, "academies", file)?;
        strictly(&self.departements, |d| &d.code, "departements", file)?;
        strictly(&self.epcis, |e| &e.siren, "epcis", file)?;
        strictly(&self.communes, |c| &c.code, "communes", file)?;
        strictly(&self.former_codes, |c| &c.code, "former_codes", file)
    }
}
