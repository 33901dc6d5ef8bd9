//! The OpenAPI 3.1 document of the public API. The schema of a school's fields is generated
//! from the catalogue, so the documentation cannot drift from what is stored and exported.

use axum::{Json, Router, extract::State, routing::get};
use serde_json::{Map, Value, json};

use crate::{
    app::AppState,
    domain::catalog::{Catalog, Field, FieldType},
};

pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/openapi.json", get(openapi))
}

async fn openapi(State(state): State<AppState>) -> Json<Value> {
    let mut doc = document(&state.config.public_base_url);
    for more in [identity_paths(), scores_paths()] {
        if let (Some(paths), Value::Object(more)) = (doc["paths"].as_object_mut(), more) {
            paths.extend(more);
        }
    }
    doc["components"]["securitySchemes"] = json!({
        "bearerAuth": {"type": "http", "scheme": "bearer", "description": "Jeton d'API personnel (ecarto_…), créé par POST /api/v1/me/tokens ou `ecarto tokens create`"},
        "sessionCookie": {"type": "apiKey", "in": "cookie", "name": "ecarto_session", "description": "Session du navigateur ; les requêtes qui modifient envoient aussi l'en-tête X-CSRF-Token donné par GET /api/v1/me"}
    });
    Json(doc)
}

/// The signed-in part of the API: the person, their tokens and requests, and administration.
fn identity_paths() -> Value {
    let secured = json!([{"bearerAuth": []}, {"sessionCookie": []}]);
    let denied = json!({
        "401": {"description": "Non connecté, ou jeton inconnu ou révoqué"},
        "403": {"description": "Rôle insuffisant, ou jeton CSRF manquant (session)"}
    });
    let op = |tag: &str, summary: &str, responses: Value| {
        let mut r = denied.clone();
        if let (Some(r), Some(extra)) = (r.as_object_mut(), responses.as_object()) {
            r.extend(extra.clone());
        }
        json!({"tags": [tag], "summary": summary, "security": secured, "responses": r})
    };
    let id = param("id", "path", "Identifiant", json!({"type": "integer"}));
    let mut competence = op(
        "identité",
        "Puis-je contribuer ce schéma pour cet établissement ? La réponse et sa raison",
        json!({"200": {"description": "{uai, schema, allowed, reason, competence_id}"}, "400": {"description": "uai ou schema manquant ou invalide"}, "404": {"description": "UAI absent du registre"}}),
    );
    competence["parameters"] = json!([
        param(
            "uai",
            "query",
            "UAI de l'établissement",
            json!({"type": "string"})
        ),
        param(
            "schema",
            "query",
            "Schéma (nom ou nom@vN)",
            json!({"type": "string"})
        )
    ]);
    let mut revoke = op(
        "identité",
        "Révoquer un de ses jetons",
        json!({"200": {"description": "Le jeton révoqué"}, "404": {"description": "Jeton inconnu (ou d'une autre personne)"}}),
    );
    revoke["parameters"] = json!([id.clone()]);
    let with_id = |mut o: Value| {
        o["parameters"] = json!([id.clone()]);
        o
    };
    json!({
        "/api/v1/auth/magic-link": {"post": {"tags": ["identité"], "summary": "Recevoir un lien de connexion par e-mail ({email, return_to}) ; même réponse que l'adresse ait un compte ou non", "responses": {"202": {"description": "Lien envoyé si l'adresse peut se connecter"}, "400": {"description": "Adresse invalide"}, "429": {"description": "Trop de demandes"}}}},
        "/api/v1/me": {"get": op("identité", "La personne connectée : organisation, rôles, compétence (lignes et phrases), territoires de modération, jeton CSRF", json!({"200": {"description": "La personne"}}))},
        "/api/v1/me/competence": {"get": competence},
        "/api/v1/me/tokens": {
            "get": op("identité", "Ses jetons d'API (sans le secret), avec leur dernière utilisation", json!({"200": {"description": "Les jetons"}})),
            "post": op("identité", "Créer un jeton d'API ({name}) : le secret n'est donné qu'ici", json!({"201": {"description": "{token, secret}"}}))
        },
        "/api/v1/me/tokens/{id}": {"delete": revoke},
        "/api/v1/me/access-requests": {
            "get": op("identité", "Ses demandes d'accès et leur décision", json!({"200": {"description": "Les demandes"}})),
            "post": op("identité", "Demander à rejoindre son organisation ({siret, message})", json!({"201": {"description": "La demande"}, "409": {"description": "Déjà membre, ou une demande attend déjà"}}))
        },
        "/api/v1/admin/organisations": {
            "get": op("administration", "Les organisations", json!({"200": {"description": "La liste"}})),
            "post": op("administration", "Créer une organisation ({siren?, kind, name, territory})", json!({"201": {"description": "L'organisation"}}))
        },
        "/api/v1/admin/organisations/{id}": {
            "get": with_id(op("administration", "Une organisation et sa compétence", json!({"200": {"description": "L'organisation"}}))),
            "patch": with_id(op("administration", "Changer le SIREN ou la compétence scolaire d'un EPCI ({siren?, school_competence?})", json!({"200": {"description": "L'organisation"}})))
        },
        "/api/v1/admin/organisations/{id}/competences": {"post": with_id(op("administration", "Ajouter une ligne de compétence : dérogation, délégation (delegated_by, valid_from, valid_until) ou exclusion (effect: exclude)", json!({"201": {"description": "L'organisation"}})))},
        "/api/v1/admin/competences/{id}": {"delete": with_id(op("administration", "Supprimer une ligne de compétence", json!({"204": {"description": "Supprimée"}})))},
        "/api/v1/admin/users": {
            "get": op("administration", "Les personnes, leurs rôles et territoires", json!({"200": {"description": "La liste"}})),
            "post": op("administration", "Donner des rôles, une organisation, des territoires de modération ({email, organisation?, roles, territories})", json!({"200": {"description": "La personne"}}))
        },
        "/api/v1/admin/users/{id}/roles/{role}": {"delete": op("administration", "Retirer un rôle", json!({"204": {"description": "Retiré"}}))},
        "/api/v1/admin/access-requests": {"get": op("administration", "Les demandes d'accès (?status=pending)", json!({"200": {"description": "La liste"}}))},
        "/api/v1/admin/access-requests/{id}/decision": {"post": with_id(op("administration", "Décider d'une demande : {decision: approve, organisation} ou {decision: refuse, reason}", json!({"200": {"description": "La décision"}, "409": {"description": "Déjà traitée"}})))},
        "/api/v1/admin/audit": {"get": op("administration", "Le journal d'audit (?limit=)", json!({"200": {"description": "Les événements, du plus récent"}}))},
        "/api/v1/submissions": {
            "get": op("contributions", "Ses envois (?mine=true) ou ceux de son organisation (?organisation=true)", json!({"200": {"description": "Les envois"}})),
            "post": op("contributions", "Envoyer un fichier : multipart (schema, file, supersedes) ou corps brut (?schema=&filename=) ; en-tête Idempotency-Key", json!({"201": {"description": "L'envoi, ligne par ligne"}, "200": {"description": "Le même envoi, déjà reçu"}, "413": {"description": "Trop volumineux"}, "422": {"description": "Fichier inutilisable"}}))
        },
        "/api/v1/submissions/{id}": {"get": with_id(op("contributions", "Un envoi : lignes, rapport, décisions, différences avec les valeurs publiées et leur provenance", json!({"200": {"description": "L'envoi"}, "404": {"description": "Inconnu ou non visible"}})))},
        "/api/v1/submissions/{id}/withdraw": {"post": with_id(op("contributions", "Retirer son envoi avant décision", json!({"200": {"description": "Retiré"}, "409": {"description": "Déjà décidé"}})))},
        "/api/v1/submissions/{id}/claim": {"post": with_id(op("relecture", "Prendre un envoi à relire", json!({"200": {"description": "Pris"}, "409": {"description": "Déjà pris"}})))},
        "/api/v1/submissions/{id}/decision": {"post": with_id(op("relecture", "Décider : {decision: accept|reject|request_changes, rows?, fields?, reason, conflicts?: take_proposed|keep_published}", json!({"200": {"description": "La décision et la version publiée"}, "409": {"description": "Déjà décidé, ou conflits à trancher"}})))},
        "/api/v1/submissions/{id}/revert": {"post": with_id(op("relecture", "Annuler un envoi publié ({reason}) : une nouvelle version remet les valeurs remplacées", json!({"200": {"description": "La version d'annulation"}})))},
        "/api/v1/reviews": {"get": op("relecture", "La file de relecture des territoires du modérateur (?status=&schema=&territory=&organisation=&older_than=)", json!({"200": {"description": "Les envois, du plus ancien"}}))},
        "/api/v1/harvest/sources": {
            "get": op("moissonnage", "Les fichiers moissonnés de son organisation, avec le compte rendu de leurs dernières récoltes", json!({"200": {"description": "Les sources"}})),
            "post": op("moissonnage", "Déclarer un fichier publié sur son portail ({url, schema, label?}) : http(s), adresse publique", json!({"201": {"description": "La source"}, "400": {"description": "Adresse ou schéma refusé, avec la raison"}, "403": {"description": "Réservé aux contributeurs d'une organisation"}}))
        },
        "/api/v1/harvest/sources/{id}": {
            "get": with_id(op("moissonnage", "Une source et ses récoltes (submitted, unchanged, invalid, unreachable)", json!({"200": {"description": "La source"}, "404": {"description": "Inconnue ou d'une autre organisation"}}))),
            "delete": with_id(op("moissonnage", "Arrêter de moissonner une source (son historique reste)", json!({"200": {"description": "La source, inactive"}})))
        },
        "/api/v1/harvest/sources/{id}/run": {"post": with_id(op("moissonnage", "Récolter la source maintenant", json!({"200": {"description": "La source et le compte rendu"}, "409": {"description": "Source inactive"}})))},
        "/api/v1/experimentations": {"get": {"tags": ["contributions"], "summary": "Les expérimentations locales publiées, avec leurs établissements (?territory=departement:35)", "responses": {"200": {"description": "La liste"}, "400": {"description": "Territoire invalide"}}}}
    })
}

