//! `GET /territoires/{level}/{code}`: a territory's scores as a page for people — completeness
//! by theme and field with its counts, its evolution, quality, the état des lieux indicators
//! with their n.c. rates, links down to its sub-territories and to the list of schools missing
//! each value. The same numbers as the API (`/api/v1/territories/…`), which the page links to.

use std::fmt::Write;

use axum::{
    Router,
    extract::{Path, Query, State},
    routing::get,
};

use super::ui::{self, PageResult};
use crate::{
    app::AppState,
    domain::{
        catalog::{Catalog, Theme},
        completeness::Score,
        scores,
        territory::Level,
    },
    error::AppError,
    services::{
        completeness::{self, Filter},
        scores::At,
        territories::{self, TerritoryRef},
    },
    validation::render::escape,
};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/territoires", get(national))
        .route("/territoires/{level}/{code}", get(page))
}

#[derive(serde::Deserialize)]
struct PageQuery {
    theme: Option<String>,
    #[serde(rename = "type")]
    school_type: Option<String>,
    secteur: Option<String>,
    at: Option<String>,
}

async fn national(State(state): State<AppState>, Query(q): Query<PageQuery>) -> PageResult {
    render(&state, Level::National, "FR", q).await
}

async fn page(
    State(state): State<AppState>,
    Path((level, code)): Path<(String, String)>,
    Query(q): Query<PageQuery>,
) -> PageResult {
    let level = Level::parse(&level).map_err(|e| AppError::bad_request("level", e.to_string()))?;
    let code = level
        .normalize_code(&code)
        .map_err(|e| AppError::bad_request("code", e.to_string()))?;
    render(&state, level, &code, q).await
}

fn level_label(level: Level) -> &'static str {
    match level {
        Level::National => "France",
        Level::Region => "Région",
        Level::Academie => "Académie",
        Level::Departement => "Département",
        Level::Commune => "Commune",
        Level::Epci => "EPCI",
    }
}

fn theme_label(code: &str) -> &'static str {
    match code {
        "etablissement" => "Établissement",
        "connectivite" => "Connectivité",
        "equipement" => "Équipement",
        "ressources" => "Services et ressources",
        "experimentations" => "Expérimentations",
        "byod" => "BYOD",
        _ => "Autre",
    }
}

const TYPES: [(&str, &str); 5] = [
    ("ecole", "École"),
    ("college", "Collège"),
    ("lycee", "Lycée"),
    ("erea", "EREA"),
    ("autre", "Autre"),
];
const SECTEURS: [(&str, &str); 2] = [("public", "Public"), ("prive", "Privé")];

/// `87,3 %`, or `–` when nothing is expected.
fn percent(rate: Option<f64>) -> String {
    match rate {
        Some(r) => format!("{:.1} %", r * 100.0).replace('.', ","),
        None => "–".to_owned(),
    }
}

fn number(x: f64) -> String {
    if x.fract() == 0.0 {
        format!("{x:.0}")
    } else {
        format!("{x:.1}").replace('.', ",")
    }
}

fn href(r: &TerritoryRef) -> String {
    format!("/territoires/{}/{}", r.level.as_str(), escape(&r.code))
}

fn api(level: Level, code: &str) -> String {
    match level {
        Level::National => "/api/v1/territories/national".to_owned(),
        _ => format!("/api/v1/territories/{}/{}", level.as_str(), escape(code)),
    }
}

/// The filter's query string, to carry it over to links.
fn query_of(filter: &Filter) -> String {
    let mut parts = Vec::new();
    for (k, v) in [
        ("theme", &filter.theme),
        ("type", &filter.school_type),
        ("secteur", &filter.secteur),
    ] {
        if let Some(v) = v {
            parts.push(format!("{k}={}", escape(v)));
        }
    }
    parts.join("&amp;")
}

fn score_cells(s: &Score) -> String {
    format!(
        "<td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td>",
        s.filled,
        s.expected,
        percent(s.rate)
    )
}

