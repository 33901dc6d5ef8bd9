//! Benchmark: the server time of every page (p50 and p95, and its size) on the 65,000-school
//! national synthetic dataset (annuaire + an ETIC survey with its gaps, scores computed), on
//! SQLite and on PostgreSQL (when reachable). Requests go through the whole router (session,
//! CSRF layer, templates) in process, one after another, as signed-in users where the page
//! needs one: a beta-tester, a département's agent with a draft of 50 rows (10 with errors) and
//! a sent inventory of 50 collèges, that territory's moderator.
//!
//! `cargo bench -p ecarto-backend --bench pages [-- --schools N]`
//! Target on a 2-core machine: every page under 200 ms; the map page under 500 KB.

use std::time::Instant;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use axum::{body::Body, http::Request};
use ecarto::{
    app::AppState,
    bench_support::{self, BenchBackends, SyntheticAnnuaire, synthetic_annuaire},
    config::Config,
    domain::competence::Role,
    entities::school,
    services::{audit, auth, drafts, submissions, users},
};
use http_body_util::BodyExt;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use tower::ServiceExt;

const SEED: u64 = 2018;
const WARM_UP: usize = 5;
const TIMED: usize = 40;

fn main() {
    bench_support::main(parent, |_| async {});
}

async fn parent(schools: usize) {
    let SyntheticAnnuaire { dir, file, .. } = synthetic_annuaire("pages", schools, SEED);
    println!(
        "synthetic dataset: {schools} schools; {TIMED} timed requests per page after {WARM_UP}"
    );
    let backends = BenchBackends::new(&dir, "ecarto_bench_pages").await;
    for (name, url) in &backends.urls {
        let mut config = Config::embedded(dir.join(name), "http://127.0.0.1:8080".into());
        config.database_url = url.clone();
        let state = AppState::start(config).await.expect("app starts");
        bench_support::load_national(&state, &file, SEED).await;
        let pages = fixtures(&state).await;
        let router = state.router();
        println!("\n{name}\n\n| page | p50 | p95 | size |\n| --- | ---: | ---: | ---: |");
        for (label, path, cookie) in &pages {
            let mut times = Vec::with_capacity(TIMED);
            let mut size = 0;
            for i in 0..WARM_UP + TIMED {
                let mut req = Request::get(path.as_str());
                if let Some(c) = cookie {
                    req = req.header("cookie", format!("{}={c}", auth::SESSION_COOKIE));
                }
                let started = Instant::now();
                let res = router
                    .clone()
                    .oneshot(req.body(Body::empty()).expect("request"))
                    .await
                    .expect("infallible");
                let status = res.status();
                let body = res.into_body().collect().await.expect("body").to_bytes();
                let elapsed = started.elapsed();
                assert!(
                    status.is_success(),
                    "{path}: {status} {}",
                    String::from_utf8_lossy(&body[..body.len().min(500)])
                );
                size = body.len();
                if i >= WARM_UP {
                    times.push(elapsed.as_secs_f64() * 1000.0);
                }
            }
            times.sort_by(f64::total_cmp);
            let at = |q: f64| times[((times.len() as f64 * q).ceil() as usize).saturating_sub(1)];
            println!(
                "| {label} (`{path}`) | {:.1} ms | {:.1} ms | {:.0} kB |",
                at(0.5),
                at(0.95),
                size as f64 / 1000.0
            );
        }
        national_report(&state, &router).await;
    }
    backends.drop_postgres().await;
    let _ = std::fs::remove_dir_all(&dir);
}

async fn session(
    state: &AppState,
    email: &str,
    org: Option<&str>,
    roles: &[Role],
    territories: &[&str],
) -> (String, ecarto::domain::competence::Actor) {
    let ctx = audit::Context::cli();
    let u = users::grant(
        &state.db,
        &ctx,
        users::Grant {
            email: email.into(),
            display_name: None,
            organisation: org.map(str::to_owned),
            roles: roles.to_vec(),
            territories: territories
                .iter()
                .map(|t| t.parse().expect("territory"))
                .collect(),
        },
    )
    .await
    .expect("grant");
    let cookie = auth::open_session(&state.db, &ctx, &state.config.auth, &u, "bench", None)
        .await
        .expect("session");
    let actor = users::actor(&state.db, &u).await.expect("actor");
    (cookie, actor)
}

