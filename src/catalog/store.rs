//! Product queries.

use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::domain::Product;
use crate::db::schema::products;
use crate::ids::ProductSlug;

/// Every product on sale, by name.
pub async fn list_active(conn: &mut AsyncPgConnection) -> QueryResult<Vec<Product>> {
    products::table
        .filter(products::active.eq(true))
        .order_by((products::name, products::id))
        .select(Product::as_select())
        .load(conn)
        .await
}

/// The product on sale with this slug.
pub async fn find_active(
    conn: &mut AsyncPgConnection,
    slug: &ProductSlug,
) -> QueryResult<Option<Product>> {
    products::table
        .filter(products::slug.eq(slug.as_str()))
        .filter(products::active.eq(true))
        .select(Product::as_select())
        .first(conn)
        .await
        .optional()
}
