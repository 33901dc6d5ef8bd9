//! Benchmark: the public API under load, on PostgreSQL with the 65,000-school synthetic dataset
//! (annuaire, ETIC survey, scores), driven by Debian's `wrk` on loopback. The platform runs in
//! this process with its whole router (security headers, CSRF layer, conditional GETs), as
//! `serve` does.
//!
//! 1. Throughput: `GET /api/v1/schools/{uai}` over every UAI in turn, then a bare axum handler
//!    answering a fixed JSON of the same size, with the same wrk settings, in the same run; the
//!    ratio of the two is the figure (target ≥ 50 %). The platform is measured twice: with its
//!    cache of answers off (every answer read from the database), and with it once every
//!    school has been asked for once (the steady state between two publications).
//! 2. Held load: a mix of school pages, a département's schools, a territory's completeness and
//!    the national CSV export (1 request in 2,000), at `--rate` requests/s (1,000) for
//!    `--duration` seconds (300): errors, and the latency percentiles wrk reports (target p99
//!    < 50 ms, 0 errors).
//!
//! `cargo bench -p ecarto-backend --bench load [-- --schools N --rate R --duration S]`
//! (installs Debian's `wrk` when it is missing).

use std::{net::SocketAddr, path::Path, process::Command, time::Duration};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use axum::{Router, routing::get};
use ecarto::{
    app::AppState,
    bench_support::{self, SyntheticAnnuaire, synthetic_annuaire},
    config::Config,
    entities::school,
    http::answer_cache::AnswerCache,
};
use futures_util::StreamExt;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

const SEED: u64 = 2018;

fn main() {
    bench_support::main(parent, |_| async {});
}