/// The scores of a territory beyond its completeness: history, quality, indicators, to-do.
fn scores_paths() -> Value {
    let ok = |description: &str| json!({"200": {"description": description, "content": {"application/json": {}, "text/csv": {}}}});
    json!({
            "/api/v1/territories/{level}/{code}/completeness/history": {"get": {
                "tags": ["territoires"],
                "summary": "La complétude d'un territoire au fil des calculs : un point par calcul qui l'a changée, avec sa version du jeu publié (pour une commune, recalculée des versions du jeu publié que chaque calcul a vues, au jour de ce calcul)",
                "parameters": scores_params(),
                "responses": ok("Les points")
            }},
            "/api/v1/territories/{level}/{code}/quality": {"get": {
                "tags": ["territoires"],
                "summary": "Qualité d'un territoire : valeurs invalides, anciennes, non datées ; établissements incohérents (règles entre champs) ; établissements ayant reçu une contribution ; par champ et par règle, avec les effectifs",
                "parameters": scores_params(),
                "responses": ok("La qualité")
            }},
            "/api/v1/territories/{level}/{code}/indicators": {"get": {
                "tags": ["territoires"],
                "summary": "Les indicateurs de l'état des lieux 2018 (accès internet, classes connectées, élèves par terminal, TNI, ENT, expérimentations…), chacun avec numérateur, dénominateur, répondants, attendus et taux de non-communiqué, en tout et par type",
                "parameters": scores_params(),
                "responses": ok("Les indicateurs")
            }},
            "/api/v1/territories/{level}/{code}/missing": {"get": {
                "tags": ["territoires"],
                "summary": "Les établissements auxquels manque une valeur attendue, et lesquelles (?field=&theme=&type=&secteur=) ; pour un membre d'une organisation, ceux pour lesquels elle peut contribuer",
                "parameters": scores_params(),
                "responses": ok("La liste à compléter")
            }}
    })
}

