//! The public pages (no sign-in): the home page with the national figures, the search, a
//! school's page with every value, its source and date and its history, and the downloads.
//! They read the same services as the API; the templates are `admin-ui/templates`.

use axum::{
    Router,
    extract::{Path, Query, State},
    routing::get,
};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde::{Deserialize, Serialize};

use super::ui::{PageResult, page};
use crate::{
    app::AppState,
    domain::{
        catalog::{Catalog, Theme},
        display,
        export::LICENCE_URL,
        scores,
        territory::Level,
        text::fold,
        uai::Uai,
    },
    error::AppError,
    services::{
        completeness::{self, Filter},
        datasets,
        schools::{self, SchoolQuery},
        scores::At,
        territories,
    },
};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(home))
        .route("/recherche", get(search))
        .route("/etablissements", get(search))
        .route("/etablissements/{uai}", get(school))
        .route("/telechargements", get(downloads))
        .route("/telechargements/changements", get(changelog))
        .route("/carte", get(map))
}

/// The indicators the home page shows, by name.
const HOME_INDICATORS: &[&str] = &[
    "acces_internet",
    "classes_internet_50_plus",
    "sans_wifi",
    "eleves_par_terminal",
];

#[derive(Serialize)]
struct Figure {
    label: &'static str,
    value: String,
    nc: String,
}

#[derive(Serialize)]
struct National {
    schools: String,
    version: String,
    completeness: String,
    filled: String,
    expected: String,
    indicators: Vec<Figure>,
}

async fn home(State(state): State<AppState>) -> PageResult {
    let read = |cube: &scores::Cube, f: &Filter| {
        (scores::completeness(cube, f), scores::indicators(cube, f))
    };
    let view = completeness::view(
        &state.db,
        &state.config.scores,
        (Level::National, "FR"),
        Filter::default(),
        At::Latest,
        read,
    )
    .await?;
    let (c, i) = &view.scores;
    let national = (c.schools > 0).then(|| National {
        schools: display::number(f64::from(c.schools)),
        version: view.version.map_or("–".to_owned(), |v| v.to_string()),
        completeness: display::percent(c.total.rate),
        filled: display::number(f64::from(c.total.filled)),
        expected: display::number(f64::from(c.total.expected)),
        indicators: HOME_INDICATORS
            .iter()
            .filter_map(|name| i.indicators.iter().find(|x| x.name == *name))
            .map(|x| Figure {
                label: x.label_fr,
                value: match x.kind {
                    "share" => display::percent(x.value.value),
                    _ => x.value.value.map_or("–".to_owned(), |v| {
                        display::number((v * 10.0).round() / 10.0)
                    }),
                },
                nc: display::percent(x.value.nc_rate),
            })
            .collect(),
    });
    page(
        "home.html",
        "/",
        serde_json::json!({ "national": national }),
    )
}

#[derive(Deserialize, Default)]
struct SearchParams {
    q: Option<String>,
    #[serde(rename = "type")]
    school_type: Option<String>,
    region: Option<String>,
    academie: Option<String>,
    departement: Option<String>,
    commune: Option<String>,
    secteur: Option<String>,
    include: Option<String>,
    page: Option<String>,
}

#[derive(Serialize)]
struct Choice {
    code: &'static str,
    label: &'static str,
}

#[derive(Serialize)]
struct Found {
    uai: String,
    name: String,
    #[serde(rename = "type")]
    kind: String,
    secteur: String,
    commune: String,
}

#[derive(Serialize)]
struct CommuneFound {
    code: String,
    name: String,
    departement: String,
}

const PER_PAGE: u64 = 25;

