//! The DCAT-AP description of the published dataset (JSON-LD), which data.gouv.fr and other
//! portals harvest: the dataset, its distributions (one per export format) and its versions.

use chrono::{DateTime, SecondsFormat, Utc};
use sea_orm::{ConnectionTrait, DbErr};
use serde_json::{Value, json};

use crate::{
    domain::export::{DATASET_TITLE, ExportFormat, LICENCE_TITLE, LICENCE_URL},
    services::datasets,
};

const DESCRIPTION_FR: &str = "Données ouvertes sur le numérique éducatif dans les écoles, \
collèges et lycées français, une ligne par établissement (identifié par son code UAI), selon \
cinq thèmes : l'établissement, la connectivité, l'équipement, les services et ressources \
numériques, les expérimentations (et les politiques BYOD). Les données proviennent de \
l'annuaire de l'Éducation nationale, de l'enquête ETIC, de l'Arcep, de l'Observatoire France \
THD, et des contributions des collectivités et académies relues par des modérateurs. Chaque \
valeur porte sa provenance ; chaque publication crée une version immuable, exportable à tout \
moment.";

/// The publisher named in the catalogue: the body that launched eCarto.
const PUBLISHER_NAME: &str = "Banque des Territoires (Caisse des Dépôts)";

const KEYWORDS_FR: [&str; 8] = [
    "éducation",
    "numérique éducatif",
    "établissements scolaires",
    "écoles",
    "collèges",
    "lycées",
    "connectivité",
    "équipement numérique",
];

fn fr(text: &str) -> Value {
    json!({"@value": text, "@language": "fr"})
}

fn datetime(d: &DateTime<Utc>) -> Value {
    json!({"@value": d.to_rfc3339_opts(SecondsFormat::Secs, true), "@type": "xsd:dateTime"})
}

fn iri(s: impl Into<String>) -> Value {
    json!({"@id": s.into()})
}

fn licence() -> Value {
    json!({"@id": LICENCE_URL, "@type": "dct:LicenseDocument", "dct:title": fr(LICENCE_TITLE)})
}

/// One distribution per format. `version: None` points at the latest version, whose URL
/// never changes, which is what a harvester should keep.
fn distributions(base: &str, version: Option<i32>) -> Vec<Value> {
    ExportFormat::ALL
        .into_iter()
        .map(|f| {
            let url = match version {
                Some(n) => format!(
                    "{base}/api/v1/exports/schools.{}?version={n}",
                    f.extension()
                ),
                None => format!("{base}/api/v1/exports/schools.{}", f.extension()),
            };
            let title = match version {
                Some(n) => format!("Établissements, version {n} ({})", f.eu_file_type()),
                None => format!("Établissements, dernière version ({})", f.eu_file_type()),
            };
            json!({
                "@id": url,
                "@type": "dcat:Distribution",
                "dct:title": fr(&title),
                "dcat:accessURL": iri(&url),
                "dcat:downloadURL": iri(&url),
                "dcat:mediaType": iri(format!(
                    "https://www.iana.org/assignments/media-types/{}", f.media_type()
                )),
                "dct:format": iri(format!(
                    "http://publications.europa.eu/resource/authority/file-type/{}",
                    f.eu_file_type()
                )),
                "dct:license": licence(),
            })
        })
        .collect()
}