/// The people, the files and the pages: `(label, path, session cookie)`.
async fn fixtures(state: &AppState) -> Vec<(&'static str, String, Option<String>)> {
    let db = &state.db;
    let colleges: Vec<(String, String)> = school::Entity::find()
        .select_only()
        .column(school::Column::Uai)
        .column(school::Column::Name)
        .filter(school::Column::CodeDepartement.eq("35"))
        .filter(school::Column::TypeEtablissement.eq("college"))
        .filter(school::Column::Secteur.eq("public"))
        .order_by_asc(school::Column::Uai)
        .limit(50)
        .into_tuple()
        .all(db)
        .await
        .expect("collèges");
    assert!(
        colleges.len() >= 20,
        "collèges of the 35: {}",
        colleges.len()
    );
    let (beta, _) = session(state, "parent@exemple.fr", None, &[], &[]).await;
    let (agent, agent_actor) = session(
        state,
        "numerique@ille-et-vilaine.fr",
        Some("departement:35"),
        &[Role::Contributor],
        &[],
    )
    .await;
    let (admin, _) = session(state, "admin@exemple.fr", None, &[Role::Admin], &[]).await;
    let organisation = ecarto::services::organisations::resolve(db, "departement:35")
        .await
        .expect("the département's organisation")
        .id;
    let (moderator, _) = session(
        state,
        "moderation@ac-rennes.fr",
        None,
        &[Role::Moderator],
        &["departement:35"],
    )
    .await;
    let csv = |broken: bool| {
        let mut out = "uai;date_inventaire;nb_terminaux;nb_tni;maintenance\n".to_owned();
        for (i, (uai, _)) in colleges.iter().enumerate() {
            let total = if broken && i % 5 == 0 {
                "beaucoup".to_owned()
            } else {
                (40 + i).to_string()
            };
            out.push_str(&format!(
                "{uai};2026-09-15;{total};{};collectivite\n",
                i % 7
            ));
        }
        out
    };
    let (sent, _) = submissions::submit(
        db,
        &state.config.validation,
        &state.config.public_base_url,
        &audit::Context::cli(),
        &agent_actor,
        submissions::NewSubmission {
            schema: "inventaire-equipement".into(),
            file_name: "inventaire.csv".into(),
            bytes: csv(false).into_bytes(),
            idempotency_key: None,
            supersedes: None,
        },
    )
    .await
    .expect("submission");
    let draft = drafts::create(
        db,
        &state.config.validation,
        &audit::Context::cli(),
        &agent_actor,
        "inventaire-equipement",
        "inventaire-a-corriger.csv",
        csv(true).as_bytes(),
    )
    .await
    .expect("draft");
    let school = &colleges[0].0;
    // A word of a school's name, as a visitor would type it.
    let q = colleges[0]
        .1
        .split_whitespace()
        .last()
        .unwrap_or("college")
        .to_owned();
    let none = None;
    vec![
        ("accueil", "/".into(), none.clone()),
        (
            "recherche",
            format!("/recherche?q={}", urlencode(&q)),
            none.clone(),
        ),
        ("carte", "/carte".into(), none.clone()),
        ("territoires", "/territoires".into(), none.clone()),
        (
            "département",
            "/territoires/departement/35".into(),
            none.clone(),
        ),
        (
            "établissements d'un département",
            "/etablissements?departement=35".into(),
            none.clone(),
        ),
        (
            "établissement",
            format!("/etablissements/{school}"),
            none.clone(),
        ),
        ("téléchargements", "/telechargements".into(), none.clone()),
        ("schémas", "/schemas".into(), none.clone()),
        ("connexion", "/connexion".into(), none.clone()),
        (
            "signaler une erreur",
            format!("/etablissements/{school}/signaler?champ=wifi"),
            Some(beta.clone()),
        ),
        ("mes signalements", "/mes-signalements".into(), Some(beta)),
        ("contribuer", "/contribuer".into(), Some(agent.clone())),
        (
            "rapport de validation (50 lignes, 10 en erreur)",
            format!("/contribuer/brouillons/{}", draft.id),
            Some(agent.clone()),
        ),
        (
            "mes contributions",
            "/mes-contributions".into(),
            Some(agent.clone()),
        ),
        (
            "une contribution",
            format!("/mes-contributions/{}", sent.id),
            Some(agent),
        ),
        (
            "file de relecture",
            "/moderation".into(),
            Some(moderator.clone()),
        ),
        (
            "envoi à relire (50 lignes)",
            format!("/moderation/{}", sent.id),
            Some(moderator),
        ),
        (
            "changements entre deux versions",
            "/telechargements/changements?de=1&a=2".into(),
            none.clone(),
        ),
        ("administration", "/admin".into(), Some(admin.clone())),
        (
            "demandes d'accès",
            "/admin/demandes".into(),
            Some(admin.clone()),
        ),
        (
            "organisations",
            "/admin/organisations".into(),
            Some(admin.clone()),
        ),
        (
            "une organisation",
            format!("/admin/organisations/{organisation}"),
            Some(admin.clone()),
        ),
        (
            "modérateurs",
            "/admin/moderateurs".into(),
            Some(admin.clone()),
        ),
        (
            "moissonnage",
            "/admin/moissonnage".into(),
            Some(admin.clone()),
        ),
        ("tâches", "/admin/taches".into(), Some(admin.clone())),
        ("journal", "/admin/journal".into(), Some(admin)),
    ]
}