async fn search(State(state): State<AppState>, Query(params): Query<SearchParams>) -> PageResult {
    let catalog = Catalog::get();
    let types: Vec<Choice> = catalog
        .choices("type_etablissement")
        .into_iter()
        .map(|(code, label)| Choice { code, label })
        .collect();
    let q = params.q.clone().unwrap_or_default().trim().to_owned();
    let school_type = params.school_type.clone().filter(|t| !t.is_empty());
    let nonempty = |v: &Option<String>| v.clone().filter(|x| !x.trim().is_empty());
    // A territory's list (`/etablissements?departement=35`) is a search without words.
    let place = [
        ("region", nonempty(&params.region)),
        ("academie", nonempty(&params.academie)),
        ("departement", nonempty(&params.departement)),
        ("commune", nonempty(&params.commune)),
        ("secteur", nonempty(&params.secteur)),
        ("include", nonempty(&params.include)),
    ];
    let kept: Vec<(&str, String)> = place
        .iter()
        .filter_map(|(k, v)| v.clone().map(|v| (*k, v)))
        .collect();
    let mut data = serde_json::json!({
        "q": q,
        "school_type": school_type,
        "types": types,
        "kept": kept.iter().map(|(k, v)| serde_json::json!({"name": k, "value": v})).collect::<Vec<_>>(),
    });
    if q.is_empty() && kept.is_empty() {
        return page("search.html", "/recherche", data);
    }
    let filter = SchoolQuery {
        q: (!q.is_empty()).then(|| q.clone()),
        school_type: school_type.clone(),
        region: nonempty(&params.region),
        academie: nonempty(&params.academie),
        departement: nonempty(&params.departement),
        commune: nonempty(&params.commune),
        secteur: nonempty(&params.secteur),
        include: nonempty(&params.include),
        page: params.page.clone(),
        per_page: Some(PER_PAGE.to_string()),
    }
    .parse()
    .map_err(|violations| AppError::BadRequest {
        title: violations
            .iter()
            .map(|v| v.detail.clone())
            .collect::<Vec<_>>()
            .join(" ; "),
        violations,
    })?;
    let (total, found) = schools::search(&state.db, &filter).await?;
    let codes: Vec<String> = found
        .iter()
        .filter_map(|s| s.code_commune.clone())
        .collect();
    let names = territories::commune_names(&state.db, codes).await?;
    let communes = if q.is_empty() {
        Vec::new()
    } else {
        territories::communes_named(&state.db, &fold(&q), 10).await?
    };
    let label = |field: &str, v: &Option<String>| {
        v.as_deref()
            .map(|c| catalog.code_label(field, c).unwrap_or(c).to_owned())
            .unwrap_or_default()
    };
    let rows: Vec<Found> = found
        .into_iter()
        .map(|s| Found {
            commune: s
                .code_commune
                .as_ref()
                .and_then(|c| names.get(c).cloned())
                .unwrap_or_default(),
            kind: label("type_etablissement", &s.type_etablissement),
            secteur: label("secteur", &s.secteur),
            name: s.name,
            uai: s.uai,
        })
        .collect();
    let pages = total.div_ceil(PER_PAGE).max(1);
    let link = |p: u64| {
        let mut pairs: Vec<(&str, String)> = Vec::new();
        if !q.is_empty() {
            pairs.push(("q", q.clone()));
        }
        if let Some(t) = &school_type {
            pairs.push(("type", t.clone()));
        }
        pairs.extend(kept.iter().cloned());
        pairs.push(("page", p.to_string()));
        format!(
            "/recherche?{}",
            serde_urlencoded::to_string(&pairs).unwrap_or_default()
        )
    };
    data["communes"] = serde_json::to_value(
        communes
            .into_iter()
            .map(|c| CommuneFound {
                code: c.code,
                name: c.name,
                departement: c.departement_code,
            })
            .collect::<Vec<_>>(),
    )
    .map_err(AppError::internal)?;
    data["total"] = total.into();
    data["schools"] = serde_json::to_value(rows).map_err(AppError::internal)?;
    data["page"] = filter.page.into();
    data["pages"] = pages.into();
    data["previous"] = (filter.page > 1).then(|| link(filter.page - 1)).into();
    data["next"] = (filter.page < pages).then(|| link(filter.page + 1)).into();
    page("search.html", "/recherche", data)
}