fn select(
    o: &mut String,
    name: &str,
    label: &str,
    options: &[(&str, &str)],
    current: Option<&str>,
) {
    let _ = write!(
        o,
        "<label>{label} <select name=\"{name}\"><option value=\"\">Tous</option>"
    );
    for (value, text) in options {
        let selected = if current == Some(*value) {
            " selected"
        } else {
            ""
        };
        let _ = write!(o, "<option value=\"{value}\"{selected}>{text}</option>");
    }
    o.push_str("</select></label> ");
}

async fn render(state: &AppState, level: Level, code: &str, q: PageQuery) -> PageResult {
    let (db, cfg) = (&state.db, &state.config.scores);
    let territory = territories::territory(db, level, code)
        .await?
        .ok_or_else(|| {
            AppError::NotFound(format!(
                "aucun territoire de niveau {} n'a le code « {code} »",
                level.as_str()
            ))
        })?;
    let empty = |s: Option<String>| s.filter(|v| !v.is_empty());
    let filter = Filter {
        theme: empty(q.theme),
        field: None,
        school_type: empty(q.school_type),
        secteur: empty(q.secteur),
    };
    let at = At::parse(q.at.as_deref())?;
    let place = (level, code);
    // The territory's counts read once, for the three views.
    let read = |cube: &scores::Cube, f: &Filter| {
        (
            scores::completeness(cube, f),
            scores::quality(cube, f),
            scores::indicators(cube, f),
        )
    };
    let all = completeness::view(db, cfg, place, filter.clone(), at, read).await?;
    let (completeness_view, quality, indicators) = &all.scores;
    let history = completeness::history(db, cfg, level, code, filter.clone()).await?;
    let api = api(level, code);
    let filter_query = query_of(&filter);
    let catalog = Catalog::get();

    let title = match level {
        Level::National => "France".to_owned(),
        _ => format!("{} – {}", territory.name, level_label(level)),
    };
    let mut o = String::new();
    // Where the territory sits: its parents, the widest first.
    o.push_str(
        "<nav class=\"breadcrumb\" aria-label=\"Vous êtes ici\"><ol><li><a href=\"/\">Accueil</a></li>\
         <li><a href=\"/territoires\">France</a></li>",
    );
    for p in territory.parents.iter().rev() {
        let _ = write!(
            o,
            "<li><a href=\"{}\">{} {}</a></li>",
            href(p),
            level_label(p.level),
            escape(&p.name)
        );
    }
    o.push_str("</ol></nav>");
    let _ = write!(
        o,
        "<h1>{}</h1><p>{} établissements ouverts{}. Scores {} sur la version {} du jeu publié, \
         calculés le {}.</p>",
        escape(&title),
        completeness_view.schools,
        if filter_query.is_empty() {
            ""
        } else {
            " retenus par le filtre"
        },
        if all.basis.source == "stored" {
            "du calcul planifié"
        } else {
            "calculés à la demande"
        },
        all.version.map_or("–".to_owned(), |v| v.to_string()),
        all.basis.computed_at.format("%d/%m/%Y à %H:%M UTC"),
    );

    // Its schools: the list, filtered as the page is.
    let list_param = match level {
        Level::Region => Some("region"),
        Level::Academie => Some("academie"),
        Level::Departement => Some("departement"),
        Level::Commune => Some("commune"),
        Level::National | Level::Epci => None,
    };
    if let Some(param) = list_param {
        let mut href = format!("/etablissements?{param}={}", escape(code));
        for (k, v) in [("type", &filter.school_type), ("secteur", &filter.secteur)] {
            if let Some(v) = v {
                let _ = write!(href, "&amp;{k}={}", escape(v));
            }
        }
        let _ = write!(
            o,
            "<p><a class=\"button secondary\" href=\"{href}\">Les établissements de ce territoire</a></p>"
        );
    }

    // The filter, as a plain GET form: the page's address says what it shows.
    o.push_str("<form method=\"get\">");
    let themes: Vec<(&str, &str)> = Theme::ALL
        .iter()
        .map(|t| (t.code(), theme_label(t.code())))
        .collect();
    select(&mut o, "theme", "Thème", &themes, filter.theme.as_deref());
    select(
        &mut o,
        "type",
        "Type",
        &TYPES,
        filter.school_type.as_deref(),
    );
    select(
        &mut o,
        "secteur",
        "Secteur",
        &SECTEURS,
        filter.secteur.as_deref(),
    );
    o.push_str("<button type=\"submit\">Afficher</button></form>");

    // Completeness.
    let total = &completeness_view.total;
    let _ = write!(
        o,
        "<h2 id=\"completude\">Complétude</h2><p class=\"big\"><strong>{}</strong> : {} valeurs \
         renseignées sur {} attendues (n.c. : {}).</p>",
        percent(total.rate),
        total.filled,
        total.expected,
        percent(total.rate.map(|r| 1.0 - r)),
    );
    o.push_str(
        "<div class=\"table-wrap\"><table><caption>Par thème</caption><tr><th>Thème</th><th>Renseignées</th>\
         <th>Attendues</th><th>Taux</th></tr>",
    );
    for (theme, s) in &completeness_view.by_theme {
        let _ = write!(
            o,
            "<tr><td>{}</td>{}</tr>",
            theme_label(theme),
            score_cells(s)
        );
    }
    o.push_str("</table></div>");
    o.push_str(
        "<p>Chaque lien « à compléter » donne la liste des établissements auxquels la valeur \
         manque (CSV, une ligne par établissement). Connecté au nom d'une collectivité ou d'une \
         académie, la liste ne garde que les établissements pour lesquels elle peut contribuer.\
         </p><div class=\"table-wrap\"><table id=\"par-champ\"><caption>Par champ attendu</caption><tr><th>Champ</th>\
         <th>Thème</th><th>Renseignées</th><th>Attendues</th><th>Taux</th><th></th>\
         <th>Établissements à compléter</th></tr>",
    );
    for f in completeness_view
        .by_field
        .iter()
        .filter(|f| f.score.expected > 0)
    {
        let label = catalog.field(f.field).map_or(f.field, |c| c.label_fr);
        let missing = f.score.expected - f.score.filled;
        let _ = write!(
            o,
            "<tr><td>{} <code>{}</code></td><td>{}</td>{}<td><meter min=\"0\" max=\"1\" \
             value=\"{:.3}\" aria-label=\"Taux de complétude\"></meter></td><td class=\"n\">",
            escape(label),
            f.field,
            theme_label(f.theme),
            score_cells(&f.score),
            f.score.rate.unwrap_or(0.0),
        );
        if missing > 0 {
            // The same schools as the count: the field, and the filter's type and secteur.
            let mut link = format!("{api}/missing?field={}", f.field);
            for (k, v) in [("type", &filter.school_type), ("secteur", &filter.secteur)] {
                if let Some(v) = v {
                    let _ = write!(link, "&amp;{k}={}", escape(v));
                }
            }
            let _ = write!(o, "<a href=\"{link}&amp;format=csv\">{missing} (CSV)</a>");
        } else {
            o.push('0');
        }
        o.push_str("</td></tr>");
    }
    o.push_str("</table></div>");
    if !completeness_view.coverage.is_empty() {
        o.push_str(
            "<div class=\"table-wrap\"><table><caption>Données facultatives : jamais « manquantes », leur couverture\
             </caption><tr><th>Champ</th><th>Établissements qui l'ont</th><th>Sur</th>\
             <th>Couverture</th></tr>",
        );
        for c in &completeness_view.coverage {
            let label = catalog.field(c.field).map_or(c.field, |f| f.label_fr);
            let _ = write!(
                o,
                "<tr><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
                escape(label),
                c.present,
                c.schools,
                percent(c.rate)
            );
        }
        o.push_str("</table></div>");
    }

    // Over time.
    o.push_str("<h2 id=\"evolution\">Évolution</h2>");
    if history.points.is_empty() {
        o.push_str("<p>Aucun calcul planifié n'a encore eu lieu.</p>");
    } else {
        o.push_str(
            "<div class=\"table-wrap\"><table><tr><th>Calcul du</th><th>Version du jeu</th><th>Renseignées</th>\
             <th>Attendues</th><th>Taux</th></tr>",
        );
        for p in history.points.iter().rev() {
            let _ = write!(
                o,
                "<tr><td>{}</td><td class=\"n\">{}</td>{}</tr>",
                p.computed_at.format("%d/%m/%Y %H:%M"),
                p.dataset_version.map_or("–".to_owned(), |v| v.to_string()),
                score_cells(&p.total)
            );
        }
        o.push_str("</table></div>");
    }

    // Quality.
    o.push_str(
        "<h2 id=\"qualite\">Qualité</h2><table><tr><th></th><th>Nombre</th><th>Sur</th>\
         <th>Part</th></tr>",
    );
    for (label, s) in [
        (
            "Valeurs invalides (hors des règles du catalogue)",
            &quality.invalid,
        ),
        (
            "Valeurs anciennes (datées d'avant la limite de fraîcheur)",
            &quality.stale,
        ),
        ("Valeurs non datées par leur source", &quality.undated),
        (
            "Établissements incohérents (règles entre champs)",
            &quality.inconsistent,
        ),
        (
            "Établissements ayant reçu une contribution",
            &quality.contributed,
        ),
    ] {
        let _ = write!(
            o,
            "<tr><td>{label}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
            s.count,
            s.total,
            percent(s.rate)
        );
    }
    o.push_str("</table></div>");

    // The état des lieux indicators.
    o.push_str(
        "<h2 id=\"indicateurs\">Indicateurs de l'état des lieux</h2><table><tr><th>Indicateur\
         </th><th>Valeur</th><th>Réponses</th><th>Attendues</th><th>n.c.</th></tr>",
    );
    for i in &indicators.indicators {
        let value = match (i.kind, i.value.value) {
            (_, None) => "–".to_owned(),
            ("share", Some(v)) => percent(Some(v)),
            (_, Some(v)) => number(v),
        };
        let _ = write!(
            o,
            "<tr><td>{}</td><td class=\"n\">{value}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
            escape(i.label_fr),
            i.value.answered,
            i.value.expected,
            percent(i.value.nc_rate)
        );
    }
    o.push_str("</table></div>");

    // Down the scales.
    if !territory.children.is_empty() {
        o.push_str("<h2 id=\"territoires\">Territoires</h2><ul>");
        for c in &territory.children {
            let _ = write!(
                o,
                "<li><a href=\"{}\">{} {}</a></li>",
                href(c),
                level_label(c.level),
                escape(&c.name)
            );
        }
        o.push_str("</ul>");
    }
    let sep = if filter_query.is_empty() { "" } else { "&amp;" };
    let _ = write!(
        o,
        "<h2>Télécharger</h2><ul>\
         <li><a href=\"{api}/completeness?format=csv{sep}{filter_query}\">Complétude par champ (CSV)</a></li>\
         <li><a href=\"{api}/completeness/history?format=csv{sep}{filter_query}\">Évolution (CSV)</a></li>\
         <li><a href=\"{api}/quality?format=csv{sep}{filter_query}\">Qualité (CSV)</a></li>\
         <li><a href=\"{api}/indicators?format=csv{sep}{filter_query}\">Indicateurs (CSV)</a></li>\
         <li><a href=\"{api}/missing?format=csv\">Toutes les valeurs manquantes, établissement par établissement (CSV)</a></li>\
         </ul>"
    );
    ui::page(
        "content.html",
        "/territoires",
        serde_json::json!({ "title": format!("{title} – complétude et indicateurs"), "content": o }),
    )
}
