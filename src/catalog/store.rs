//! Catalog queries: products, keyset-paginated listings, collections and
//! their members, search, and the sitemap's pages.

use chrono::{DateTime, Utc};
use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Bool, Integer, Nullable, SmallInt, Text, Timestamptz};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::domain::{Collection, Product, Scope, Sort};
use super::paging::{Cursor, Listing, PAGE_SIZE, Position};
use crate::db::Statement;
use crate::db::schema::{collection_products, collections, products};
use crate::ids::ProductSlug;

/// The product on sale with this slug.
pub async fn find_active(
    conn: &mut AsyncPgConnection,
    slug: &ProductSlug,
) -> QueryResult<Option<Product>> {
    products::table
        .filter(products::slug.eq(slug.as_str()))
        .filter(products::active)
        .select(Product::as_select())
        .first(conn)
        .await
        .optional()
}

/// A page of the products on sale in `scope`, sorted by `sort`, read from
/// the index from the cursor on (never an offset).
pub async fn listing(
    conn: &mut AsyncPgConnection,
    scope: Scope,
    sort: Sort,
    position: Position,
) -> QueryResult<Listing> {
    let rows = listing_rows(conn, scope, sort, position).await?;
    if matches!(position, Position::Before(_)) && rows.len() <= PAGE_SIZE {
        // Less than a page before the cursor: going back reaches the first page.
        let rows = listing_rows(conn, scope, sort, Position::First).await?;
        return Ok(Listing::from_rows(sort, Position::First, rows));
    }
    Ok(Listing::from_rows(sort, position, rows))
}

/// Up to a page and one more, in the listing's order (or against it, for
/// the page before a cursor).
async fn listing_rows(
    conn: &mut AsyncPgConnection,
    scope: Scope,
    sort: Sort,
    position: Position,
) -> QueryResult<Vec<Product>> {
    let (forward, cursor) = match position {
        Position::First => (true, None),
        Position::After(cursor) => (true, Some(cursor)),
        Position::Before(cursor) => (false, Some(cursor)),
    };
    let descending = sort.descending() == forward;
    let mut query = products::table
        .filter(products::active)
        .select(Product::as_select())
        .limit(PAGE_SIZE as i64 + 1)
        .into_boxed();
    if let Scope::Collection(id) = scope {
        query = query.filter(
            products::id.eq_any(
                collection_products::table
                    .filter(collection_products::collection_id.eq(id))
                    .select(collection_products::product_id),
            ),
        );
    }
    if let Some(Cursor { key, .. }) = cursor {
        // A row comparison, which PostgreSQL reads as a range of the index.
        let op = if descending { "<" } else { ">" };
        query = match sort {
            Sort::Newest => query.filter(
                sql::<Bool>(&format!("(products.created_at, products.id) {op} ("))
                    .bind::<Timestamptz, _>(micros(key.key))
                    .sql(", ")
                    .bind::<BigInt, _>(key.id)
                    .sql(")"),
            ),
            Sort::PriceLow | Sort::PriceHigh => query.filter(
                sql::<Bool>(&format!("(products.price_minor, products.id) {op} ("))
                    .bind::<BigInt, _>(key.key)
                    .sql(", ")
                    .bind::<BigInt, _>(key.id)
                    .sql(")"),
            ),
        };
    }
    query = match (sort, descending) {
        (Sort::Newest, true) => query.order_by((products::created_at.desc(), products::id.desc())),
        (Sort::Newest, false) => query.order_by((products::created_at.asc(), products::id.asc())),
        (_, true) => query.order_by((products::price_minor.desc(), products::id.desc())),
        (_, false) => query.order_by((products::price_minor.asc(), products::id.asc())),
    };
    query.load(conn).await
}

/// A cursor's creation time (checked when the cursor was parsed).
fn micros(key: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(key).unwrap_or_default()
}

/// These products as they are now, on sale or not, each with the ids of
/// its collections; a product that no longer exists is absent.
pub async fn products_with_collections(
    conn: &mut AsyncPgConnection,
    ids: &[i64],
) -> QueryResult<Vec<(Product, Vec<i64>)>> {
    let rows: Vec<Product> = products::table
        .filter(products::id.eq_any(ids))
        .select(Product::as_select())
        .load(conn)
        .await?;
    let members: Vec<(i64, i64)> = collection_products::table
        .filter(collection_products::product_id.eq_any(ids))
        .select((
            collection_products::product_id,
            collection_products::collection_id,
        ))
        .load(conn)
        .await?;
    Ok(rows
        .into_iter()
        .map(|product| {
            let collections = members
                .iter()
                .filter(|(product_id, _)| *product_id == product.id)
                .map(|(_, collection)| *collection)
                .collect();
            (product, collections)
        })
        .collect())
}