#[derive(Serialize)]
struct Link {
    href: String,
    label: String,
}

#[derive(Serialize)]
struct Shown {
    label: &'static str,
    value: String,
    raw: Option<String>,
    source: String,
    date: String,
}

#[derive(Serialize)]
struct ThemeShown {
    code: &'static str,
    label: &'static str,
    fields: Vec<Shown>,
    missing: Vec<&'static str>,
}

#[derive(Serialize)]
struct Replaced {
    label: &'static str,
    value: String,
    source: String,
    date: String,
    version: i32,
}

pub fn theme_label(theme: Theme) -> &'static str {
    match theme {
        Theme::Etablissement => "Établissement",
        Theme::Connectivite => "Connectivité",
        Theme::Equipement => "Équipement",
        Theme::Ressources => "Services et ressources",
        Theme::Experimentations => "Expérimentations",
        Theme::Byod => "BYOD (équipement personnel des élèves)",
    }
}

/// Where a value comes from, as the page says it: the source, and for a contribution the
/// organisation that sent it (a public body), never a person.
fn source_of(p: Option<&crate::services::provenance::ProvenanceView>) -> (String, String) {
    let Some(p) = p else {
        return ("–".to_owned(), "–".to_owned());
    };
    let mut source = display::source(&p.source).to_owned();
    if let Some(org) = p
        .contribution
        .as_ref()
        .and_then(|c| c.organisation.as_deref())
    {
        source = format!("{source} ({org})");
    } else if let Some(import) = &p.import {
        source = format!("{source} (fichier {})", import.file_name);
    }
    let date = p
        .millesime
        .as_deref()
        .map_or_else(|| "non datée".to_owned(), display::date);
    (source, date)
}

async fn school(State(state): State<AppState>, Path(raw): Path<String>) -> PageResult {
    let uai = Uai::parse(&raw).map_err(|e| AppError::bad_request("uai", e.to_string()))?;
    let detail = schools::get(&state.db, &uai)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("aucun établissement {uai} n'est publié")))?;
    let catalog = Catalog::get();
    let etab = detail.themes.get("etablissement");
    let text = |field: &str| {
        etab.and_then(|t| t.get(field))
            .map(|v| display::value(field, &v.value))
    };
    let code = |field: &str| {
        etab.and_then(|t| t.get(field))
            .and_then(|v| v.value.as_str().map(str::to_owned))
    };
    let missing: std::collections::BTreeSet<&str> =
        detail.completeness.missing.iter().copied().collect();
    let themes: Vec<ThemeShown> = Theme::ALL
        .iter()
        .map(|theme| {
            let values = detail.themes.get(theme.code());
            let fields = catalog
                .fields()
                .iter()
                .filter(|f| f.theme == *theme)
                .filter_map(|f| {
                    let v = values?.get(f.name)?;
                    let (source, date) = source_of(v.provenance.as_ref());
                    Some(Shown {
                        label: f.label_fr,
                        value: display::value(f.name, &v.value),
                        raw: v.raw.clone(),
                        source,
                        date,
                    })
                })
                .collect();
            ThemeShown {
                code: theme.code(),
                label: theme_label(*theme),
                fields,
                missing: catalog
                    .fields()
                    .iter()
                    .filter(|f| f.theme == *theme && missing.contains(f.name))
                    .map(|f| f.label_fr)
                    .collect(),
            }
        })
        .collect();
    let history: Vec<Replaced> = detail
        .history
        .iter()
        .map(|h| {
            let (source, date) = source_of(h.provenance.as_ref());
            Replaced {
                label: catalog
                    .field(&h.field)
                    .map_or("champ retiré", |f| f.label_fr),
                value: display::value(&h.field, &h.value),
                source,
                date,
                version: h.replaced_in_version,
            }
        })
        .collect();
    // Where the school sits, the widest territory first.
    let mut breadcrumb = Vec::new();
    if let Some(c) = code("code_commune")
        && let Some(t) = territories::territory(&state.db, Level::Commune, &c).await?
    {
        for p in t.parents.iter().rev() {
            breadcrumb.push(Link {
                href: format!("/territoires/{}/{}", p.level.as_str(), p.code),
                label: p.name.clone(),
            });
        }
        breadcrumb.push(Link {
            href: format!("/territoires/commune/{}", t.code),
            label: t.name.clone(),
        });
    }
    let commune = breadcrumb.last().map(|l| l.label.clone());
    let data = serde_json::json!({
        "school": {
            "uai": detail.uai,
            "name": detail.name,
            "kind": text("type_etablissement"),
            "secteur": text("secteur"),
            "etat": text("etat"),
            "commune": commune,
            "created_version": detail.created_version,
        },
        "breadcrumb": breadcrumb,
        "annuaire": {
            "counted": detail.annuaire.counted,
            "message": annuaire_sentence(&detail.annuaire),
        },
        "completeness": {
            "rate": display::percent(detail.completeness.total.rate),
            "filled": detail.completeness.total.filled,
            "expected": detail.completeness.total.expected,
        },
        "themes": themes,
        "history": history,
        "actions": [{"href": format!("/etablissements/{}/signaler", detail.uai), "label": "Signaler une erreur"}],
    });
    page("school.html", "/recherche", data)
}

