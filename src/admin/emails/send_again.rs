//! "Send again": a new copy of a message queued, with its audit entry, in
//! one transaction.

use diesel_async::AsyncConnection;
use serde_json::json;

use crate::admin::audit::domain::Actor;
use crate::admin::audit::store as audit;
use crate::admin::auth::domain::StaffSession;
use crate::db::{DbError, DbPool};
use crate::mail::store as outbox;

/// Queues message `id` again; the new message's id, or `None` when there is
/// nothing to send again (no such message, or a link to an address's
/// orders, which the shopper asks for anew).
pub async fn send_again(
    db: &DbPool,
    staff: &StaffSession,
    id: i64,
) -> Result<Option<i64>, DbError> {
    let mut conn = db.get().await?;
    let queued = conn
        .transaction(async |conn| {
            let Some(copy) = outbox::send_again(conn, id).await? else {
                return Ok(None);
            };
            let actor = Actor::Staff {
                id: staff.staff_id,
                email: &staff.email,
            };
            let subject = format!("email:{id}");
            let after = json!({ "sent_again_as": format!("email:{copy}") });
            audit::record(conn, actor, "email.sent_again", &subject, None, Some(after)).await?;
            Ok::<_, diesel::result::Error>(Some(copy))
        })
        .await?;
    Ok(queued)
}
