//! The contribution schemas, read-only: the list, each version's JSON Schema, its generated
//! Table Schema (the convention of schema.data.gouv.fr), a CSV template and a documentation
//! page in French.

use std::fmt::Write as _;

use axum::{
    Json, Router,
    extract::{Path, State},
    http::{HeaderValue, header},
    response::{Html, IntoResponse, Response},
    routing::get,
};
use ecarto_contrib_schemas::{ColumnKind, FieldMapping, Registry, Schema};
use serde_json::{Value, json};

use crate::app::AppState;
use crate::error::{AppError, AppResult};
use crate::validation::render::escape;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/schemas", get(list))
        .route("/api/v1/schemas/{name}", get(versions))
        .route("/api/v1/schemas/{name}/{version}", get(json_schema))
        .route(
            "/api/v1/schemas/{name}/{version}/table-schema.json",
            get(table_schema),
        )
        .route(
            "/api/v1/schemas/{name}/{version}/template.csv",
            get(template),
        )
        .route(
            "/api/v1/schemas/{name}/{version}/template.xlsx",
            get(template_xlsx),
        )
        .route("/schemas", get(index_page))
        .route("/schemas/{name}/{version}", get(documentation))
}

fn find(name: &str, version: &str) -> AppResult<&'static Schema> {
    let v = ecarto_contrib_schemas::parse_version(version).ok_or_else(|| {
        AppError::bad_request(
            "version",
            format!("version « {version} » illisible : v1, v2…"),
        )
    })?;
    Registry::embedded()
        .get(name, Some(v))
        .map_err(|e| AppError::NotFound(e.to_string()))
}

fn links(base: &str, s: &Schema) -> Value {
    let p = format!("{base}/api/v1/schemas/{}/v{}", s.name, s.version);
    json!({
        "json_schema": p,
        "table_schema": format!("{p}/table-schema.json"),
        "template": format!("{p}/template.csv"),
        "template_xlsx": format!("{p}/template.xlsx"),
        "documentation": format!("{base}/schemas/{}/v{}", s.name, s.version),
        "validate": format!("{base}/api/v1/validate/{}@v{}", s.name, s.version),
    })
}

fn summary(base: &str, s: &Schema) -> Value {
    json!({
        "name": s.name,
        "version": s.version,
        "id": s.id(),
        "title": s.title,
        "description": s.description,
        "columns": s.columns.iter().map(|c| &c.name).collect::<Vec<_>>(),
        "links": links(base, s),
    })
}

async fn list(State(state): State<AppState>) -> Json<Value> {
    let base = state.config.public_base_url.trim_end_matches('/');
    let schemas: Vec<Value> = Registry::embedded()
        .latest()
        .map(|s| {
            let mut v = summary(base, s);
            v["versions"] = json!(
                Registry::embedded()
                    .versions(&s.name)
                    .map(|it| it.map(|x| x.version).collect::<Vec<_>>())
                    .unwrap_or_default()
            );
            v
        })
        .collect();
    Json(json!({ "schemas": schemas }))
}

async fn versions(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> AppResult<Json<Value>> {
    let base = state.config.public_base_url.trim_end_matches('/');
    let versions = Registry::embedded()
        .versions(&name)
        .ok_or_else(|| AppError::NotFound(format!("schéma inconnu : « {name} »")))?;
    Ok(Json(json!({
        "name": name,
        "versions": versions.map(|s| summary(base, s)).collect::<Vec<_>>(),
    })))
}

async fn json_schema(Path((name, version)): Path<(String, String)>) -> AppResult<Response> {
    let s = find(&name, &version)?;
    Ok((
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/schema+json"),
        )],
        serde_json::to_string_pretty(&s.raw).map_err(AppError::internal)?,
    )
        .into_response())
}

async fn table_schema(
    State(state): State<AppState>,
    Path((name, version)): Path<(String, String)>,
) -> AppResult<Json<Value>> {
    let s = find(&name, &version)?;
    let base = state.config.public_base_url.trim_end_matches('/');
    Ok(Json(s.table_schema(&format!(
        "{base}/schemas/{}/v{}",
        s.name, s.version
    ))))
}

async fn template(Path((name, version)): Path<(String, String)>) -> AppResult<Response> {
    let s = find(&name, &version)?;
    let disposition = format!(
        "attachment; filename=\"{}-v{}-modele.csv\"",
        s.name, s.version
    );
    Ok((
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/csv; charset=utf-8"),
            ),
            (
                header::CONTENT_DISPOSITION,
                HeaderValue::from_str(&disposition).map_err(AppError::internal)?,
            ),
        ],
        format!("\u{feff}{}", s.csv_template()),
    )
        .into_response())
}

