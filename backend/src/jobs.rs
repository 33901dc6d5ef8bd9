//! Scheduled jobs (tokio-cron-scheduler): each tick of each job runs once whatever the number
//! of replicas — the run's row in `job_runs`, unique per (job, tick), is its claim — is retried
//! on failure within its tick, and leaves a history (start, end, status, counts, error).
//!
//! The wiring lives here rather than in the `jobs/` folder: the jobs call the backend's
//! services and `serve` starts them, so a separate crate would depend on the backend and be
//! depended on by it.

use std::{future::Future, pin::Pin, time::Duration};

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set,
};
use serde::Serialize;
use serde_json::{Value, json};
use tokio_cron_scheduler::{Job, JobScheduler};

use crate::{
    app::AppState,
    entities::job_run,
    error::{AppError, AppResult},
    services::{harvest, outbox, scores, submissions},
};

/// The jobs, their default schedule (6-field cron, seconds first, UTC) and the period a tick
/// stands for.
pub const JOBS: [(&str, &str, i64); 6] = [
    // E-mails due: every 30 s.
    ("outbox", "*/30 * * * * *", 30),
    // Moderators' daily digests: queued hourly, one per moderator and day by key.
    ("digest", "0 0 * * * *", 3600),
    // Expired sessions, sign-in links, OpenID attempts and rate-limit events: hourly.
    ("purge", "0 30 * * * *", 3600),
    // Completeness, quality and indicators of every territory: nightly at 02:15 UTC.
    ("completeness", "0 15 2 * * *", 86_400),
    // The territories touched by merges, once the dataset has been quiet for the debounce
    // delay: checked every minute.
    ("completeness_touched", "30 * * * * *", 60),
    // Files registered on organisations' own portals: hourly (an unchanged file costs a 304).
    ("harvest", "0 45 * * * *", 3600),
];

/// Attempts of a failing run within its tick.
const ATTEMPTS: i32 = 3;

pub type JobFuture<'a> = Pin<Box<dyn Future<Output = Result<Value, String>> + Send + 'a>>;

/// What a job does; the counts it returns go to its run's history.
fn body(state: &AppState, job: &str) -> Option<JobFuture<'static>> {
    let state = state.clone();
    match job {
        "outbox" => Some(Box::pin(async move {
            outbox::drain(&state.db, &state.mailer)
                .await
                .map(|r| json!(r))
                .map_err(|e| e.to_string())
        })),
        "digest" => Some(Box::pin(async move {
            submissions::daily_digest(&state.db, &state.config.public_base_url)
                .await
                .map(|n| json!({"digests": n}))
                .map_err(|e| e.to_string())
        })),
        "completeness" => Some(Box::pin(async move {
            scores::recompute_full(&state.db, &state.config.scores)
                .await
                .map(|o| json!(o))
                .map_err(|e| e.to_string())
        })),
        "completeness_touched" => Some(Box::pin(async move {
            scores::recompute_touched(&state.db, &state.config.scores)
                .await
                .map(|o| json!(o))
                .map_err(|e| e.to_string())
        })),
        "harvest" => Some(Box::pin(async move {
            harvest::harvest_all(&state.db, &state.config)
                .await
                .map(|c| json!(c))
                .map_err(|e| e.to_string())
        })),
        "purge" => Some(Box::pin(async move {
            crate::services::auth::purge_expired(&state.db)
                .await
                .map(|p| json!(p))
                .map_err(|e| e.to_string())
        })),
        _ => None,
    }
}

pub fn is_known(job: &str) -> bool {
    JOBS.iter().any(|(j, _, _)| *j == job)
}

/// The tick `now` belongs to, for a job of that period: the same on every replica.
pub fn tick_of(now: DateTime<Utc>, period_secs: i64) -> String {
    let t = now.timestamp().div_euclid(period_secs) * period_secs;
    DateTime::from_timestamp(t, 0).unwrap_or(now).to_rfc3339()
}

#[derive(Debug, Serialize)]
pub struct RunView {
    pub id: i64,
    pub job: String,
    pub tick: String,
    pub trigger: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub status: String,
    pub attempts: i32,
    pub counts: Value,
    pub error: Option<String>,
}

impl From<job_run::Model> for RunView {
    fn from(r: job_run::Model) -> Self {
        Self {
            counts: serde_json::from_str(&r.counts).unwrap_or(Value::Null),
            id: r.id,
            job: r.job,
            tick: r.tick,
            trigger: r.trigger,
            started_at: r.started_at,
            finished_at: r.finished_at,
            status: r.status,
            attempts: r.attempts,
            error: r.error,
        }
    }
}