/// Every collection, in the order the shop lists them.
pub async fn collections(conn: &mut AsyncPgConnection) -> QueryResult<Vec<Collection>> {
    collections::table
        .order_by((collections::position, collections::name, collections::id))
        .select(Collection::as_select())
        .load(conn)
        .await
}

/// Creates a collection (or renames the one with this slug); returns it.
pub async fn upsert_collection(
    conn: &mut AsyncPgConnection,
    slug: &str,
    name: &str,
    description: &str,
    position: i32,
) -> QueryResult<Collection> {
    diesel::insert_into(collections::table)
        .values((
            collections::slug.eq(slug),
            collections::name.eq(name),
            collections::description.eq(description),
            collections::position.eq(position),
        ))
        .on_conflict(collections::slug)
        .do_update()
        .set((
            collections::name.eq(name),
            collections::description.eq(description),
            collections::position.eq(position),
        ))
        .returning(Collection::as_returning())
        .get_result(conn)
        .await
}

/// Puts products in a collection (those already in it stay); returns how
/// many were added. Every node's cached listings follow (the trigger on
/// `collection_products` names each product).
pub async fn add_to_collection(
    conn: &mut AsyncPgConnection,
    collection_id: i64,
    product_ids: &[i64],
) -> QueryResult<usize> {
    let rows: Vec<_> = product_ids
        .iter()
        .map(|product_id| {
            (
                collection_products::collection_id.eq(collection_id),
                collection_products::product_id.eq(*product_id),
            )
        })
        .collect();
    diesel::insert_into(collection_products::table)
        .values(rows)
        .on_conflict_do_nothing()
        .execute(conn)
        .await
}

/// Takes a product out of a collection; returns whether it was in it.
pub async fn remove_from_collection(
    conn: &mut AsyncPgConnection,
    collection_id: i64,
    product_id: i64,
) -> QueryResult<bool> {
    let removed = diesel::delete(
        collection_products::table
            .filter(collection_products::collection_id.eq(collection_id))
            .filter(collection_products::product_id.eq(product_id)),
    )
    .execute(conn)
    .await?;
    Ok(removed > 0)
}

/// The collections a product is in.
pub async fn collections_of(
    conn: &mut AsyncPgConnection,
    product_id: i64,
) -> QueryResult<Vec<Collection>> {
    collections::table
        .filter(
            collections::id.eq_any(
                collection_products::table
                    .filter(collection_products::product_id.eq(product_id))
                    .select(collection_products::collection_id),
            ),
        )
        .order_by((collections::position, collections::name))
        .select(Collection::as_select())
        .load(conn)
        .await
}

/// A row of `sql/search.sql`: the search's corrections, and one product
/// found with its relevance tier (none when nothing matched).
#[derive(QueryableByName)]
pub struct SearchRow {
    #[diesel(sql_type = Array<Text>)]
    pub corrections: Vec<String>,
    #[diesel(sql_type = Nullable<SmallInt>)]
    pub tier: Option<i16>,
    #[diesel(embed)]
    pub product: Option<Product>,
}

/// A page of a search for `words` (and one more row, if there is more), in
/// one round trip: names' tier from below `named_before` (0: past it), then
/// the other tier from below `other_before`. Prepared once per connection.
pub async fn search(
    conn: &mut AsyncPgConnection,
    words: &[String],
    named_before: i64,
    other_before: i64,
    wanted: usize,
) -> QueryResult<Vec<SearchRow>> {
    Statement::new(include_str!("sql/search.sql"))
        .bind::<Array<Text>, _>(words)
        .bind::<BigInt, _>(named_before)
        .bind::<BigInt, _>(other_before)
        .bind::<Integer, _>(i32::try_from(wanted).unwrap_or(i32::MAX))
        .load(conn)
        .await
}

/// These products, those on sale.
pub async fn active_by_ids(conn: &mut AsyncPgConnection, ids: &[i64]) -> QueryResult<Vec<Product>> {
    products::table
        .filter(products::id.eq_any(ids))
        .filter(products::active)
        .select(Product::as_select())
        .load(conn)
        .await
}

/// How many products are on sale.
pub async fn active_count(conn: &mut AsyncPgConnection) -> QueryResult<i64> {
    products::table
        .filter(products::active)
        .count()
        .get_result(conn)
        .await
}

/// The slugs of products on sale, by id, `limit` from `offset`: one sitemap.
pub async fn active_slugs(
    conn: &mut AsyncPgConnection,
    offset: i64,
    limit: i64,
) -> QueryResult<Vec<String>> {
    products::table
        .filter(products::active)
        .order_by(products::id)
        .offset(offset)
        .limit(limit)
        .select(products::slug)
        .load(conn)
        .await
}
