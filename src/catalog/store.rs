//! Catalog queries: products, keyset-paginated listings, collections and
//! their members, search, and the sitemap's pages.

use chrono::{DateTime, Utc};
use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Bool, Text, Timestamptz};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::domain::{Collection, Product, Scope, Sort};
use super::paging::{Cursor, Listing, PAGE_SIZE, Position};
use super::query::Term;
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

#[derive(QueryableByName)]
struct Spelling {
    #[diesel(sql_type = Text)]
    word: String,
    #[diesel(sql_type = Bool)]
    whole: bool,
    #[diesel(sql_type = Bool)]
    begins: bool,
    #[diesel(sql_type = Array<Text>)]
    alternatives: Vec<String>,
}

/// The search's words as full-text terms: the last one (being typed) a
/// prefix unless it is a whole word of a product name; a word in no name
/// (nor beginning one, for the last) with the close words of names.
pub async fn spell(conn: &mut AsyncPgConnection, words: &[String]) -> QueryResult<Vec<Term>> {
    // Prepared once per connection: its plan does not depend on the words.
    let rows: Vec<Spelling> = Statement::new(include_str!("sql/spell.sql"))
        .bind::<Array<Text>, _>(words)
        .load(conn)
        .await?;
    let last = rows.len().saturating_sub(1);
    Ok(rows
        .into_iter()
        .enumerate()
        .map(|(i, row)| {
            let typing = i == last && row.word.chars().count() > 1;
            let known = row.whole || (typing && row.begins);
            Term {
                // A whole word is looked for as itself: also as a prefix it
                // would match more than asked, and mislead the planner
                // (PostgreSQL guesses prefixes match at least 0.5% of rows).
                prefix: typing && !row.whole,
                alternatives: if known {
                    Vec::new()
                } else {
                    // Words of names are letters and digits (the trigger
                    // splits on anything else); checked again, as they go
                    // into a tsquery.
                    row.alternatives
                        .into_iter()
                        .filter(|alt| alt.chars().all(char::is_alphanumeric))
                        .collect()
                },
                word: row.word,
            }
        })
        .collect())
}

/// Products on sale matching the full-text query `matching` but not
/// `except`, newest first, from below `before_id`: one relevance tier of a
/// search. Planned for its own words each time (not prepared): a rare word
/// reads the GIN index, a common one walks the ids until the page is full.
pub async fn search(
    conn: &mut AsyncPgConnection,
    matching: &str,
    except: Option<&str>,
    before_id: Option<i64>,
    limit: usize,
) -> QueryResult<Vec<Product>> {
    let mut query = products::table
        .filter(products::active)
        .filter(
            sql::<Bool>("products.search @@ to_tsquery('simple', ")
                .bind::<Text, _>(matching.to_owned())
                .sql(")"),
        )
        .select(Product::as_select())
        .order_by(products::id.desc())
        .limit(i64::try_from(limit).unwrap_or(i64::MAX))
        .into_boxed();
    if let Some(except) = except {
        query = query.filter(
            sql::<Bool>("NOT products.search @@ to_tsquery('simple', ")
                .bind::<Text, _>(except.to_owned())
                .sql(")"),
        );
    }
    if let Some(id) = before_id {
        query = query.filter(products::id.lt(id));
    }
    query.load(conn).await
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