/// Runs `job` for `tick` unless another replica already has: `None` then.
pub async fn run(
    state: &AppState,
    job: &str,
    tick: &str,
    trigger: &str,
) -> AppResult<Option<RunView>> {
    if !is_known(job) {
        return Err(AppError::NotFound(format!(
            "tâche inconnue « {job} » : {}",
            JOBS.map(|(j, _, _)| j).join(", ")
        )));
    }
    let state2 = state.clone();
    let job2 = job.to_owned();
    run_with(state, job, tick, trigger, move || {
        body(&state2, &job2).unwrap_or_else(|| Box::pin(async { Err("tâche inconnue".into()) }))
    })
    .await
}

/// [`run`] with the job's body given: the claim, the retries and the history are the same
/// for every job (and testable with a body that fails).
pub async fn run_with(
    state: &AppState,
    job: &str,
    tick: &str,
    trigger: &str,
    mut body: impl FnMut() -> JobFuture<'static>,
) -> AppResult<Option<RunView>> {
    let claim = job_run::ActiveModel {
        job: Set(job.to_owned()),
        tick: Set(tick.to_owned()),
        trigger: Set(trigger.to_owned()),
        started_at: Set(Utc::now()),
        status: Set("running".into()),
        attempts: Set(0),
        counts: Set("{}".into()),
        ..Default::default()
    }
    .insert(&state.db)
    .await;
    let run = match claim {
        Ok(r) => r,
        Err(e) => {
            // Another replica claimed this tick: the unique (job, tick) refused us.
            let taken = job_run::Entity::find()
                .filter(job_run::Column::Job.eq(job))
                .filter(job_run::Column::Tick.eq(tick))
                .one(&state.db)
                .await?
                .is_some();
            if taken {
                tracing::debug!(job, tick, "another process ran this tick");
                return Ok(None);
            }
            return Err(e.into());
        }
    };
    tracing::debug!(job, tick, "job run claimed");
    let mut attempts = 0;
    let outcome = loop {
        attempts += 1;
        match body().await {
            Ok(counts) => break Ok(counts),
            Err(e) if attempts < ATTEMPTS => {
                tracing::warn!(job, attempts, error = %e, "job failed, retrying");
                tokio::time::sleep(Duration::from_millis(200 * attempts as u64)).await;
            }
            Err(e) => break Err(e),
        }
    };
    // A job may have published, imported or scored: this replica reads the state again.
    state.answers.changed();
    let mut m: job_run::ActiveModel = run.into();
    m.attempts = Set(attempts);
    m.finished_at = Set(Some(Utc::now()));
    match &outcome {
        Ok(counts) => {
            m.status = Set("succeeded".into());
            m.counts = Set(counts.to_string());
        }
        Err(e) => {
            tracing::error!(job, error = %e, "job failed");
            m.status = Set("failed".into());
            m.error = Set(Some(e.clone()));
        }
    }
    Ok(Some(m.update(&state.db).await?.into()))
}

/// A manual run (CLI, admin API): its own tick, so it never collides with a scheduled one.
pub async fn run_now(state: &AppState, job: &str, trigger: &str) -> AppResult<RunView> {
    let tick = format!("{trigger}:{}", Utc::now().to_rfc3339());
    run(state, job, &tick, trigger)
        .await?
        .ok_or_else(|| AppError::Conflict(format!("la tâche {job} tourne déjà")))
}

pub async fn history(state: &AppState, job: Option<&str>, limit: u64) -> AppResult<Vec<RunView>> {
    let mut q = job_run::Entity::find().order_by_desc(job_run::Column::Id);
    if let Some(j) = job {
        q = q.filter(job_run::Column::Job.eq(j));
    }
    Ok(q.limit(limit)
        .all(&state.db)
        .await?
        .into_iter()
        .map(Into::into)
        .collect())
}

/// Starts the scheduler with every job on its cron (overridable per job by
/// `ECARTO_CRON_<JOB>` through the configuration).
pub async fn start(state: AppState) -> Result<JobScheduler, String> {
    let sched = JobScheduler::new().await.map_err(|e| e.to_string())?;
    for (job, default_cron, period) in JOBS {
        let cron = state
            .config
            .cron
            .get(job)
            .cloned()
            .unwrap_or_else(|| default_cron.to_owned());
        let state = state.clone();
        let j = Job::new_async(cron.as_str(), move |_id, _lock| {
            let state = state.clone();
            Box::pin(async move {
                let tick = tick_of(Utc::now(), period);
                if let Err(e) = run(&state, job, &tick, "schedule").await {
                    tracing::error!(job, error = %e, "scheduled job could not run");
                }
            })
        })
        .map_err(|e| format!("tâche {job}, planification « {cron} » : {e}"))?;
        sched.add(j).await.map_err(|e| e.to_string())?;
    }
    sched.start().await.map_err(|e| e.to_string())?;
    Ok(sched)
}
