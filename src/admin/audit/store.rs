//! Writing and reading the audit log.

use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde_json::Value;

use super::domain::{Actor, AuditEntry, AuditFilter};
use crate::db::schema::audit_log;

/// Records an action; call in the action's transaction.
pub async fn record(
    conn: &mut AsyncPgConnection,
    actor: Actor<'_>,
    action: &str,
    subject: &str,
    before: Option<Value>,
    after: Option<Value>,
) -> QueryResult<()> {
    diesel::insert_into(audit_log::table)
        .values((
            audit_log::staff_id.eq(actor.staff_id()),
            audit_log::actor.eq(actor.name()),
            audit_log::action.eq(action),
            audit_log::subject.eq(subject),
            audit_log::before.eq(before),
            audit_log::after.eq(after),
        ))
        .execute(conn)
        .await
        .map(drop)
}

/// Up to `limit` entries, newest first, older than entry `before` if given.
pub async fn list(
    conn: &mut AsyncPgConnection,
    filter: &AuditFilter,
    before: Option<i64>,
    limit: i64,
) -> QueryResult<Vec<AuditEntry>> {
    let mut query = audit_log::table
        .order_by(audit_log::id.desc())
        .limit(limit)
        .select(AuditEntry::as_select())
        .into_boxed();
    if let Some(before) = before {
        query = query.filter(audit_log::id.lt(before));
    }
    if let Some(staff_id) = filter.staff_id {
        query = query.filter(audit_log::staff_id.eq(staff_id));
    }
    if let Some(subject) = &filter.subject {
        query = query.filter(audit_log::subject.eq(subject.clone()));
    }
    query.load(conn).await
}
