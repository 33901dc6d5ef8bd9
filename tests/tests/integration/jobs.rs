//! Scheduled jobs: one run per tick across replicas, retries, history, manual runs.

use std::sync::{
    Arc,
    atomic::{AtomicU32, Ordering},
};

use axum::http::{Method, StatusCode};
use ecarto::{app::AppState, jobs};
use ecarto_tests::TestApp;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_run_each_tick_once() {
    let app = TestApp::new().await;
    // A second instance of the platform on the same database.
    let other = AppState::start(app.state.config.as_ref().clone())
        .await
        .expect("second replica");
    let tick = jobs::tick_of(chrono::Utc::now(), 30);
    let (a, b) = tokio::join!(
        jobs::run(&app.state, "outbox", &tick, "schedule"),
        jobs::run(&other, "outbox", &tick, "schedule"),
    );
    let ran: Vec<_> = [a.unwrap(), b.unwrap()].into_iter().flatten().collect();
    assert_eq!(ran.len(), 1, "exactly one replica ran the tick");
    assert_eq!(ran[0].status, "succeeded");
    let history = jobs::history(&app.state, Some("outbox"), 10).await.unwrap();
    assert_eq!(history.len(), 1);
    // The next tick runs again.
    let next = jobs::tick_of(chrono::Utc::now() + chrono::Duration::seconds(30), 30);
    assert!(
        jobs::run(&other, "outbox", &next, "schedule")
            .await
            .unwrap()
            .is_some()
    );
}

#[tokio::test]
async fn a_failing_job_is_retried_then_reported() {
    let app = TestApp::new().await;
    let calls = Arc::new(AtomicU32::new(0));
    let c = Arc::clone(&calls);
    let run = jobs::run_with(&app.state, "flaky", "t1", "schedule", move || {
        let c = Arc::clone(&c);
        Box::pin(async move {
            if c.fetch_add(1, Ordering::SeqCst) < 2 {
                Err("base indisponible".into())
            } else {
                Ok(json!({"done": 1}))
            }
        })
    })
    .await
    .unwrap()
    .unwrap();
    assert_eq!((run.status.as_str(), run.attempts), ("succeeded", 3));
    let run = jobs::run_with(&app.state, "broken", "t1", "schedule", || {
        Box::pin(async { Err("toujours en panne".into()) })
    })
    .await
    .unwrap()
    .unwrap();
    assert_eq!(run.status, "failed");
    assert_eq!(run.attempts, 3);
    assert_eq!(run.error.as_deref(), Some("toujours en panne"));
    assert!(run.finished_at.is_some());
}

#[tokio::test]
async fn admins_run_a_job_now_and_read_the_history() {
    let app = TestApp::new().await;
    let admin = app
        .session_for("admin@exemple.fr", None, &["admin"], &[])
        .await;
    let res = app
        .call(
            Some(&admin),
            Method::POST,
            "/api/v1/admin/jobs/digest/run",
            None,
        )
        .await;
    res.assert_status(StatusCode::OK);
    assert_eq!(res.json()["status"], "succeeded");
    assert_eq!(res.json()["trigger"], "api");
    app.call(
        Some(&admin),
        Method::POST,
        "/api/v1/admin/jobs/inconnue/run",
        None,
    )
    .await
    .assert_status(StatusCode::NOT_FOUND);
    // Manual runs never collide with each other.
    jobs::run_now(&app.state, "digest", "cli").await.unwrap();
    let runs = app
        .call(
            Some(&admin),
            Method::GET,
            "/api/v1/admin/jobs/runs?job=digest",
            None,
        )
        .await
        .json();
    assert_eq!(runs.as_array().unwrap().len(), 2, "{runs}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_scheduler_runs_jobs_on_their_cron() {
    let app = TestApp::with_config(|c| {
        c.cron.insert("outbox".into(), "* * * * * *".into());
    })
    .await;
    let mut scheduler = jobs::start(app.state.clone()).await.expect("scheduler");
    let started = std::time::Instant::now();
    loop {
        let runs = jobs::history(&app.state, Some("outbox"), 10).await.unwrap();
        if runs
            .iter()
            .any(|r| r.trigger == "schedule" && r.status == "succeeded")
        {
            break;
        }
        assert!(
            started.elapsed().as_secs() < 10,
            "no scheduled run: {runs:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    scheduler.shutdown().await.ok();
}

#[tokio::test]
async fn the_purge_job_deletes_what_has_expired_and_nothing_else() {
    let app = TestApp::with_config(|c| {
        c.auth.session_absolute = chrono::Duration::seconds(-1);
    })
    .await;
    let dead = app
        .session_for("ancien@exemple.fr", None, &["beta-tester"], &[])
        .await;
    // A week-old idle check after merges goes; a recent one and a real recompute stay.
    for (counts, days) in [
        (r#"{"skipped":"aucune fusion"}"#, 8),
        (r#"{"skipped":"aucune fusion"}"#, 1),
        (r#"{"written":3}"#, 8),
    ] {
        use sea_orm::{ActiveModelTrait, Set};
        ecarto::entities::job_run::ActiveModel {
            job: Set("completeness_touched".into()),
            tick: Set(format!("{counts}{days}")),
            trigger: Set("schedule".into()),
            started_at: Set(chrono::Utc::now() - chrono::Duration::days(days)),
            status: Set("succeeded".into()),
            attempts: Set(1),
            counts: Set(counts.into()),
            ..Default::default()
        }
        .insert(&app.state.db)
        .await
        .unwrap();
    }
    let run = jobs::run_now(&app.state, "purge", "cli").await.unwrap();
    assert_eq!(run.status, "succeeded");
    assert_eq!(run.counts["sessions"], 1, "{:?}", run.counts);
    assert_eq!(run.counts["idle_job_runs"], 1, "{:?}", run.counts);
    use sea_orm::EntityTrait;
    let left =
        ecarto::entities::session::Entity::find_by_id(ecarto::services::auth::hash(&dead.cookie))
            .one(&app.state.db)
            .await
            .unwrap();
    assert!(left.is_none());
    // A live session elsewhere stays.
    let live_app = TestApp::new().await;
    let live = live_app
        .session_for("actif@exemple.fr", None, &["beta-tester"], &[])
        .await;
    jobs::run_now(&live_app.state, "purge", "cli")
        .await
        .unwrap();
    live_app
        .call(Some(&live), Method::GET, "/api/v1/me", None)
        .await
        .assert_status(StatusCode::OK);
}