async fn serve(router: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a local port");
    let addr = listener.local_addr().expect("address");
    tokio::spawn(async move {
        let _ = axum::serve(
            listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await;
    });
    addr
}

/// What wrk printed, and the figures read from it.
struct Run {
    requests_per_s: f64,
    p50: String,
    p99: String,
    errors: u64,
    requests: u64,
    output: String,
}

/// Debian's wrk, installed when missing, as `scripts/test` does for the tests' tools.
fn ensure_wrk() {
    if Command::new("wrk").arg("--version").output().is_ok() {
        return;
    }
    println!("installing wrk (Debian) for the load bench");
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0"));
    let apt = |args: &[&str]| {
        let mut c = if root {
            Command::new("apt-get")
        } else {
            let mut c = Command::new("sudo");
            c.arg("apt-get");
            c
        };
        c.args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .status()
            .is_ok_and(|s| s.success())
    };
    assert!(
        apt(&["update", "-qq"]) && apt(&["install", "-y", "-qq", "--no-install-recommends", "wrk"]),
        "wrk could not be installed: apt-get install wrk"
    );
}

fn wrk(script: &Path, url: &str, threads: u32, connections: u32, seconds: u64) -> Run {
    let out = Command::new("wrk")
        .args([
            "-t",
            &threads.to_string(),
            "-c",
            &connections.to_string(),
            "-d",
            &format!("{seconds}s"),
            "--timeout",
            "10s",
            "--latency",
            "-s",
            script.to_str().expect("script path"),
            url,
        ])
        .output()
        .expect("wrk (apt-get install wrk)");
    let output = String::from_utf8_lossy(&out.stdout).into_owned();
    let field = |prefix: &str| {
        output
            .lines()
            .map(str::trim)
            .find_map(|l| l.strip_prefix(prefix))
            .map(|v| v.trim().to_owned())
    };
    let number = |s: Option<String>| {
        s.and_then(|v| v.split_whitespace().next().map(str::to_owned))
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    let socket_errors: u64 = field("Socket errors:").map_or(0, |v| {
        v.split(',')
            .filter_map(|p| p.split_whitespace().last()?.parse::<u64>().ok())
            .sum()
    });
    let non_2xx = number(field("Non-2xx or 3xx responses:")) as u64;
    let requests = output
        .lines()
        .find(|l| l.contains("requests in"))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    Run {
        requests_per_s: number(field("Requests/sec:")),
        p50: field("50%").unwrap_or_default(),
        p99: field("99%").unwrap_or_default(),
        errors: socket_errors + non_2xx,
        requests,
        output,
    }
}

async fn parent(schools: usize) {
    ensure_wrk();
    let rate = bench_support::arg("--rate", 1_000);
    let duration = bench_support::arg("--duration", 300);
    let SyntheticAnnuaire { dir, file, .. } = synthetic_annuaire("load", schools, SEED);
    let backends = bench_support::BenchBackends::new(&dir, "ecarto_bench_load").await;
    let Some((_, url)) = backends.urls.iter().find(|(n, _)| *n == "postgres") else {
        println!("PostgreSQL not reachable: this benchmark runs on PostgreSQL only");
        return;
    };
    let mut config = Config::embedded(dir.join("data"), "http://127.0.0.1:8080".into());
    config.database_url = url.clone();
    let state = AppState::start(config).await.expect("app starts");
    bench_support::load_national(&state, &file, SEED).await;
    let uais: Vec<String> = school::Entity::find()
        .select_only()
        .column(school::Column::Uai)
        .filter(school::Column::PresenceAnnuaire.eq("present"))
        .order_by_asc(school::Column::Uai)
        .into_tuple()
        .all(&state.db)
        .await
        .expect("UAIs");
    let platform = serve(state.router()).await;
    let uncached = serve(
        AppState {
            answers: std::sync::Arc::new(AnswerCache::new(0)),
            ..state.clone()
        }
        .router(),
    )
    .await;

    // A bare handler answering the bytes of one school's answer.
    let sample = reqwest::get(format!("http://{platform}/api/v1/schools/{}", uais[0]))
        .await
        .expect("a school")
        .text()
        .await
        .expect("its body");
    let fixed: &'static str = Box::leak(sample.clone().into_boxed_str());
    let bare = serve(Router::new().route(
        "/api/v1/schools/{uai}",
        get(move || async move { ([("content-type", "application/json")], fixed) }),
    ))
    .await;

    // Scripts: every UAI in turn; the mixed load at a set rate per connection.
    let list = uais
        .iter()
        .map(|u| format!("\"{u}\""))
        .collect::<Vec<_>>()
        .join(",");
    let schools_lua = dir.join("schools.lua");
    std::fs::write(
        &schools_lua,
        format!(
            "local uais = {{{list}}}\nlocal i = 0\nrequest = function()\n  i = i % #uais + 1\n  return wrk.format(\"GET\", \"/api/v1/schools/\" .. uais[i])\nend\n"
        ),
    )
    .expect("script");
    let connections: u32 = 50;
    // Each connection waits this long after each answer: `rate` in all, plus 5 % for the
    // time the answers take (wrk's delay runs after the answer).
    let delay_ms = (1000.0 * f64::from(connections) / (rate as f64 * 1.05)).max(0.0);
    let mixed_lua = dir.join("mixed.lua");
    std::fs::write(
        &mixed_lua,
        format!(
            "local uais = {{{list}}}\nlocal deps = {{\"35\",\"75\",\"13\",\"69\",\"59\",\"33\",\"2A\",\"971\"}}\nlocal n = 0\n\
             math.randomseed(2018)\n\
             delay = function() return {delay_ms:.3} end\n\
             request = function()\n  n = n + 1\n\
               if n % 2000 == 0 then return wrk.format(\"GET\", \"/api/v1/exports/schools.csv\") end\n\
               local r = n % 10\n\
               if r < 6 then return wrk.format(\"GET\", \"/api/v1/schools/\" .. uais[math.random(#uais)]) end\n\
               if r < 8 then return wrk.format(\"GET\", \"/api/v1/schools?departement=\" .. deps[math.random(#deps)]) end\n\
               return wrk.format(\"GET\", \"/api/v1/territories/departement/\" .. deps[math.random(#deps)])\n\
             end\n"
        ),
    )
    .expect("script");

    println!(
        "synthetic dataset: {schools} schools on PostgreSQL; wrk on loopback, this 2-core machine"
    );
    // Warm up each, then the same settings for each.
    let _ = wrk(&schools_lua, &format!("http://{uncached}"), 2, 16, 5);
    let cold = wrk(&schools_lua, &format!("http://{uncached}"), 2, 16, 20);
    // Every school asked for once: the cache holds them all, as between two publications.
    let started = std::time::Instant::now();
    let client = reqwest::Client::new();
    futures_util::stream::iter(uais.iter())
        .for_each_concurrent(8, |uai| {
            let client = client.clone();
            async move {
                let res = client
                    .get(format!("http://{platform}/api/v1/schools/{uai}"))
                    .send()
                    .await
                    .expect("a school");
                assert!(res.status().is_success(), "{uai}: {}", res.status());
                res.bytes().await.expect("its body");
            }
        })
        .await;
    let (kept, bytes) = state.answers.usage();
    let filled = started.elapsed();
    let _ = wrk(&schools_lua, &format!("http://{platform}"), 2, 16, 5);
    let app = wrk(&schools_lua, &format!("http://{platform}"), 2, 16, 20);
    let _ = wrk(&schools_lua, &format!("http://{bare}"), 2, 16, 5);
    let reference = wrk(&schools_lua, &format!("http://{bare}"), 2, 16, 20);
    let row = |name: &str, r: &Run| {
        format!(
            "| {name} | {:.0} | {} | {} | {} | {:.1} % |",
            r.requests_per_s,
            r.p50,
            r.p99,
            r.errors,
            100.0 * r.requests_per_s / reference.requests_per_s.max(1.0)
        )
    };
    println!(
        "\n1. GET /api/v1/schools/{{uai}} ({} bytes), 2 threads × 16 connections, 20 s each:\n\
         | | requests/s | p50 | p99 | errors | of bare |\n| --- | ---: | ---: | ---: | ---: | ---: |\n\
         {}\n{}\n{}\n\
         cache filled with every school in {:.1} s: {kept} answers, {:.0} MB",
        sample.len(),
        row("platform, cache off", &cold),
        row("platform, every school asked once", &app),
        row("bare axum handler, same bytes", &reference),
        filled.as_secs_f64(),
        bytes as f64 / 1e6,
    );

    tokio::time::sleep(Duration::from_secs(2)).await;
    let held = wrk(
        &mixed_lua,
        &format!("http://{platform}"),
        2,
        connections,
        duration,
    );
    let (kept, bytes) = state.answers.usage();
    println!(
        "\n2. mixed load, {connections} connections paced for {rate} requests/s, {duration} s:\n\
         {} requests ({:.0}/s), errors {}, p50 {}, p99 {}; cache after: {kept} answers, {:.0} MB\n\n\
         wrk's own report:\n{}",
        held.requests,
        held.requests_per_s,
        held.errors,
        held.p50,
        held.p99,
        bytes as f64 / 1e6,
        held.output
    );
    backends.drop_postgres().await;
    let _ = std::fs::remove_dir_all(&dir);
}