/// A national file (one inventory row per school of the dataset) sent by the département's
/// agent: its report page is streamed, the check's progress first. Timed to the first byte
/// (the page's start, with the progress line) and to the last (the report).
async fn national_report(state: &AppState, router: &axum::Router) {
    let uais: Vec<String> = school::Entity::find()
        .select_only()
        .column(school::Column::Uai)
        .order_by_asc(school::Column::Uai)
        .into_tuple()
        .all(&state.db)
        .await
        .expect("schools");
    let mut file = "uai;date_inventaire;nb_terminaux;nb_tni;maintenance\n".to_owned();
    for (i, uai) in uais.iter().enumerate() {
        file.push_str(&format!(
            "{uai};2026-09-15;{};{};collectivite\n",
            20 + i % 200,
            i % 7
        ));
    }
    let (cookie, actor) = session(
        state,
        "national@ille-et-vilaine.fr",
        Some("departement:35"),
        &[Role::Contributor],
        &[],
    )
    .await;
    let draft = drafts::create(
        &state.db,
        &state.config.validation,
        &audit::Context::cli(),
        &actor,
        "inventaire-equipement",
        "inventaire-national.csv",
        file.as_bytes(),
    )
    .await
    .expect("national draft");
    let (mut first, mut last) = (Vec::new(), Vec::new());
    let mut size = 0;
    for _ in 0..5 {
        let req = Request::get(format!("/contribuer/brouillons/{}", draft.id))
            .header("cookie", format!("{}={cookie}", auth::SESSION_COOKIE))
            .body(Body::empty())
            .expect("request");
        let started = Instant::now();
        let res = router.clone().oneshot(req).await.expect("infallible");
        assert!(res.status().is_success(), "{}", res.status());
        let mut body = res.into_body();
        let mut bytes = 0;
        let mut at_first = None;
        while let Some(frame) = body.frame().await {
            let frame = frame.expect("frame");
            at_first.get_or_insert_with(|| started.elapsed());
            bytes += frame.data_ref().map_or(0, |d| d.len());
        }
        first.push(at_first.unwrap_or_default().as_secs_f64() * 1000.0);
        last.push(started.elapsed().as_secs_f64() * 1000.0);
        size = bytes;
    }
    first.sort_by(f64::total_cmp);
    last.sort_by(f64::total_cmp);
    println!(
        "\nrapport d'un fichier national ({} lignes, {:.0} kB) : première partie (titre, avancement) en {:.1} ms, page entière en {:.0} ms (médianes de 5 ; extrêmes {:.0}–{:.0} ms), {:.0} kB de page",
        uais.len(),
        file.len() as f64 / 1000.0,
        first[2],
        last[2],
        last[0],
        last[4],
        size as f64 / 1000.0
    );
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}
