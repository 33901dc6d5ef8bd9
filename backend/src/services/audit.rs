//! The append-only audit log of authentication and authorisation events. The table itself
//! refuses updates and deletes (triggers of the identity migration).

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, Set,
};
use serde_json::Value;

use crate::entities::audit_entry;

/// Who did it and from where, as the HTTP layer or the CLI knows it.
#[derive(Debug, Clone, Default)]
pub struct Context {
    pub actor: Option<i64>,
    pub ip: Option<String>,
}

impl Context {
    pub fn cli() -> Self {
        Self {
            actor: None,
            ip: Some("cli".into()),
        }
    }
}

pub async fn record<C: ConnectionTrait>(
    db: &C,
    ctx: &Context,
    event: &str,
    subject: Option<String>,
    detail: Value,
) -> Result<(), sea_orm::DbErr> {
    audit_entry::ActiveModel {
        at: Set(Utc::now()),
        actor_user_id: Set(ctx.actor),
        event: Set(event.to_owned()),
        subject: Set(subject),
        detail: Set(detail.to_string()),
        ip: Set(ctx.ip.clone()),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(())
}

/// The latest entries, newest first.
pub async fn latest<C: ConnectionTrait>(
    db: &C,
    limit: u64,
) -> Result<Vec<audit_entry::Model>, sea_orm::DbErr> {
    audit_entry::Entity::find()
        .order_by_desc(audit_entry::Column::Id)
        .limit(limit)
        .all(db)
        .await
}

/// Which entries to read: every part optional, all of them together.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// An event (`competence.added`), or a family by its first word (`competence`).
    pub event: Option<String>,
    pub actor: Option<i64>,
    /// Words the subject contains (an address, `organisation:12`…).
    pub subject: Option<String>,
    /// From this instant on.
    pub from: Option<DateTime<Utc>>,
    /// Before this instant.
    pub until: Option<DateTime<Utc>>,
}

/// The entries that match, newest first, `limit` of them after skipping `offset`, and how many
/// match in all.
pub async fn search<C: ConnectionTrait>(
    db: &C,
    filter: &Filter,
    offset: u64,
    limit: u64,
) -> Result<(Vec<audit_entry::Model>, u64), sea_orm::DbErr> {
    let mut q = audit_entry::Entity::find();
    if let Some(e) = filter
        .event
        .as_deref()
        .map(str::trim)
        .filter(|e| !e.is_empty())
    {
        let family = format!("{}.", e.trim_end_matches('.'));
        q = q.filter(
            Condition::any()
                .add(audit_entry::Column::Event.eq(e))
                .add(audit_entry::Column::Event.starts_with(&family)),
        );
    }
    if let Some(a) = filter.actor {
        q = q.filter(audit_entry::Column::ActorUserId.eq(a));
    }
    if let Some(s) = filter
        .subject
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        q = q.filter(audit_entry::Column::Subject.contains(s));
    }
    if let Some(from) = filter.from {
        q = q.filter(audit_entry::Column::At.gte(from));
    }
    if let Some(until) = filter.until {
        q = q.filter(audit_entry::Column::At.lt(until));
    }
    let total = q.clone().count(db).await?;
    let entries = q
        .order_by_desc(audit_entry::Column::Id)
        .offset(offset)
        .limit(limit)
        .all(db)
        .await?;
    Ok((entries, total))
}

/// The events the log holds, in alphabetical order (for a filter's choices).
pub async fn event_names<C: ConnectionTrait>(db: &C) -> Result<Vec<String>, sea_orm::DbErr> {
    audit_entry::Entity::find()
        .select_only()
        .column(audit_entry::Column::Event)
        .distinct()
        .order_by_asc(audit_entry::Column::Event)
        .into_tuple::<String>()
        .all(db)
        .await
}