/// The parameters of the scores routes: the territory and the filters.
fn scores_params() -> Value {
    json!([
        param(
            "level",
            "path",
            "national, region, academie, departement, commune ou epci",
            json!({"type": "string"})
        ),
        param(
            "code",
            "path",
            "Code du territoire",
            json!({"type": "string"})
        ),
        param("theme", "query", "Un thème", json!({"type": "string"})),
        param(
            "field",
            "query",
            "Un champ du catalogue",
            json!({"type": "string"})
        ),
        param(
            "type",
            "query",
            "ecole, college, lycee, erea, autre",
            json!({"type": "string"})
        ),
        param(
            "secteur",
            "query",
            "public ou prive",
            json!({"type": "string"})
        ),
        param(
            "format",
            "query",
            "json (défaut) ou csv",
            json!({"type": "string", "enum": ["json", "csv"]})
        ),
        param(
            "at",
            "query",
            "Une date, un instant ou une version (v12) ; pas pour history ni missing",
            json!({"type": "string"})
        )
    ])
}

fn field_schema(f: &Field) -> Value {
    let mut s = match f.field_type {
        FieldType::Integer => json!({"type": "integer", "minimum": 0}),
        FieldType::Number => json!({"type": "number"}),
        FieldType::Boolean => json!({"type": "boolean"}),
        FieldType::Date => json!({"type": "string", "format": "date"}),
        FieldType::List => json!({"type": "array", "items": {"type": "string"}}),
        FieldType::Enum | FieldType::Band => json!({"type": "string", "enum": f.allowed}),
        FieldType::Uai => json!({"type": "string", "pattern": "^[0-9]{7}[A-Z]$"}),
        _ => json!({"type": "string"}),
    };
    let unit = if f.values_or_unit.is_empty()
        || matches!(f.field_type, FieldType::Enum | FieldType::Band)
    {
        String::new()
    } else {
        format!(" ({})", f.values_or_unit)
    };
    s["description"] = json!(format!(
        "{}{unit}. Thème : {}. Source : {}.",
        f.label_fr,
        f.theme.code(),
        f.source
    ));
    s
}

