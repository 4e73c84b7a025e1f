//! The `refunds` table: a refund is saved (with its idempotency key) before
//! Stripe is called, then gets Stripe's answer and events; items it
//! returns go back to stock once, when Stripe has taken it.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Integer, Nullable};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde_json::Value;

use super::domain::RefundLine;
use crate::db::Statement;
use crate::db::schema::{order_items, refunds, staff};
use crate::ledger::domain::RefundStatus;
use crate::money::{Currency, Money};

/// A refund as stored.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = refunds, check_for_backend(diesel::pg::Pg))]
pub struct RefundRecord {
    pub id: i64,
    pub order_id: Option<i64>,
    pub amount_minor: i64,
    pub reason: Option<String>,
    pub status: String,
    pub stripe_refund_id: Option<String>,
    pub restock: Value,
    pub restocked_at: Option<DateTime<Utc>>,
}

impl RefundRecord {
    pub fn status(&self) -> RefundStatus {
        RefundStatus::parse(&self.status).unwrap_or(RefundStatus::Requested)
    }

    /// The items it returns to stock: (order item id, quantity).
    pub fn restock_lines(&self) -> Vec<(i64, i32)> {
        serde_json::from_value::<Vec<RestockLine>>(self.restock.clone())
            .unwrap_or_default()
            .into_iter()
            .map(|line| (line.order_item_id, line.quantity))
            .collect()
    }
}

#[derive(serde::Serialize, serde::Deserialize)]
struct RestockLine {
    order_item_id: i64,
    quantity: i32,
}

pub async fn by_key(conn: &mut AsyncPgConnection, key: &str) -> QueryResult<Option<RefundRecord>> {
    refunds::table
        .filter(refunds::idempotency_key.eq(key))
        .select(RefundRecord::as_select())
        .first(conn)
        .await
        .optional()
}

/// A new refund asked for by staff, `requested` until Stripe answers.
#[allow(clippy::too_many_arguments, reason = "one column each")]
pub async fn insert(
    conn: &mut AsyncPgConnection,
    order_id: i64,
    payment_intent_id: &str,
    amount: Money,
    reason: Option<&str>,
    note: Option<&str>,
    key: &str,
    restock: &[(i64, i32)],
    staff_id: i64,
) -> QueryResult<i64> {
    let restock: Vec<RestockLine> = restock
        .iter()
        .map(|&(order_item_id, quantity)| RestockLine {
            order_item_id,
            quantity,
        })
        .collect();
    diesel::insert_into(refunds::table)
        .values((
            refunds::order_id.eq(order_id),
            refunds::payment_intent_id.eq(payment_intent_id),
            refunds::source.eq("staff"),
            refunds::amount_minor.eq(amount.minor()),
            refunds::reason.eq(reason),
            refunds::note.eq(note),
            refunds::status.eq(RefundStatus::Requested.as_str()),
            refunds::idempotency_key.eq(key),
            refunds::restock.eq(serde_json::to_value(restock).unwrap_or(Value::Array(Vec::new()))),
            refunds::staff_id.eq(staff_id),
        ))
        .returning(refunds::id)
        .get_result(conn)
        .await
}

/// Marks the refund's items as returned; `false` if they were already.
pub async fn mark_restocked(conn: &mut AsyncPgConnection, id: i64) -> QueryResult<bool> {
    diesel::update(
        refunds::table
            .find(id)
            .filter(refunds::restocked_at.is_null()),
    )
    .set(
        refunds::restocked_at
            .eq(diesel::dsl::sql::<Nullable<diesel::sql_types::Timestamptz>>("now()")),
    )
    .execute(conn)
    .await
    .map(|n| n > 0)
}

#[derive(QueryableByName)]
struct Returned {
    #[diesel(sql_type = BigInt)]
    product_id: i64,
    #[diesel(sql_type = Integer)]
    returned: i32,
}

/// Counts up to `quantity` more units of an order item as returned (never
/// more than were bought); answers its product and how many were counted.
pub async fn return_item(
    conn: &mut AsyncPgConnection,
    order_id: i64,
    order_item_id: i64,
    quantity: i32,
) -> QueryResult<Option<(i64, i32)>> {
    let returned: Option<Returned> = Statement::new(include_str!("sql/return_item.sql"))
        .bind::<BigInt, _>(order_item_id)
        .bind::<BigInt, _>(order_id)
        .bind::<Integer, _>(quantity)
        .get_result(conn)
        .await
        .optional()?;
    Ok(returned
        .filter(|r| r.returned > 0)
        .map(|r| (r.product_id, r.returned)))
}

/// The order's refunds, oldest first, as its pages show them.
pub async fn lines(
    conn: &mut AsyncPgConnection,
    order_id: i64,
    currency: Currency,
) -> QueryResult<Vec<RefundLine>> {
    type Row = (
        i64,
        i64,
        Option<String>,
        Option<String>,
        String,
        Option<String>,
        Option<String>,
        Option<String>,
        String,
        DateTime<Utc>,
        Value,
        Option<DateTime<Utc>>,
    );
    let rows: Vec<Row> = refunds::table
        .left_join(staff::table)
        .filter(refunds::order_id.eq(order_id))
        .order_by(refunds::id)
        .select((
            refunds::id,
            refunds::amount_minor,
            refunds::reason,
            refunds::note,
            refunds::status,
            refunds::stripe_refund_id,
            refunds::failure_reason,
            staff::email.nullable(),
            refunds::source,
            refunds::created_at,
            refunds::restock,
            refunds::restocked_at,
        ))
        .load(conn)
        .await?;
    let names: Vec<(i64, String)> = order_items::table
        .filter(order_items::order_id.eq(order_id))
        .select((order_items::id, order_items::product_name))
        .load(conn)
        .await?;
    Ok(rows
        .into_iter()
        .map(
            |(
                id,
                amount,
                reason,
                note,
                status,
                stripe_refund_id,
                failure_reason,
                staff_email,
                source,
                created_at,
                restock,
                restocked_at,
            )| {
                let restock = serde_json::from_value::<Vec<RestockLine>>(restock)
                    .unwrap_or_default()
                    .into_iter()
                    .filter_map(|line| {
                        let name = names
                            .iter()
                            .find(|(id, _)| *id == line.order_item_id)?
                            .1
                            .clone();
                        Some((name, line.quantity))
                    })
                    .collect();
                RefundLine {
                    id,
                    amount: Money::new(amount, currency).unwrap_or_else(|_| Money::zero(currency)),
                    reason,
                    note,
                    status: RefundStatus::parse(&status).unwrap_or(RefundStatus::Requested),
                    stripe_refund_id,
                    failure_reason,
                    asked_by: match (staff_email, source.as_str()) {
                        (Some(email), _) => email,
                        (None, "api") => "The payments API".to_owned(),
                        (None, _) => "Stripe's dashboard".to_owned(),
                    },
                    created_at,
                    restock,
                    restocked: restocked_at.is_some(),
                }
            },
        )
        .collect())
}
