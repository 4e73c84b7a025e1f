//! The back office's order queries: the filtered list (its page, its
//! totals, its export), an order's page (items, events, shipment, issues),
//! shipping, and the orders that need a person.

use chrono::{DateTime, Days, NaiveTime, Utc};
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::query_builder::{BoxedSqlQuery, SqlQuery};
use diesel::sql_types::{BigInt, HasSqlType, Text, Timestamptz};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::domain::{
    CurrencyTotals, Fulfilment, ItemLine, OrderFilter, OrderRow, ShipOutcome, Shipment,
};
use crate::admin::products::store::{Page, like_pattern};
use crate::db::schema::{order_events, order_issues, order_items, orders, shipments, staff};
use crate::ids::OrderNumber;
use crate::mail::domain::{self as mail, Message};
use crate::mail::store as outbox;
use crate::money::Money;
use crate::orders::domain::{IssueKind, Order, OrderStatus};

/// A filtered query under construction: its text and numbered parameters.
pub struct Filtered {
    query: BoxedSqlQuery<'static, Pg, SqlQuery>,
    params: usize,
}

impl Filtered {
    fn new(select: &str) -> Filtered {
        Filtered {
            query: diesel::sql_query(select).into_boxed(),
            params: 0,
        }
    }

    /// Appends `sql`, whose `$` stands for `value`'s parameter.
    fn push<ST: Send + 'static, V>(mut self, sql: &str, value: V) -> Filtered
    where
        Pg: HasSqlType<ST>,
        V: diesel::serialize::ToSql<ST, Pg> + Send + 'static,
    {
        self.params += 1;
        let sql = sql.replace('$', &format!("${}", self.params));
        self.query = self.query.sql(sql).bind::<ST, V>(value);
        self
    }

    fn sql(mut self, sql: &str) -> Filtered {
        self.query = self.query.sql(sql);
        self
    }

    pub fn into_query(self) -> BoxedSqlQuery<'static, Pg, SqlQuery> {
        self.query
    }
}

/// The columns of a list row, from `orders` and its shipment.
const ROW_SELECT: &str = "SELECT orders.id, orders.number, orders.status, orders.currency, \
     COALESCE(orders.amount_charged_minor, orders.amount_total_minor) AS total_minor, \
     orders.amount_refunded_minor, orders.email, orders.created_at, orders.paid_at, \
     orders.completed_at, orders.livemode, orders.stripe_payment_intent_id, s.shipped_at, s.carrier, \
     s.tracking_url \
     FROM orders LEFT JOIN shipments s ON s.order_id = orders.id WHERE true";

/// `select` (ending in a WHERE clause) with the filter's conditions.
fn filtered(select: &str, filter: &OrderFilter) -> Filtered {
    let mut query = Filtered::new(select);
    if let Some(status) = filter.status {
        query = query.push::<Text, _>(" AND orders.status = $", status.as_str().to_owned());
    }
    if let Some(from) = filter.from {
        query = query.push::<Timestamptz, _>(" AND orders.created_at >= $", day_start(from));
    }
    if let Some(to) = filter.to.and_then(|to| to.checked_add_days(Days::new(1))) {
        query = query.push::<Timestamptz, _>(" AND orders.created_at < $", day_start(to));
    }
    if let Some(search) = &filter.search {
        // Emails containing it (the trigram index), or the order it numbers.
        let pattern = like_pattern(&search.to_lowercase());
        query = match filter.number() {
            Some(number) => query
                .push::<Text, _>(" AND (orders.number = $", number.as_str().to_owned())
                .push::<Text, _>(" OR lower(orders.email) LIKE $)", pattern),
            None => query.push::<Text, _>(" AND lower(orders.email) LIKE $", pattern),
        };
    }
    match filter.fulfilment {
        // Subqueries rather than the row select's join: the totals need
        // no join with shipments at all.
        Some(Fulfilment::Unshipped) => query.sql(
            " AND orders.status IN ('paid', 'partially_refunded') \
             AND NOT EXISTS (SELECT 1 FROM shipments x WHERE x.order_id = orders.id)",
        ),
        Some(Fulfilment::Shipped) => {
            query.sql(" AND EXISTS (SELECT 1 FROM shipments x WHERE x.order_id = orders.id)")
        }
        None => query,
    }
}

fn day_start(day: chrono::NaiveDate) -> DateTime<Utc> {
    day.and_time(NaiveTime::MIN).and_utc()
}

