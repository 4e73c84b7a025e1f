//! Shipping an order (with its shipment notice), and resolving an order's
//! issue: each with its audit entry, in one transaction.

use diesel_async::AsyncConnection;
use serde_json::json;

use super::domain::ShipOutcome;
use super::store;
use crate::admin::audit::domain::Actor;
use crate::admin::audit::store as audit;
use crate::admin::auth::domain::StaffSession;
use crate::db::{DbError, DbPool};
use crate::orders::domain::Order;

fn actor(staff: &StaffSession) -> Actor<'_> {
    Actor::Staff {
        id: staff.staff_id,
        email: &staff.email,
    }
}

/// Marks the order shipped, with its audit entry when it was not already.
pub async fn ship(
    db: &DbPool,
    staff: &StaffSession,
    order: &Order,
    carrier: Option<&str>,
    tracking_url: Option<&str>,
) -> Result<ShipOutcome, DbError> {
    let mut conn = db.get().await?;
    let shipped = conn
        .transaction(async |conn| {
            let outcome =
                store::mark_shipped(conn, order.id, staff.staff_id, carrier, tracking_url).await?;
            if outcome != ShipOutcome::Shipped {
                return Ok(outcome);
            }
            audit::record(
                conn,
                actor(staff),
                "order.shipped",
                &format!("order:{}", order.number),
                Some(json!({"shipped": false})),
                Some(json!({"shipped": true, "carrier": carrier, "tracking_url": tracking_url})),
            )
            .await?;
            Ok::<_, diesel::result::Error>(ShipOutcome::Shipped)
        })
        .await?;
    Ok(shipped)
}

/// Resolves an open issue; `false` if it was not open.
pub async fn resolve_issue(
    db: &DbPool,
    staff: &StaffSession,
    issue_id: i64,
) -> Result<bool, DbError> {
    let mut conn = db.get().await?;
    let resolved = conn
        .transaction(async |conn| {
            let Some((order_id, kind)) = store::resolve_issue(conn, issue_id, &staff.email).await?
            else {
                return Ok(false);
            };
            audit::record(
                conn,
                actor(staff),
                "order.issue_resolved",
                &format!("issue:{issue_id}"),
                Some(json!({"order_id": order_id, "kind": kind, "resolved": false})),
                Some(json!({"order_id": order_id, "kind": kind, "resolved": true})),
            )
            .await?;
            Ok::<_, diesel::result::Error>(true)
        })
        .await?;
    Ok(resolved)
}
