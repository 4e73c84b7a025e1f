//! The back office's product queries and writes. Every write is a plain
//! INSERT, UPDATE or DELETE on `products`, whose trigger tells every node's
//! catalog at commit (`NOTIFY catalog_changed`).

use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Integer, Nullable, Text, Timestamptz};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::domain::{AdminProduct, MAX_STOCK, ProductDraft, ProductFilter, StockAdjustment};
use crate::db::Statement;
use crate::db::schema::{order_items, products, staff, stock_adjustments};

/// Which page of a list: the first, or the one after or before a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Page {
    #[default]
    First,
    After(i64),
    Before(i64),
}

/// Up to `limit` + 1 products of the list (the extra one says there are
/// more), by name; `search` matches names and slugs anywhere in them.
pub async fn list(
    conn: &mut AsyncPgConnection,
    filter: ProductFilter,
    search: Option<&str>,
    page: Page,
    limit: i64,
) -> QueryResult<Vec<AdminProduct>> {
    let mut query = products::table
        .select(AdminProduct::as_select())
        .limit(limit + 1)
        .into_boxed();
    query = match filter {
        ProductFilter::All => query.filter(products::archived_at.is_null()),
        ProductFilter::Active => query.filter(products::active.eq(true)),
        ProductFilter::Draft => query
            .filter(products::active.eq(false))
            .filter(products::archived_at.is_null()),
        ProductFilter::Archived => query.filter(products::archived_at.is_not_null()),
        ProductFilter::OutOfStock => query
            .filter(products::stock.eq(0))
            .filter(products::archived_at.is_null()),
    };
    if let Some(search) = search {
        // Matched by the trigram index on name and slug.
        query = query.filter(
            sql::<Bool>("(products.name || ' ' || products.slug) ILIKE ")
                .bind::<Text, _>(like_pattern(search)),
        );
    }
    query = match page {
        Page::First => query.order_by((products::name.asc(), products::id.asc())),
        Page::After(id) => query
            .filter(
                sql::<Bool>("(products.name, products.id) > (SELECT p.name, p.id FROM products p WHERE p.id = ")
                    .bind::<BigInt, _>(id)
                    .sql(")"),
            )
            .order_by((products::name.asc(), products::id.asc())),
        Page::Before(id) => query
            .filter(
                sql::<Bool>("(products.name, products.id) < (SELECT p.name, p.id FROM products p WHERE p.id = ")
                    .bind::<BigInt, _>(id)
                    .sql(")"),
            )
            .order_by((products::name.desc(), products::id.desc())),
    };
    let mut rows = query.load(conn).await?;
    if matches!(page, Page::Before(_)) {
        rows.reverse();
    }
    Ok(rows)
}

/// `%text%` for ILIKE, with its own wildcards taken literally.
pub fn like_pattern(text: &str) -> String {
    let escaped = text
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}

pub async fn find(conn: &mut AsyncPgConnection, id: i64) -> QueryResult<Option<AdminProduct>> {
    products::table
        .find(id)
        .select(AdminProduct::as_select())
        .first(conn)
        .await
        .optional()
}