/// Up to `limit` + 1 orders of the list (the extra one says there are
/// more), newest first.
pub async fn list(
    conn: &mut AsyncPgConnection,
    filter: &OrderFilter,
    page: Page,
    limit: i64,
) -> QueryResult<Vec<OrderRow>> {
    let query = filtered(ROW_SELECT, filter);
    let query = match page {
        Page::First => query.sql(" ORDER BY orders.created_at DESC, orders.id DESC"),
        Page::After(id) => query
            .push::<BigInt, _>(
                " AND (orders.created_at, orders.id) < (SELECT o.created_at, o.id FROM orders o WHERE o.id = $)",
                id,
            )
            .sql(" ORDER BY orders.created_at DESC, orders.id DESC"),
        Page::Before(id) => query
            .push::<BigInt, _>(
                " AND (orders.created_at, orders.id) > (SELECT o.created_at, o.id FROM orders o WHERE o.id = $)",
                id,
            )
            .sql(" ORDER BY orders.created_at ASC, orders.id ASC"),
    };
    let mut rows: Vec<OrderRow> = query
        .push::<BigInt, _>(" LIMIT $", limit + 1)
        .into_query()
        .load(conn)
        .await?;
    if matches!(page, Page::Before(_)) {
        rows.reverse();
    }
    Ok(rows)
}

/// Per currency: how many orders the filter finds, how many were paid, and
/// what was paid and refunded.
pub async fn totals(
    conn: &mut AsyncPgConnection,
    filter: &OrderFilter,
) -> QueryResult<Vec<CurrencyTotals>> {
    filtered(
        "SELECT orders.currency, count(*) AS orders, \
             count(*) FILTER (WHERE orders.paid_at IS NOT NULL) AS paid_orders, \
             COALESCE(sum(COALESCE(orders.amount_charged_minor, orders.amount_total_minor)) FILTER (WHERE orders.paid_at IS NOT NULL), 0)::bigint AS paid_minor, \
             COALESCE(sum(orders.amount_refunded_minor), 0)::bigint AS refunded_minor \
         FROM orders WHERE true",
        filter,
    )
    .sql(" GROUP BY orders.currency ORDER BY orders.currency")
    .into_query()
    .load(conn)
    .await
}

/// Every order the filter finds, newest first, for the export to stream.
pub fn export(filter: &OrderFilter) -> BoxedSqlQuery<'static, Pg, SqlQuery> {
    filtered(ROW_SELECT, filter)
        .sql(" ORDER BY orders.created_at DESC, orders.id DESC")
        .into_query()
}

pub async fn find_by_number(
    conn: &mut AsyncPgConnection,
    number: &OrderNumber,
) -> QueryResult<Option<Order>> {
    orders::table
        .filter(orders::number.eq(number.as_str()))
        .select(Order::as_select())
        .first(conn)
        .await
        .optional()
}

pub async fn items(conn: &mut AsyncPgConnection, order: &Order) -> QueryResult<Vec<ItemLine>> {
    let rows: Vec<(i64, i64, String, i64, i32, i32)> = order_items::table
        .filter(order_items::order_id.eq(order.id))
        .order_by(order_items::id)
        .select((
            order_items::id,
            order_items::product_id,
            order_items::product_name,
            order_items::unit_price_minor,
            order_items::quantity,
            order_items::restocked_quantity,
        ))
        .load(conn)
        .await?;
    let currency = order.currency();
    Ok(rows
        .into_iter()
        .map(
            |(id, product_id, product_name, unit, quantity, restocked)| ItemLine {
                id,
                product_id,
                product_name,
                unit_price: Money::new(unit, currency).unwrap_or_else(|_| Money::zero(currency)),
                quantity,
                restocked,
            },
        )
        .collect())
}

/// The order's recorded transitions, oldest first: (kind, source, when, staff email).
pub async fn events(
    conn: &mut AsyncPgConnection,
    order_id: i64,
) -> QueryResult<Vec<(String, String, DateTime<Utc>, Option<String>)>> {
    order_events::table
        .left_join(staff::table)
        .filter(order_events::order_id.eq(order_id))
        .order_by(order_events::id)
        .select((
            order_events::kind,
            order_events::source,
            order_events::created_at,
            staff::email.nullable(),
        ))
        .load(conn)
        .await
}

pub async fn shipment(
    conn: &mut AsyncPgConnection,
    order_id: i64,
) -> QueryResult<Option<Shipment>> {
    let row: Option<(Option<String>, Option<String>, DateTime<Utc>)> = shipments::table
        .find(order_id)
        .select((
            shipments::carrier,
            shipments::tracking_url,
            shipments::shipped_at,
        ))
        .first(conn)
        .await
        .optional()?;
    Ok(row.map(|(carrier, tracking_url, shipped_at)| Shipment {
        carrier,
        tracking_url,
        shipped_at,
    }))
}

