//! The e-mail outbox: messages are written in the transaction of the event they tell about
//! (so a crash or an SMTP failure loses none), each under a dedup key (so none is queued
//! twice), and sent by `drain`, which every replica may run: a message is claimed by one
//! conditional update before it is sent.

use chrono::{DateTime, Duration, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Set, sea_query::Expr,
};
use serde::Serialize;

use crate::{entities::mail_outbox, services::mail::Mailer};

/// After this many failed attempts a message is given up (`failed`) and shows in the logs.
const MAX_ATTEMPTS: i32 = 8;
/// A message claimed this long ago by a replica that died is claimed again.
const STALE_CLAIM_MINUTES: i64 = 10;

/// Queues a message unless one with the same key exists. Call it inside the event's
/// transaction.
pub async fn enqueue<C: ConnectionTrait>(
    db: &C,
    dedup_key: &str,
    to: &str,
    subject: &str,
    body: String,
) -> Result<(), sea_orm::DbErr> {
    if mail_outbox::Entity::find()
        .filter(mail_outbox::Column::DedupKey.eq(dedup_key))
        .one(db)
        .await?
        .is_some()
    {
        return Ok(());
    }
    let now = Utc::now();
    mail_outbox::ActiveModel {
        dedup_key: Set(dedup_key.to_owned()),
        to_address: Set(to.to_owned()),
        subject: Set(subject.to_owned()),
        body: Set(body),
        status: Set("pending".into()),
        attempts: Set(0),
        created_at: Set(now),
        next_attempt_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(())
}

/// Waits before the next attempt: 1 min, 2, 4… up to 2 h.
fn backoff(attempts: i32) -> Duration {
    Duration::minutes((1i64 << attempts.clamp(0, 7)).min(120))
}

#[derive(Debug, Default, Serialize, PartialEq, Eq)]
pub struct DrainReport {
    pub sent: u64,
    pub retried: u64,
    pub failed: u64,
}

/// Sends what is due now.
pub async fn drain(
    db: &DatabaseConnection,
    mailer: &Mailer,
) -> Result<DrainReport, sea_orm::DbErr> {
    drain_at(db, mailer, Utc::now()).await
}

pub async fn drain_at(
    db: &DatabaseConnection,
    mailer: &Mailer,
    now: DateTime<Utc>,
) -> Result<DrainReport, sea_orm::DbErr> {
    let mut report = DrainReport::default();
    // Claims left by a replica that stopped mid-send go back to the queue.
    mail_outbox::Entity::update_many()
        .col_expr(mail_outbox::Column::Status, Expr::value("pending"))
        .filter(mail_outbox::Column::Status.eq("sending"))
        .filter(mail_outbox::Column::ClaimedAt.lt(now - Duration::minutes(STALE_CLAIM_MINUTES)))
        .exec(db)
        .await?;
    loop {
        let due = mail_outbox::Entity::find()
            .filter(mail_outbox::Column::Status.eq("pending"))
            .filter(mail_outbox::Column::NextAttemptAt.lte(now))
            .order_by_asc(mail_outbox::Column::Id)
            .limit(100)
            .all(db)
            .await?;
        if due.is_empty() {
            return Ok(report);
        }
        for m in due {
            let claimed = mail_outbox::Entity::update_many()
                .col_expr(mail_outbox::Column::Status, Expr::value("sending"))
                .col_expr(mail_outbox::Column::ClaimedAt, Expr::value(now))
                .filter(mail_outbox::Column::Id.eq(m.id))
                .filter(mail_outbox::Column::Status.eq("pending"))
                .exec(db)
                .await?
                .rows_affected;
            if claimed != 1 {
                continue;
            }
            let attempts = m.attempts + 1;
            let mut row: mail_outbox::ActiveModel = m.clone().into();
            row.attempts = Set(attempts);
            match mailer.send(&m.to_address, &m.subject, m.body.clone()).await {
                Ok(()) => {
                    row.status = Set("sent".into());
                    row.sent_at = Set(Some(Utc::now()));
                    row.last_error = Set(None);
                    report.sent += 1;
                }
                Err(e) if attempts >= MAX_ATTEMPTS => {
                    tracing::error!(id = m.id, error = %e, "e-mail given up");
                    row.status = Set("failed".into());
                    row.last_error = Set(Some(e.to_string()));
                    report.failed += 1;
                }
                Err(e) => {
                    tracing::warn!(id = m.id, error = %e, "e-mail will be retried");
                    row.status = Set("pending".into());
                    row.next_attempt_at = Set(now + backoff(attempts));
                    row.last_error = Set(Some(e.to_string()));
                    report.retried += 1;
                }
            }
            row.update(db).await?;
        }
    }
}

#[derive(Debug, Default, Serialize)]
pub struct OutboxCounts {
    pub pending: u64,
    pub sent: u64,
    pub failed: u64,
}

pub async fn counts(db: &DatabaseConnection) -> Result<OutboxCounts, sea_orm::DbErr> {
    use sea_orm::PaginatorTrait;
    let count = |status: &'static str| {
        mail_outbox::Entity::find()
            .filter(mail_outbox::Column::Status.eq(status))
            .count(db)
    };
    Ok(OutboxCounts {
        pending: count("pending").await?,
        sent: count("sent").await?,
        failed: count("failed").await?,
    })
}