/// The product, locked for the rest of the transaction.
pub async fn lock(conn: &mut AsyncPgConnection, id: i64) -> QueryResult<Option<AdminProduct>> {
    products::table
        .find(id)
        .select(AdminProduct::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()
}

/// Whether a unique slug was what the database refused.
pub fn is_slug_taken(error: &diesel::result::Error) -> bool {
    matches!(error, diesel::result::Error::DatabaseError(
        diesel::result::DatabaseErrorKind::UniqueViolation, info)
        if info.constraint_name() == Some("products_slug_key"))
}

pub async fn insert(
    conn: &mut AsyncPgConnection,
    draft: &ProductDraft,
    slug: &str,
    stock: Option<i32>,
    image_path: &str,
) -> QueryResult<AdminProduct> {
    diesel::insert_into(products::table)
        .values((
            products::slug.eq(slug),
            products::name.eq(&draft.name),
            products::description.eq(&draft.description),
            products::price_minor.eq(draft.price.minor()),
            products::currency.eq(draft.price.currency().code()),
            products::image_path.eq(image_path),
            products::stock.eq(stock),
            products::active.eq(draft.active),
        ))
        .returning(AdminProduct::as_returning())
        .get_result(conn)
        .await
}

/// The product's fields (not its stock); orders keep the price they were
/// placed at, in their items.
pub async fn update(
    conn: &mut AsyncPgConnection,
    id: i64,
    draft: &ProductDraft,
    slug: &str,
    image_path: &str,
) -> QueryResult<AdminProduct> {
    diesel::update(products::table.find(id))
        .set((
            products::slug.eq(slug),
            products::name.eq(&draft.name),
            products::description.eq(&draft.description),
            products::price_minor.eq(draft.price.minor()),
            products::currency.eq(draft.price.currency().code()),
            products::image_path.eq(image_path),
            products::active.eq(draft.active),
            products::updated_at.eq(diesel::dsl::now),
        ))
        .returning(AdminProduct::as_returning())
        .get_result(conn)
        .await
}

#[derive(QueryableByName)]
struct NewStock {
    #[diesel(sql_type = Nullable<Integer>)]
    stock: Option<i32>,
}

/// Changes tracked stock by `delta`, only if it stays within 0 and
/// `MAX_STOCK`: a conditional update, so a checkout reserving units at
/// the same moment is never undone and stock never goes below what is
/// left (units reserved by pending orders are already taken off it).
/// Returns the new stock, or `None` if the change did not apply.
pub async fn change_stock(
    conn: &mut AsyncPgConnection,
    id: i64,
    delta: i32,
) -> QueryResult<Option<i32>> {
    let changed: Option<NewStock> = Statement::new(
        "UPDATE products SET stock = stock + $2, updated_at = now() \
         WHERE id = $1 AND stock IS NOT NULL AND stock + $2 BETWEEN 0 AND $3 RETURNING stock",
    )
    .bind::<BigInt, _>(id)
    .bind::<Integer, _>(delta)
    .bind::<Integer, _>(MAX_STOCK)
    .get_result(conn)
    .await
    .optional()?;
    Ok(changed.and_then(|row| row.stock))
}

/// Sets the stock outright: `None` for unlimited, or a starting count for
/// a product whose stock was unlimited. Call with the product locked.
pub async fn set_stock(
    conn: &mut AsyncPgConnection,
    id: i64,
    stock: Option<i32>,
) -> QueryResult<()> {
    diesel::update(products::table.find(id))
        .set((
            products::stock.eq(stock),
            products::updated_at.eq(diesel::dsl::now),
        ))
        .execute(conn)
        .await
        .map(drop)
}

pub async fn record_adjustment(
    conn: &mut AsyncPgConnection,
    product_id: i64,
    staff_id: i64,
    delta: i32,
    reason: &str,
    stock_after: Option<i32>,
) -> QueryResult<()> {
    diesel::insert_into(stock_adjustments::table)
        .values((
            stock_adjustments::product_id.eq(product_id),
            stock_adjustments::staff_id.eq(staff_id),
            stock_adjustments::delta.eq(delta),
            stock_adjustments::reason.eq(reason),
            stock_adjustments::stock_after.eq(stock_after),
        ))
        .execute(conn)
        .await
        .map(drop)
}

/// The product's latest stock changes, newest first.
pub async fn adjustments(
    conn: &mut AsyncPgConnection,
    product_id: i64,
    limit: i64,
) -> QueryResult<Vec<StockAdjustment>> {
    stock_adjustments::table
        .inner_join(staff::table)
        .filter(stock_adjustments::product_id.eq(product_id))
        .order_by(stock_adjustments::id.desc())
        .limit(limit)
        .select((
            stock_adjustments::delta,
            stock_adjustments::reason,
            stock_adjustments::stock_after,
            stock_adjustments::created_at,
            staff::email,
        ))
        .load(conn)
        .await
}

/// How many order lines name the product.
pub async fn order_lines(conn: &mut AsyncPgConnection, product_id: i64) -> QueryResult<i64> {
    order_items::table
        .filter(order_items::product_id.eq(product_id))
        .count()
        .get_result(conn)
        .await
}

/// Off sale for good (until restored): inactive and archived.
pub async fn archive(conn: &mut AsyncPgConnection, id: i64) -> QueryResult<()> {
    diesel::update(products::table.find(id))
        .set((
            products::active.eq(false),
            products::archived_at.eq(sql::<Nullable<Timestamptz>>("now()")),
            products::updated_at.eq(diesel::dsl::now),
        ))
        .execute(conn)
        .await
        .map(drop)
}

/// Back from the archive, as a draft.
pub async fn restore(conn: &mut AsyncPgConnection, id: i64) -> QueryResult<()> {
    diesel::update(products::table.find(id))
        .set((
            products::archived_at.eq(None::<chrono::DateTime<chrono::Utc>>),
            products::updated_at.eq(diesel::dsl::now),
        ))
        .execute(conn)
        .await
        .map(drop)
}

/// Deletes the product (its cart lines and stock history go with it).
/// Call with the product locked, after checking no order names it.
pub async fn delete(conn: &mut AsyncPgConnection, id: i64) -> QueryResult<()> {
    diesel::delete(products::table.find(id))
        .execute(conn)
        .await
        .map(drop)
}