/// The same template as a workbook: notes on the headers, drop-down lists on coded columns.
async fn template_xlsx(Path((name, version)): Path<(String, String)>) -> AppResult<Response> {
    let s = find(&name, &version)?;
    let book = crate::validation::render::template_xlsx(s, &[]).map_err(AppError::internal)?;
    let disposition = format!(
        "attachment; filename=\"{}-v{}-modele.xlsx\"",
        s.name, s.version
    );
    Ok((
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static(
                    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                ),
            ),
            (
                header::CONTENT_DISPOSITION,
                HeaderValue::from_str(&disposition).map_err(AppError::internal)?,
            ),
        ],
        book,
    )
        .into_response())
}

async fn index_page() -> Html<String> {
    let mut o = String::from(
        "<p>Chaque fichier envoyé à eCarto est vérifié selon l'un de ces schémas. Vous pouvez vérifier un fichier avant de l'envoyer, depuis la page de son schéma ou par <code>POST /api/v1/validate/&lt;schéma&gt;</code>, et l'envoyer depuis <a href=\"/contribuer\">Contribuer</a>.</p><ul>",
    );
    for s in Registry::embedded().latest() {
        let _ = write!(
            o,
            "<li><a href=\"/schemas/{n}/v{v}\">{t}</a> (<code>{n}</code>, v{v}) – {d}</li>",
            n = escape(&s.name),
            v = s.version,
            t = escape(&s.title),
            d = escape(&s.description)
        );
    }
    o.push_str("</ul>");
    super::ui::content_page("/contribuer", "Schémas de contribution", &o)
}

fn kind_label(k: &ColumnKind) -> String {
    match k {
        ColumnKind::Integer => "nombre entier".into(),
        ColumnKind::Number => "nombre (virgule décimale acceptée)".into(),
        ColumnKind::Boolean => "oui / non".into(),
        ColumnKind::Date => "date AAAA-MM-JJ (JJ/MM/AAAA accepté)".into(),
        ColumnKind::Url => "adresse web (https://…)".into(),
        ColumnKind::Text => "texte".into(),
        ColumnKind::List(inner) => format!("liste de {}, séparés par « | »", kind_label(inner)),
    }
}

fn constraints(c: &ecarto_contrib_schemas::Column) -> String {
    let mut parts = Vec::new();
    let s = &c.schema;
    let item = s.get("items").unwrap_or(s);
    for (key, label) in [
        ("minimum", "minimum"),
        ("maximum", "maximum"),
        ("minLength", "caractères au moins"),
        ("maxLength", "caractères au plus"),
        ("minItems", "éléments au moins"),
    ] {
        if let Some(v) = s.get(key).or_else(|| item.get(key)) {
            parts.push(format!("{label} : {v}"));
        }
    }
    if !c.allowed.is_empty() {
        let values: Vec<String> = c
            .allowed
            .iter()
            .map(|a| match c.labels.get(a) {
                Some(l) => format!("<code>{}</code> ({})", escape(a), escape(l)),
                None => format!("<code>{}</code>", escape(a)),
            })
            .collect();
        parts.push(format!("valeurs : {}", values.join(", ")));
    }
    if let Some(p) = item.get("pattern").and_then(Value::as_str) {
        parts.push(format!("forme : <code>{}</code>", escape(p)));
    }
    if c.uai {
        parts.push("code UAI vérifié (lettre clé, établissement ouvert dans l'annuaire)".into());
    }
    if let Some(by) = &c.typed_by {
        parts.push(format!(
            "du type du champ nommé dans la colonne <code>{}</code>",
            escape(by)
        ));
    }
    parts.join(" ; ")
}