/// Whether the school is in the official list, in the page's words.
fn annuaire_sentence(a: &crate::services::schools::AnnuaireStatus) -> String {
    let since = match (a.import_id, a.as_of.as_deref()) {
        (Some(id), Some(d)) => format!("l'import {id} (annuaire au {})", display::date(d)),
        (Some(id), None) => format!("l'import {id}"),
        _ => String::new(),
    };
    match (a.presence.as_deref(), a.counted) {
        (Some("present"), true) => format!("Figure dans l'annuaire de l'éducation depuis {since}"),
        (Some("present"), false) => format!(
            "figure dans l'annuaire de l'éducation depuis {since}, mais n'est pas ouvert : il n'est pas compté dans la complétude"
        ),
        (Some(_), _) => format!(
            "est absent de l'annuaire de l'éducation depuis {since} : ses valeurs et leur provenance sont conservées, mais il n'est compté ni dans la complétude ni dans les listes et les téléchargements"
        ),
        (None, _) => "ne figure dans aucun import de l'annuaire de l'éducation : il est connu d'une autre source seulement, et n'est compté ni dans la complétude ni dans les listes et les téléchargements".to_owned(),
    }
}

#[derive(Serialize)]
struct VersionShown {
    version: i32,
    date: String,
    summary: String,
    created: i64,
    changed: i64,
    values: i64,
}

async fn downloads(State(state): State<AppState>) -> PageResult {
    let versions: Vec<VersionShown> = datasets::versions(&state.db)
        .await?
        .into_iter()
        .map(|v| VersionShown {
            version: v.version,
            date: v.created_at.format("%d/%m/%Y").to_string(),
            summary: v.summary,
            created: v.schools_created,
            changed: v.schools_changed,
            values: v.values_changed,
        })
        .collect();
    let latest = versions.first().map(|v| v.version);
    // The rows of the latest export (the official list), for its download's progress.
    let listed = crate::entities::school::Entity::find()
        .filter(crate::entities::school::Column::PresenceAnnuaire.eq("present"))
        .count(&state.db)
        .await
        .map_err(AppError::from)?;
    page(
        "downloads.html",
        "/telechargements",
        serde_json::json!({
            "versions": versions,
            "latest": latest,
            "schools": listed,
            "licence_url": LICENCE_URL,
        }),
    )
}

#[derive(Deserialize, Default)]
struct ChangelogParams {
    de: Option<String>,
    a: Option<String>,
    page: Option<u64>,
}