fn param(name: &str, location: &str, description: &str, schema: Value) -> Value {
    json!({"name": name, "in": location, "required": location == "path", "description": description, "schema": schema})
}

fn problem_responses() -> Value {
    let problem =
        json!({"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}});
    json!({
        "400": {"description": "Paramètre invalide (chaque erreur est listée)", "content": problem},
        "404": {"description": "Introuvable", "content": problem}
    })
}

fn ok(description: &str, content: Value) -> Value {
    let mut r = problem_responses();
    r["200"] = json!({"description": description, "content": content});
    r
}

fn json_ref(name: &str) -> Value {
    json!({"application/json": {"schema": {"$ref": format!("#/components/schemas/{name}")}}})
}

pub fn document(base_url: &str) -> Value {
    let catalog = Catalog::get();
    let mut school_props = Map::new();
    for f in catalog.fields() {
        school_props.insert(f.name.to_owned(), field_schema(f));
    }
    let version_param = param(
        "version",
        "query",
        "Numéro de version du jeu de données (par défaut : la dernière)",
        json!({"type": "integer", "minimum": 1}),
    );
    let include_param = param(
        "include",
        "query",
        "absent : aussi les établissements que l'annuaire ne liste pas (absents de son dernier import, ou jamais listés : connus d'une autre source seulement)",
        json!({"type": "string", "enum": ["absent"]}),
    );
    let export = |media: &str, description: &str| {
        json!({
            "get": {
                "tags": ["exports"],
                "summary": description,
                "parameters": [version_param.clone(), include_param.clone()],
                "responses": {
                    "200": {"description": "Le fichier, en flux ; ETag stable pour une version donnée. Par défaut, la liste officielle : les établissements que l'annuaire liste à cette version", "content": {media: {}}},
                    "304": {"description": "Inchangé (If-None-Match)"},
                    "400": {"description": "Version invalide"},
                    "404": {"description": "Version inconnue"}
                }
            }
        })
    };
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "eCarto contributions — API publique",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Les données ouvertes du numérique éducatif, établissement par établissement, avec la provenance de chaque valeur. Lecture sans authentification.",
            "license": {"name": "Licence Ouverte / Open Licence 2.0", "url": "https://www.etalab.gouv.fr/licence-ouverte-open-licence"}
        },
        "servers": [{"url": base_url}],
        "paths": {
            "/healthz": {"get": {"tags": ["exploitation"], "summary": "Le processus répond", "responses": {"200": {"description": "ok"}}}},
            "/readyz": {"get": {"tags": ["exploitation"], "summary": "La base de données répond", "responses": {"200": {"description": "prêt"}, "500": {"description": "base injoignable"}}}},
            "/api/v1/fields": {"get": {"tags": ["catalogue"], "summary": "Le catalogue des champs publiés", "responses": {"200": {"description": "Les champs, dans l'ordre des exports"}}}},
            "/api/v1/schools": {"get": {
                "tags": ["établissements"],
                "summary": "Rechercher des établissements (les filtres se combinent)",
                "parameters": [
                    param("region", "query", "Code INSEE de région (ex. 53)", json!({"type": "string"})),
                    param("academie", "query", "Code d'académie du ministère (ex. 14)", json!({"type": "string"})),
                    param("departement", "query", "Code de département INSEE (35, 2A) ou du ministère (035, 02A)", json!({"type": "string"})),
                    param("commune", "query", "Code INSEE de commune (Paris, Lyon, Marseille : avec leurs arrondissements)", json!({"type": "string"})),
                    param("type", "query", "Type d'établissement", json!({"type": "string", "enum": catalog.field("type_etablissement").map(|f| f.allowed.clone()).unwrap_or_default()})),
                    param("secteur", "query", "Secteur", json!({"type": "string", "enum": ["public", "prive"]})),
                    param("q", "query", "Recherche dans le nom, sans tenir compte de la casse ni des accents, ou début de code UAI", json!({"type": "string"})),
                    include_param.clone(),
                    param("page", "query", "Page (à partir de 1)", json!({"type": "integer", "minimum": 1})),
                    param("per_page", "query", "Résultats par page (1 à 500, 50 par défaut)", json!({"type": "integer", "minimum": 1, "maximum": 500}))
                ],
                "responses": ok("Une page de résultats et le nombre total", json_ref("SchoolPage"))
            }},
            "/api/v1/schools/{uai}": {"get": {
                "tags": ["établissements"],
                "summary": "Toutes les valeurs publiées d'un établissement, par thème, avec leur provenance",
                "parameters": [param("uai", "path", "Code UAI (7 chiffres et la lettre clé)", json!({"type": "string"}))],
                "responses": ok("L'établissement", json_ref("SchoolDetail"))
            }},
            "/api/v1/territories/national": {"get": {
                "tags": ["territoires"], "summary": "Le territoire national", "responses": ok("Le territoire", json_ref("Territory"))
            }},
            "/api/v1/territories/{level}/{code}": {"get": {
                "tags": ["territoires"],
                "summary": "Un territoire : nom, parents, enfants, établissements par type et secteur",
                "parameters": [
                    param("level", "path", "Niveau", json!({"type": "string", "enum": ["national", "region", "academie", "departement", "commune", "epci"]})),
                    param("code", "path", "Code du territoire (INSEE ; académie : code du ministère ; EPCI : SIREN)", json!({"type": "string"}))
                ],
                "responses": ok("Le territoire", json_ref("Territory"))
            }},
            "/api/v1/territories/{level}/{code}/completeness": {"get": {
                "tags": ["territoires"],
                "summary": "Complétude d'un territoire : valeurs renseignées / attendues (expected_for du catalogue) en tout, par thème, type, secteur et champ, avec leurs effectifs",
                "parameters": [
                    param("level", "path", "region, academie, departement, commune ou epci", json!({"type": "string"})),
                    param("code", "path", "Code du territoire", json!({"type": "string"})),
                    param("theme", "query", "Un thème", json!({"type": "string"})),
                    param("field", "query", "Un champ du catalogue", json!({"type": "string"})),
                    param("type", "query", "ecole, college, lycee, erea, autre", json!({"type": "string"})),
                    param("secteur", "query", "public ou prive", json!({"type": "string"})),
                    param("format", "query", "json (défaut) ou csv (par champ)", json!({"type": "string", "enum": ["json", "csv"]})),
                    param("at", "query", "Les scores tels qu'ils étaient : une date (2026-11-30), un instant RFC 3339 ou une version du jeu publié (v12)", json!({"type": "string"}))
                ],
                "responses": ok("Les scores (basis : calcul stocké ou calculé à la demande)", json!({"application/json": {}, "text/csv": {}}))
            }},
            "/api/v1/datasets/versions": {"get": {
                "tags": ["versions"], "summary": "Les versions publiées du jeu de données, la plus récente d'abord",
                "responses": {"200": {"description": "Les versions"}}
            }},
            "/api/v1/datasets/versions/{n}/changes": {"get": {
                "tags": ["versions"],
                "summary": "Le journal des modifications d'une version : quels champs de quels établissements, de quoi à quoi",
                "parameters": [
                    param("n", "path", "Numéro de version", json!({"type": "integer"})),
                    param("page", "query", "Page (par établissement)", json!({"type": "integer", "minimum": 1})),
                    param("per_page", "query", "Établissements par page (1 à 1000)", json!({"type": "integer"}))
                ],
                "responses": ok("Les modifications", json!({"application/json": {}}))
            }},
            "/api/v1/datasets/changes": {"get": {
                "tags": ["versions"],
                "summary": "Ce qui a changé entre deux versions : la valeur de chaque champ dans l'une et dans l'autre, quelles que soient les versions intermédiaires",
                "parameters": [
                    param("from", "query", "Version de départ", json!({"type": "integer"})),
                    param("to", "query", "Version d'arrivée, plus récente", json!({"type": "integer"})),
                    param("page", "query", "Page (par établissement)", json!({"type": "integer", "minimum": 1})),
                    param("per_page", "query", "Établissements par page (1 à 1000)", json!({"type": "integer"}))
                ],
                "responses": ok("Les modifications", json!({"application/json": {}}))
            }},
            "/api/v1/exports/schools.csv": export("text/csv", "Export CSV (UTF-8, séparateur ;, une colonne par champ du catalogue)"),
            "/api/v1/exports/schools.json": export("application/json", "Export JSON"),
            "/api/v1/exports/schools.geojson": export("application/geo+json", "Export GeoJSON"),
            "/api/v1/catalog.jsonld": {"get": {"tags": ["exports"], "summary": "Description DCAT-AP du jeu de données et de ses distributions (moissonnage data.gouv.fr)", "responses": {"200": {"description": "JSON-LD", "content": {"application/ld+json": {}}}}}},
            "/api/v1/openapi.json": {"get": {"tags": ["exploitation"], "summary": "Ce document", "responses": {"200": {"description": "OpenAPI 3.1"}}}},
            "/api/v1/schemas": {"get": {"tags": ["schémas"], "summary": "Les schémas de contribution (dernière version de chacun, avec les liens)", "responses": {"200": {"description": "La liste"}}}},
            "/api/v1/schemas/{name}": {"get": {"tags": ["schémas"], "summary": "Les versions d'un schéma", "parameters": [param("name", "path", "Nom du schéma (ex. inventaire-equipement)", json!({"type": "string"}))], "responses": ok("Les versions", json!({"application/json": {}}))}},
            "/api/v1/schemas/{name}/{version}": {"get": {"tags": ["schémas"], "summary": "Le schéma JSON (2020-12) d'une version", "parameters": [param("name", "path", "Nom du schéma", json!({"type": "string"})), param("version", "path", "v1, v2…", json!({"type": "string"}))], "responses": ok("Le schéma", json!({"application/schema+json": {}}))}},
            "/api/v1/schemas/{name}/{version}/table-schema.json": {"get": {"tags": ["schémas"], "summary": "Le Table Schema généré (convention schema.data.gouv.fr)", "parameters": [param("name", "path", "Nom du schéma", json!({"type": "string"})), param("version", "path", "v1, v2…", json!({"type": "string"}))], "responses": ok("Table Schema", json!({"application/json": {}}))}},
            "/api/v1/schemas/{name}/{version}/template.csv": {"get": {"tags": ["schémas"], "summary": "Un modèle CSV : les en-têtes et une ligne d'exemple", "parameters": [param("name", "path", "Nom du schéma", json!({"type": "string"})), param("version", "path", "v1, v2…", json!({"type": "string"}))], "responses": ok("Le modèle", json!({"text/csv": {}}))}},
            "/api/v1/schemas/{name}/{version}/template.xlsx": {"get": {"tags": ["schémas"], "summary": "Le même modèle en classeur XLSX : la description de chaque colonne en note, une liste déroulante sur les colonnes codées", "parameters": [param("name", "path", "Nom du schéma", json!({"type": "string"})), param("version", "path", "v1, v2…", json!({"type": "string"}))], "responses": ok("Le modèle", json!({"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {}}))}},
            "/api/v1/validate/{schema}": {"post": {
                "tags": ["schémas"],
                "summary": "Vérifier un fichier avant de l'envoyer (sans authentification) : CSV, XLSX ou JSON, en multipart (champ file) ou en corps brut",
                "parameters": [
                    param("schema", "path", "nom ou nom@vN", json!({"type": "string"})),
                    param("format", "query", "Forme du rapport : json (défaut), html, csv ou xlsx (le fichier annoté)", json!({"type": "string", "enum": ["json", "html", "csv", "xlsx"]})),
                    param("filename", "query", "Nom du fichier, pour un corps brut", json!({"type": "string"}))
                ],
                "requestBody": {"content": {"multipart/form-data": {}, "text/csv": {}, "application/json": {}, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {}}},
                "responses": {
                    "200": {"description": "Le rapport : chaque erreur et avertissement avec sa ligne, sa colonne, la cellule, la règle et un message en français", "content": {"application/json": {}, "text/html": {}, "text/csv": {}}},
                    "400": {"description": "Paramètre invalide"},
                    "404": {"description": "Schéma inconnu"},
                    "413": {"description": "Fichier trop volumineux ou trop de lignes"},
                    "422": {"description": "Fichier inutilisable (binaire, archive, vide, en-tête seul…)"}
                }
            }}
        },
        "components": {"schemas": {
            "Problem": {
                "type": "object",
                "description": "RFC 9457 problem details",
                "properties": {
                    "type": {"type": "string"}, "title": {"type": "string"}, "status": {"type": "integer"}, "detail": {"type": "string"},
                    "errors": {"type": "array", "items": {"type": "object", "properties": {"pointer": {"type": "string"}, "detail": {"type": "string"}}}}
                }
            },
            "School": {"type": "object", "description": "Une ligne des exports : un établissement, une propriété par champ du catalogue", "properties": Value::Object(school_props)},
            "SchoolSummary": {"type": "object", "properties": {
                "uai": {"type": "string"}, "name": {"type": "string"}, "type_etablissement": {"type": ["string", "null"]},
                "secteur": {"type": ["string", "null"]}, "etat": {"type": ["string", "null"]}, "code_commune": {"type": ["string", "null"]},
                "code_departement": {"type": ["string", "null"]}, "code_academie": {"type": ["string", "null"]}, "code_region": {"type": ["string", "null"]},
                "latitude": {"type": ["number", "null"]}, "longitude": {"type": ["number", "null"]},
                "presence_annuaire": {"type": ["string", "null"], "enum": ["present", "absent", null], "description": "present : dans l'annuaire ; absent : un import de l'annuaire ne le liste plus ; null : jamais listé"}
            }},
            "SchoolPage": {"type": "object", "properties": {
                "total": {"type": "integer"}, "page": {"type": "integer"}, "per_page": {"type": "integer"},
                "results": {"type": "array", "items": {"$ref": "#/components/schemas/SchoolSummary"}}
            }},
            "Provenance": {"type": "object", "properties": {
                "id": {"type": "integer"}, "source": {"type": "string"}, "millesime": {"type": "string"}, "recorded_at": {"type": "string", "format": "date-time"},
                "import": {"type": "object", "properties": {"id": {"type": "integer"}, "kind": {"type": "string"}, "file_name": {"type": "string"}}},
                "submission_id": {"type": "integer"}
            }},
            "SchoolDetail": {"type": "object", "properties": {
                "uai": {"type": "string"}, "name": {"type": "string"}, "version": {"type": "integer"}, "created_version": {"type": "integer"},
                "annuaire": {"type": "object", "description": "L'établissement figure-t-il dans la liste officielle (l'annuaire de l'éducation) ? Un établissement qu'elle ne liste pas est conservé, hors complétude, listes et exports par défaut", "properties": {
                    "presence": {"type": ["string", "null"], "enum": ["present", "absent", null]},
                    "import_id": {"type": ["integer", "null"], "description": "L'import qui l'a listé, ou le premier qui ne l'a plus listé"},
                    "as_of": {"type": ["string", "null"], "description": "La date de l'annuaire qui l'a dit"},
                    "counted": {"type": "boolean", "description": "Compté dans la complétude, la qualité et les indicateurs (listé et ouvert)"},
                    "message": {"type": "string"}
                }},
                "themes": {"type": "object", "description": "thème → champ → {value, label, provenance, raw}", "additionalProperties": {"type": "object", "additionalProperties": {
                    "type": "object", "properties": {"value": {}, "label": {"type": "string"}, "provenance": {"$ref": "#/components/schemas/Provenance"}, "raw": {"type": "string", "description": "La valeur telle que la source l'a écrite, quand elle diffère du code du catalogue (ex. 50OuPlus pour 50_plus)"}}
                }}},
                "history": {"type": "array", "description": "Les valeurs publiées auparavant, la plus récente d'abord : champ, valeur, provenance, version qui l'a remplacée", "items": {"type": "object", "properties": {
                    "field": {"type": "string"}, "value": {}, "provenance": {"$ref": "#/components/schemas/Provenance"}, "replaced_in_version": {"type": "integer"}
                }}},
                "other_observations": {"type": "array", "description": "Ce qu'une source a dit et qui n'est pas publié (millésime antérieur, valeur d'une source de rang inférieur)", "items": {"type": "object", "properties": {
                    "source": {"type": "string"}, "millesime": {"type": "string"}, "import_id": {"type": "integer"}, "values": {"type": "object"},
                    "raw": {"type": "object", "description": "champ → valeur telle qu'écrite par la source, quand elle diffère du code"},
                    "unrecognised": {"type": "object", "description": "champ → code qu'aucune orthographe connue ne reconnaît : conservé tel quel, non publié"}
                }}},
                "completeness": {"type": "object", "description": "Valeurs renseignées / attendues (selon expected_for du catalogue), en tout et par thème, et les champs attendus encore vides", "properties": {
                    "total": {"$ref": "#/components/schemas/Score"},
                    "by_theme": {"type": "object", "additionalProperties": {"$ref": "#/components/schemas/Score"}},
                    "missing": {"type": "array", "items": {"type": "string"}}
                }}
            }},
            "Score": {"type": "object", "properties": {
                "filled": {"type": "integer"}, "expected": {"type": "integer"}, "rate": {"type": ["number", "null"]}
            }},
            "Territory": {"type": "object", "properties": {
                "level": {"type": "string"}, "code": {"type": "string"}, "name": {"type": "string"},
                "parents": {"type": "array", "items": {"type": "object"}}, "children": {"type": "array", "items": {"type": "object"}},
                "schools": {"type": "object", "description": "Nombre d'établissements par type et par secteur"}
            }}
        }}
    })
}