/// The catalogue as a JSON-LD document. `base_url` is the platform's public address.
pub async fn catalogue<C: ConnectionTrait>(db: &C, base_url: &str) -> Result<Value, DbErr> {
    let base = base_url.trim_end_matches('/');
    let catalogue_id = format!("{base}/api/v1/catalog.jsonld");
    let dataset_id = format!("{catalogue_id}#etablissements");
    // Newest first; the table holds one small row per publication.
    let versions = datasets::versions(db).await?;

    let mut dataset = json!({
        "@id": dataset_id,
        "@type": "dcat:Dataset",
        "dct:identifier": dataset_id,
        "dct:title": fr(DATASET_TITLE),
        "dct:description": fr(DESCRIPTION_FR),
        "dct:publisher": {"@type": "foaf:Agent", "foaf:name": PUBLISHER_NAME},
        "dcat:contactPoint": {"@type": "vcard:Organization", "vcard:fn": "eCarto contributions", "vcard:hasURL": iri(format!("{base}/"))},
        "dcat:landingPage": iri(format!("{base}/")),
        "dct:license": licence(),
        "dct:accessRights": iri("http://publications.europa.eu/resource/authority/access-right/PUBLIC"),
        "dct:accrualPeriodicity": iri("http://publications.europa.eu/resource/authority/frequency/IRREG"),
        "dcat:theme": [
            iri("http://publications.europa.eu/resource/authority/data-theme/EDUC"),
            iri("http://publications.europa.eu/resource/authority/data-theme/TECH"),
        ],
        "dcat:keyword": KEYWORDS_FR.iter().map(|k| fr(k)).collect::<Vec<_>>(),
        "dct:spatial": iri("http://publications.europa.eu/resource/authority/country/FRA"),
        "dct:language": iri("http://publications.europa.eu/resource/authority/language/FRA"),
        "dcat:distribution": distributions(base, None),
    });
    if let (Some(first), Some(latest)) = (versions.last(), versions.first()) {
        let d = dataset.as_object_mut();
        if let Some(d) = d {
            d.insert("dct:issued".into(), datetime(&first.created_at));
            d.insert("dct:modified".into(), datetime(&latest.created_at));
            // `owl:versionInfo` for DCAT-AP 2 harvesters, `dcat:version` for DCAT-AP 3.
            d.insert("owl:versionInfo".into(), latest.version.to_string().into());
            d.insert("dcat:version".into(), latest.version.to_string().into());
            let has_version: Vec<Value> = versions
                .iter()
                .map(|v| {
                    json!({
                        "@id": format!("{catalogue_id}#etablissements-v{}", v.version),
                        "@type": "dcat:Dataset",
                        "dct:title": fr(&format!("{DATASET_TITLE} — version {}", v.version)),
                        "dct:description": fr(&format!(
                            "Le jeu de données tel que publié dans sa version {} : {} établissement(s) ajouté(s), {} modifié(s), {} valeur(s) changée(s).",
                            v.version, v.schools_created, v.schools_changed, v.values_changed
                        )),
                        "owl:versionInfo": v.version.to_string(),
                        "dcat:version": v.version.to_string(),
                        "adms:versionNotes": fr(&v.summary),
                        "dct:issued": datetime(&v.created_at),
                        "dcat:isVersionOf": iri(&dataset_id),
                        "dct:license": licence(),
                        "dcat:distribution": distributions(base, Some(v.version)),
                    })
                })
                .collect();
            d.insert("dcat:hasVersion".into(), has_version.into());
        }
    }

    let mut catalogue = json!({
        "@context": {
            "dcat": "http://www.w3.org/ns/dcat#",
            "dct": "http://purl.org/dc/terms/",
            "foaf": "http://xmlns.com/foaf/0.1/",
            "owl": "http://www.w3.org/2002/07/owl#",
            "adms": "http://www.w3.org/ns/adms#",
            "vcard": "http://www.w3.org/2006/vcard/ns#",
            "xsd": "http://www.w3.org/2001/XMLSchema#"
        },
        "@id": catalogue_id,
        "@type": "dcat:Catalog",
        "dct:title": fr("Catalogue des données ouvertes d'eCarto contributions"),
        "dct:description": fr("Les jeux de données publiés par la plateforme eCarto contributions."),
        "dct:publisher": {"@type": "foaf:Agent", "foaf:name": PUBLISHER_NAME},
        "dct:license": licence(),
        "foaf:homepage": iri(format!("{base}/")),
        "dct:language": iri("http://publications.europa.eu/resource/authority/language/FRA"),
        "dcat:dataset": [dataset],
    });
    if let (Some(latest), Some(c)) = (versions.first(), catalogue.as_object_mut()) {
        c.insert("dct:modified".into(), datetime(&latest.created_at));
    }
    Ok(catalogue)
}