/// What changed between any two versions, school by school: the value before and after and
/// the source of the new one. No contributor is named: sources are kinds (annuaire, ETIC,
/// contribution relue).
async fn changelog(State(state): State<AppState>, Query(p): Query<ChangelogParams>) -> PageResult {
    const PER_PAGE: u64 = 50;
    let page_n = p.page.unwrap_or(1).max(1);
    let between =
        super::datasets::between(&state, p.de.as_deref(), p.a.as_deref(), page_n, PER_PAGE).await?;
    let catalog = Catalog::get();
    let names = schools::names(
        &state.db,
        between.changes.iter().map(|c| c.change().uai.clone()),
    )
    .await
    .map_err(AppError::from)?;
    let rows: Vec<serde_json::Value> = between
        .changes
        .iter()
        .map(|c| {
            let ch = c.change();
            serde_json::json!({
                "uai": ch.uai,
                "school": names.get(&ch.uai),
                "field": catalog.field(&ch.field).map_or(ch.field.clone(), |f| f.label_fr.to_owned()),
                "old": display::value_or_missing(&ch.field, ch.old.as_ref()),
                "new": display::value_or_missing(&ch.field, ch.new.as_ref()),
                "source": c.new_source().map(|s| display::source(&s.source)),
            })
        })
        .collect();
    let pages = between.total_schools.div_ceil(PER_PAGE).max(1);
    page(
        "changelog.html",
        "/telechargements",
        serde_json::json!({
            "from": between.from,
            "to": between.to,
            "schools": between.total_schools,
            "rows": rows,
            "page": page_n,
            "pages": pages,
            "previous": (page_n > 1).then(|| page_n - 1),
            "next": (page_n < pages).then_some(page_n + 1),
        }),
    )
}

#[derive(Deserialize, Default)]
struct MapParams {
    mesure: Option<String>,
    #[serde(rename = "type")]
    school_type: Option<String>,
}

#[derive(Serialize)]
struct MeasureChoice {
    code: String,
    label: String,
}

#[derive(Serialize)]
struct DepartementShown {
    code: String,
    name: String,
    path: &'static str,
    zoom: &'static str,
    value: String,
    class: &'static str,
    schools: String,
}

/// The class of a rate on the map's scale: five bins of 20 points, or `nd` without a value.
fn class_of(rate: Option<f64>) -> &'static str {
    match rate {
        None => "nd",
        Some(r) if r < 0.2 => "c0",
        Some(r) if r < 0.4 => "c1",
        Some(r) if r < 0.6 => "c2",
        Some(r) if r < 0.8 => "c3",
        Some(_) => "c4",
    }
}

