//! The dashboard's queries: paid orders per day and currency, low stock,
//! orders to ship.

use chrono::NaiveDate;
use diesel::prelude::*;
use diesel::sql_types::Date;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::domain::DailySales;
use crate::admin::products::domain::AdminProduct;
use crate::db::Statement;
use crate::db::schema::products;

/// Paid orders and revenue per day (UTC) and currency since `since`
/// (the partial index on `paid_at`).
pub async fn daily_sales(
    conn: &mut AsyncPgConnection,
    since: NaiveDate,
) -> QueryResult<Vec<DailySales>> {
    Statement::new(
        "SELECT (paid_at AT TIME ZONE 'UTC')::date AS day, currency, count(*) AS orders, \
             sum(COALESCE(amount_charged_minor, amount_total_minor))::bigint AS revenue_minor \
         FROM orders WHERE paid_at >= $1::date AT TIME ZONE 'UTC' AND paid_at IS NOT NULL \
         GROUP BY 1, 2 ORDER BY 1, 2",
    )
    .bind::<Date, _>(since)
    .load(conn)
    .await
}

/// Active products at or below `threshold` units, fewest first.
pub async fn low_stock(
    conn: &mut AsyncPgConnection,
    threshold: i32,
    limit: i64,
) -> QueryResult<Vec<AdminProduct>> {
    products::table
        .filter(products::active.eq(true))
        .filter(products::stock.le(threshold))
        .order_by((products::stock.asc(), products::name.asc()))
        .limit(limit)
        .select(AdminProduct::as_select())
        .load(conn)
        .await
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    count: i64,
}

/// Paid orders not shipped yet.
pub async fn to_ship(conn: &mut AsyncPgConnection) -> QueryResult<i64> {
    Statement::new(
        "SELECT count(*) AS count FROM orders o \
         WHERE o.status IN ('paid', 'partially_refunded') \
           AND NOT EXISTS (SELECT 1 FROM shipments s WHERE s.order_id = o.id)",
    )
    .get_result::<Count>(conn)
    .await
    .map(|c| c.count)
}