/// Marks a paid order shipped, with its `shipped` event naming the staff
/// member, and queues the shopper's shipment notice. Call in a transaction
/// (the audit entry joins it).
pub async fn mark_shipped(
    conn: &mut AsyncPgConnection,
    order_id: i64,
    staff_id: i64,
    carrier: Option<&str>,
    tracking_url: Option<&str>,
) -> QueryResult<ShipOutcome> {
    let shippable: Option<Option<String>> = orders::table
        .find(order_id)
        .filter(orders::status.eq_any([
            OrderStatus::Paid.as_str(),
            OrderStatus::PartiallyRefunded.as_str(),
        ]))
        .select(orders::email)
        .for_update()
        .first(conn)
        .await
        .optional()?;
    let Some(email) = shippable else {
        return Ok(ShipOutcome::NotShippable);
    };
    let inserted = diesel::insert_into(shipments::table)
        .values((
            shipments::order_id.eq(order_id),
            shipments::carrier.eq(carrier),
            shipments::tracking_url.eq(tracking_url),
            shipments::staff_id.eq(staff_id),
        ))
        .on_conflict_do_nothing()
        .execute(conn)
        .await?;
    if inserted == 0 {
        // Another request (a double click, a colleague) shipped it first:
        // the order row's lock made this one wait for it.
        return Ok(ShipOutcome::AlreadyShipped);
    }
    diesel::insert_into(order_events::table)
        .values((
            order_events::order_id.eq(order_id),
            order_events::kind.eq("shipped"),
            order_events::source.eq("back_office"),
            order_events::staff_id.eq(staff_id),
        ))
        .execute(conn)
        .await?;
    let notice = Message::ShipmentNotice(mail::Shipment {
        carrier: carrier.map(str::to_owned),
        tracking_url: tracking_url.map(str::to_owned),
    });
    outbox::enqueue(conn, Some(order_id), email.as_deref(), &notice).await?;
    Ok(ShipOutcome::Shipped)
}

/// An open or resolved issue of an order.
#[derive(Debug, Clone, Queryable)]
pub struct IssueRow {
    pub id: i64,
    pub order_id: i64,
    pub kind: String,
    pub details: serde_json::Value,
    pub created_at: DateTime<Utc>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub resolved_by: Option<String>,
    pub order_number: String,
}

impl IssueRow {
    pub fn kind(&self) -> Option<IssueKind> {
        IssueKind::parse(&self.kind).ok()
    }

    pub fn display_number(&self) -> String {
        OrderNumber::display(&self.order_number)
    }
}

/// How many orders need a person (open issues).
pub async fn open_issue_count(conn: &mut AsyncPgConnection) -> QueryResult<i64> {
    order_issues::table
        .filter(order_issues::resolved_at.is_null())
        .count()
        .get_result(conn)
        .await
}

/// Issues, newest first: the open ones, or one order's (open or not).
pub async fn issues(
    conn: &mut AsyncPgConnection,
    order_id: Option<i64>,
    limit: i64,
) -> QueryResult<Vec<IssueRow>> {
    let mut query = order_issues::table
        .inner_join(orders::table)
        .order_by(order_issues::id.desc())
        .limit(limit)
        .select((
            order_issues::id,
            order_issues::order_id,
            order_issues::kind,
            order_issues::details,
            order_issues::created_at,
            order_issues::resolved_at,
            order_issues::resolved_by,
            orders::number,
        ))
        .into_boxed();
    query = match order_id {
        Some(order_id) => query.filter(order_issues::order_id.eq(order_id)),
        None => query.filter(order_issues::resolved_at.is_null()),
    };
    query.load(conn).await
}

/// Resolves an open issue; `None` if it is not open (or not there).
pub async fn resolve_issue(
    conn: &mut AsyncPgConnection,
    issue_id: i64,
    staff_email: &str,
) -> QueryResult<Option<(i64, String)>> {
    diesel::update(
        order_issues::table
            .find(issue_id)
            .filter(order_issues::resolved_at.is_null()),
    )
    .set((
        order_issues::resolved_at
            .eq(diesel::dsl::sql::<diesel::sql_types::Nullable<Timestamptz>>("now()")),
        order_issues::resolved_by.eq(staff_email),
    ))
    .returning((order_issues::order_id, order_issues::kind))
    .get_result(conn)
    .await
    .optional()
}