/// `/carte?mesure=&type=`: the départements coloured by their completeness (all values, or one
/// theme's: `completude`, `completude:equipement`…) or by a share indicator of the état des
/// lieux, from the latest stored scores; each département links to its page, and a table
/// gives the same values.
async fn map(State(state): State<AppState>, Query(params): Query<MapParams>) -> PageResult {
    use crate::reference::map::{self as outlines, INSETS, inset_box};
    let catalog = Catalog::get();
    let mut measures = vec![MeasureChoice {
        code: "completude".into(),
        label: "Complétude des valeurs attendues".into(),
    }];
    for theme in Theme::ALL {
        measures.push(MeasureChoice {
            code: format!("completude:{}", theme.code()),
            label: format!("Complétude : {}", theme_label(theme)),
        });
    }
    for i in scores::INDICATORS.iter().filter(|i| i.kind == "share") {
        measures.push(MeasureChoice {
            code: i.name.into(),
            label: i.label_fr.into(),
        });
    }
    let measure = params
        .mesure
        .clone()
        .filter(|m| !m.is_empty())
        .unwrap_or_else(|| "completude".to_owned());
    let Some(chosen) = measures.iter().find(|m| m.code == measure) else {
        return Err(AppError::bad_request(
            "mesure",
            format!(
                "« {measure} » n'est pas une mesure de la carte ; mesures : {}",
                measures
                    .iter()
                    .map(|m| m.code.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )
        .into());
    };
    let measure_label = chosen.label.clone();
    let school_type = params.school_type.clone().filter(|t| !t.is_empty());
    let filter = Filter {
        theme: measure.strip_prefix("completude:").map(str::to_owned),
        field: None,
        school_type: school_type.clone(),
        secteur: None,
    };
    filter
        .check()
        .map_err(|(pointer, detail)| AppError::bad_request(pointer, detail))?;
    let run = crate::services::scores::run_at(&state.db, At::Latest).await?;
    let cubes = crate::services::scores::latest_cubes(&state.db, Level::Departement).await?;
    let is_share = !measure.starts_with("completude");
    let departements: Vec<DepartementShown> = outlines::shipped()
        .iter()
        .map(|o| {
            let (rate, schools) = match cubes.get(&o.code) {
                None => (None, 0),
                Some(cube) if is_share => {
                    let view = scores::indicators(cube, &filter);
                    let rate = view
                        .indicators
                        .iter()
                        .find(|i| i.name == measure)
                        .and_then(|i| i.value.value);
                    (rate, view.schools)
                }
                Some(cube) => {
                    let view = scores::completeness(cube, &filter);
                    let rate = match &filter.theme {
                        Some(t) => view.by_theme.get(t.as_str()).and_then(|s| s.rate),
                        None => view.total.rate,
                    };
                    (rate, view.schools)
                }
            };
            DepartementShown {
                code: o.code.clone(),
                name: o.name.clone(),
                path: o.path.as_str(),
                zoom: o.zoom.as_str(),
                value: rate.map_or("pas de valeur".to_owned(), |r| display::percent(Some(r))),
                class: class_of(rate),
                schools: display::number(f64::from(schools)),
            }
        })
        .collect();
    let insets: Vec<serde_json::Value> = INSETS
        .iter()
        .enumerate()
        .map(|(i, code)| {
            let (x, y, w, h) = inset_box(i);
            let name = outlines::shipped()
                .iter()
                .find(|o| o.code == *code)
                .map_or(code.to_string(), |o| o.name.clone());
            serde_json::json!({
                "x": x, "y": y, "w": w, "h": h,
                "label_x": x + w / 2.0, "label_y": y + h - 4.0, "name": name,
            })
        })
        .collect();
    let legend: Vec<serde_json::Value> = [
        ("c0", "moins de 20 %"),
        ("c1", "de 20 à 40 %"),
        ("c2", "de 40 à 60 %"),
        ("c3", "de 60 à 80 %"),
        ("c4", "80 % ou plus"),
        (
            "nd",
            "pas de valeur (aucun établissement, ou rien d'attendu)",
        ),
    ]
    .iter()
    .map(|(class, label)| serde_json::json!({"class": class, "label": label}))
    .collect();
    let types: Vec<Choice> = catalog
        .choices("type_etablissement")
        .into_iter()
        .map(|(code, label)| Choice { code, label })
        .collect();
    let type_label = school_type
        .as_deref()
        .and_then(|t| catalog.code_label("type_etablissement", t))
        .map(|l| format!("{}s", l.to_lowercase()));
    page(
        "map.html",
        "/carte",
        serde_json::json!({
            "measures": measures,
            "measure": measure,
            "measure_label": measure_label,
            "value_heading": if is_share { "Part" } else { "Complétude" },
            "types": types,
            "school_type": school_type,
            "type_label": type_label,
            "computed": run.as_ref().map(|r| r.finished_at.format("%d/%m/%Y à %H:%M UTC").to_string()),
            "version": run.as_ref().and_then(|r| r.dataset_version),
            "width": crate::reference::map::WIDTH,
            "height": crate::reference::map::HEIGHT,
            "insets": insets,
            "zoom": {
                "x": crate::reference::map::ZOOM_BOX.0,
                "y": crate::reference::map::ZOOM_BOX.1,
                "w": crate::reference::map::ZOOM_BOX.2,
                "h": crate::reference::map::ZOOM_BOX.3,
            },
            "departements": departements,
            "legend": legend,
        }),
    )
}
