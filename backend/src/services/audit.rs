//! The append-only audit log of authentication and authorisation events. The table itself
//! refuses updates and deletes (triggers of the identity migration).

use chrono::Utc;
use sea_orm::{ActiveModelTrait, ConnectionTrait, EntityTrait, QueryOrder, QuerySelect, Set};
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