async fn documentation(Path((name, version)): Path<(String, String)>) -> AppResult<Html<String>> {
    let s = find(&name, &version)?;
    let mut o = String::new();
    let _ = write!(
        o,
        "<nav class=\"breadcrumb\" aria-label=\"Vous êtes ici\"><ol><li><a href=\"/schemas\">Schémas de contribution</a></li><li aria-current=\"page\">{id}</li></ol></nav><p>Schéma <code>{id}</code>. {d}</p>",
        id = escape(&s.id()),
        d = escape(&s.description)
    );
    let p = format!("/api/v1/schemas/{}/v{}", s.name, s.version);
    let _ = write!(
        o,
        "<p>Téléchargements : <a href=\"{p}/template.csv\">modèle CSV</a> · <a href=\"{p}/template.xlsx\">modèle XLSX</a> · <a href=\"{p}\">schéma JSON</a> · <a href=\"{p}/table-schema.json\">Table Schema</a>. Vérifier un fichier : <code>POST /api/v1/validate/{}@v{}</code> ou <code>ecarto validate --schema {}@v{} FICHIER</code>.</p>",
        s.name, s.version, s.name, s.version
    );
    let _ = write!(
        o,
        "<h2>Vérifier un fichier</h2><form method=\"post\" enctype=\"multipart/form-data\" action=\"/api/v1/validate/{}@v{}\"><p><label for=\"file\">Fichier (CSV, XLSX ou JSON)</label><input type=\"file\" id=\"file\" name=\"file\" required></p><p><label for=\"format\">Rapport</label><select id=\"format\" name=\"format\"><option value=\"html\">page à lire</option><option value=\"xlsx\">mon fichier annoté (XLSX)</option><option value=\"csv\">mon fichier annoté (CSV)</option><option value=\"json\">JSON</option></select></p><p><button type=\"submit\">Vérifier</button></p></form>",
        s.name, s.version
    );
    o.push_str("<h2>Comment remplir le fichier</h2><ul><li>CSV (séparateur « ; », « , » ou tabulation ; UTF-8 ou Windows-1252), classeur XLSX (la feuille nommée comme le schéma, sinon la première) ou JSON (tableau d'objets).</li><li>La première ligne porte les noms des colonnes ; majuscules, accents, espaces et tirets bas n'ont pas d'importance, et l'intitulé de la colonne est aussi reconnu.</li><li>Une case vide signifie « non renseigné ». Les colonnes inconnues sont signalées puis ignorées.</li><li>Chaque ligne est vérifiée séparément : les lignes valides peuvent être retenues pendant que les autres sont corrigées.</li></ul>");
    o.push_str("<h2>Colonnes</h2><div class=\"table-wrap\" tabindex=\"0\" role=\"region\" aria-label=\"Colonnes du schéma (défilement horizontal)\"><table><caption class=\"small muted\">Les colonnes du fichier, dans l'ordre du modèle</caption><thead><tr><th scope=\"col\">Colonne</th><th scope=\"col\">Intitulé</th><th scope=\"col\">Obligatoire</th><th scope=\"col\">Type</th><th scope=\"col\">Contraintes</th><th scope=\"col\">Description</th><th scope=\"col\">Exemple</th><th scope=\"col\">Champ publié</th></tr></thead><tbody>");
    for c in &s.columns {
        let published = match &c.field {
            FieldMapping::None => "—".to_owned(),
            FieldMapping::Field(f) => format!("<code>{}</code>", escape(f)),
            FieldMapping::ByValue(m) => {
                let fields: std::collections::BTreeSet<&String> =
                    m.values().flat_map(|x| x.keys()).collect();
                fields
                    .iter()
                    .map(|f| format!("<code>{}</code>", escape(f)))
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        };
        let _ = write!(
            o,
            "<tr><th scope=\"row\"><code>{}</code></th><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&c.name),
            escape(&c.title),
            if c.required { "oui" } else { "non" },
            escape(&kind_label(&c.kind)),
            constraints(c),
            escape(&c.description),
            c.examples
                .first()
                .map(|e| escape(&ecarto_contrib_schemas::show(e)))
                .unwrap_or_default(),
            published
        );
    }
    o.push_str("</tbody></table></div>");
    if !s.rules.is_empty() {
        o.push_str("<h2>Règles entre colonnes</h2><ul>");
        for r in &s.rules {
            let _ = write!(
                o,
                "<li><code>{}</code> ({}) : {}</li>",
                escape(&r.id),
                r.columns
                    .iter()
                    .map(|c| escape(c))
                    .collect::<Vec<_>>()
                    .join(", "),
                escape(&r.message)
            );
        }
        o.push_str("</ul>");
    }
    if !s.key.is_empty() {
        let _ = write!(
            o,
            "<p>Une même valeur de <code>{}</code> ne peut figurer qu'une fois par fichier.</p>",
            escape(&s.key.join(" + "))
        );
    }
    if !s.school_types.is_empty() {
        let _ = write!(
            o,
            "<p>Établissements concernés : {}.</p>",
            escape(&s.school_types.join(", "))
        );
    }
    Ok(super::ui::content_page("/contribuer", &s.title, &o))
}
