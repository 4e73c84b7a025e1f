use chrono::{DateTime, Utc};
use diesel::dsl::{exists, sum};
use diesel::prelude::*;
use diesel::result::DatabaseErrorKind;
use diesel::result::Error::DatabaseError;
use diesel::sql_types::{BigInt, Integer, Text, Timestamptz, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::domain::{CartLine, MAX_LINE_QUANTITY, Quantity};
use crate::catalog::models::Product;
use crate::db::Statement;
use crate::db::schema::{cart_items, products};

#[derive(Debug, thiserror::Error)]
pub enum CartError {
    #[error("product not found")]
    ProductNotFound,
    #[error("cart item not found")]
    ItemNotFound,
    #[error("not enough stock")]
    NotEnoughStock {
        product: String,
        available: u32,
        in_cart: u32,
    },
    #[error("line quantity limit")]
    LineLimit { in_cart: u32 },
    #[error("different currency")]
    CurrencyMismatch,
    /// Refused, but no rule explains it on a second look: the cart or the
    /// product changed in between.
    #[error("changed meanwhile")]
    Changed,
    #[error(transparent)]
    Database(#[from] diesel::result::Error),
}

impl CartError {
    /// The message shown to the shopper on the re-rendered page.
    pub fn message(&self) -> String {
        match self {
            CartError::ProductNotFound => {
                "That product doesn't exist or is no longer available.".into()
            }
            CartError::ItemNotFound => "That item is no longer in your cart.".into(),
            CartError::NotEnoughStock {
                product,
                available: 0,
                ..
            } => format!("Sorry, {product} is sold out."),
            CartError::NotEnoughStock {
                product,
                available,
                in_cart: 0,
            } => format!("Sorry, only {available} of {product} are in stock."),
            CartError::NotEnoughStock {
                product,
                available,
                in_cart,
            } => format!(
                "Sorry, only {available} of {product} are in stock, and {in_cart} are already in your cart."
            ),
            CartError::LineLimit { in_cart } => format!(
                "You can have at most {MAX_LINE_QUANTITY} of one item in your cart (you have {in_cart})."
            ),
            CartError::CurrencyMismatch => {
                "That product is priced in a different currency from your cart. Please check out separately.".into()
            }
            CartError::Changed => {
                "Your cart or that product changed just now. Please try again.".into()
            }
            CartError::Database(_) => "Something went wrong.".into(),
        }
    }
}

/// Total units in the cart, for the header badge.
pub async fn item_count(conn: &mut AsyncPgConnection, cart_id: Uuid) -> QueryResult<i64> {
    cart_items::table
        .filter(cart_items::cart_id.eq(cart_id))
        .select(sum(cart_items::quantity))
        .get_result::<Option<i64>>(conn)
        .await
        .map(Option::unwrap_or_default)
}

/// The cart's lines in the order they were added.
pub async fn lines(conn: &mut AsyncPgConnection, cart_id: Uuid) -> QueryResult<Vec<CartLine>> {
    let rows: Vec<(i64, i32, Product)> = cart_items::table
        .inner_join(products::table)
        .filter(cart_items::cart_id.eq(cart_id))
        .order_by(cart_items::id)
        .select((cart_items::id, cart_items::quantity, Product::as_select()))
        .load(conn)
        .await?;
    Ok(rows
        .into_iter()
        .map(|(item_id, quantity, product)| CartLine {
            item_id,
            product,
            quantity: u32::try_from(quantity).unwrap_or(0),
        })
        .collect())
}

/// A changed line's product name, for the message. (The header's cart count
/// is refreshed by the cart page every change redirects to.)
#[derive(QueryableByName)]
struct Changed {
    #[diesel(sql_type = Text)]
    product_name: String,
}

/// The SQL of an add to cart `$1` of `$3` units of the product with slug
/// `$2`, the line capped at `$4`, then `$cart`: what else the statement does
/// with the cart. Answers the product's name if the line was written. (The
/// currency check looks each line's product up by key: as a join, it was
/// planned as a hash join over all the products.)
macro_rules! add_line {
    ($cart:literal) => {
        concat!(
            "WITH product AS ( \
                 SELECT id, name, currency, stock FROM products WHERE slug = $2 AND active \
             ), line AS ( \
                 INSERT INTO cart_items (cart_id, product_id, quantity) \
                 SELECT $1, product.id, $3 FROM product \
                 WHERE $3 <= COALESCE(product.stock, $3) \
                   AND NOT EXISTS ( \
                       SELECT 1 FROM cart_items other WHERE other.cart_id = $1 \
                         AND (SELECT currency FROM products WHERE id = other.product_id) \
                             <> product.currency) \
                 ON CONFLICT (cart_id, product_id) DO UPDATE \
                     SET quantity = cart_items.quantity + EXCLUDED.quantity, updated_at = now() \
                     WHERE cart_items.quantity + EXCLUDED.quantity <= LEAST($4, COALESCE( \
                         (SELECT stock FROM products WHERE id = EXCLUDED.product_id), $4)) \
                 RETURNING product_id \
             )",
            $cart,
            " SELECT product.name AS product_name FROM line, product"
        )
    };
}

/// Adding to a cart that has its row.
const ADD: &str = add_line!("");
/// Adding the first line of a cart: its row comes with it (the line's
/// foreign key is checked at the end of the statement).
const ADD_TO_NEW_CART: &str = add_line!(", cart AS (INSERT INTO carts (id) SELECT $1 FROM line)");

/// Adds `quantity` of the product to the cart (merging with an existing
/// line), creating the cart on its first line (`new_cart`). One statement, so
/// one round trip: the upsert checks stock and the line cap against the line
/// as it is when the row is locked, so concurrent adds cannot overshoot
/// either. (A product in another currency is refused against the lines
/// committed when the statement starts; should two adds from one session
/// race, the cart page and checkout say the cart mixes currencies, see
/// `domain::mixed_currencies`.)
pub async fn add(
    conn: &mut AsyncPgConnection,
    cart_id: Uuid,
    new_cart: bool,
    slug: &str,
    quantity: Quantity,
) -> Result<String, CartError> {
    let run = |sql| {
        Statement::new(sql)
            .bind::<SqlUuid, _>(cart_id)
            .bind::<Text, _>(slug)
            .bind::<Integer, _>(line_quantity(quantity.get()))
            .bind::<Integer, _>(line_quantity(MAX_LINE_QUANTITY))
    };
    let added = match run(if new_cart { ADD_TO_NEW_CART } else { ADD })
        .get_result::<Changed>(conn)
        .await
    {
        // The session's cart no longer exists (its row was deleted): it
        // starts again under the same id.
        Err(DatabaseError(DatabaseErrorKind::ForeignKeyViolation, info))
            if !new_cart && info.constraint_name() == Some("cart_items_cart_id_fkey") =>
        {
            run(ADD_TO_NEW_CART).get_result::<Changed>(conn).await
        }
        other => other,
    }
    .optional()?;
    match added {
        Some(changed) => Ok(changed.product_name),
        None => Err(why_not_added(conn, cart_id, slug, quantity).await?),
    }
}

/// Which rule refused an add, read again after the fact.
async fn why_not_added(
    conn: &mut AsyncPgConnection,
    cart_id: Uuid,
    slug: &str,
    quantity: Quantity,
) -> Result<CartError, diesel::result::Error> {
    let Some(product) = Product::find_active(conn, slug).await? else {
        return Ok(CartError::ProductNotFound);
    };
    let in_cart: u32 = cart_items::table
        .filter(cart_items::cart_id.eq(cart_id))
        .filter(cart_items::product_id.eq(product.id))
        .select(cart_items::quantity)
        .first::<i32>(conn)
        .await
        .optional()?
        .map_or(0, |q| u32::try_from(q).unwrap_or(0));
    let wanted = in_cart + quantity.get();
    if let Err(error) = check_stock(&product, wanted, in_cart) {
        return Ok(error);
    }
    if wanted > MAX_LINE_QUANTITY {
        return Ok(CartError::LineLimit { in_cart });
    }
    let other_currency: bool = diesel::select(exists(
        cart_items::table
            .inner_join(products::table)
            .filter(cart_items::cart_id.eq(cart_id))
            .filter(products::currency.ne(product.price().currency().code())),
    ))
    .get_result(conn)
    .await?;
    Ok(if other_currency {
        CartError::CurrencyMismatch
    } else {
        CartError::Changed
    })
}

/// Sets a line's quantity; 0 removes the line. Raising it needs the product
/// to be on sale with enough stock; lowering it is always allowed.
pub async fn set_quantity(
    conn: &mut AsyncPgConnection,
    cart_id: Uuid,
    item_id: i64,
    quantity: Quantity,
) -> Result<String, CartError> {
    if quantity.get() == 0 {
        return remove(conn, cart_id, item_id).await;
    }
    let updated = Statement::new(
        "UPDATE cart_items SET quantity = $3, updated_at = now() FROM products p \
         WHERE cart_items.id = $2 AND cart_items.cart_id = $1 AND p.id = cart_items.product_id \
           AND ($3 <= cart_items.quantity OR (p.active AND $3 <= COALESCE(p.stock, $3))) \
         RETURNING p.name AS product_name",
    )
    .bind::<SqlUuid, _>(cart_id)
    .bind::<BigInt, _>(item_id)
    .bind::<Integer, _>(line_quantity(quantity.get()))
    .get_result::<Changed>(conn)
    .await
    .optional()?;
    if let Some(changed) = updated {
        return Ok(changed.product_name);
    }
    // Which rule refused it, read again after the fact.
    let Some(product) = cart_items::table
        .inner_join(products::table)
        .filter(cart_items::id.eq(item_id))
        .filter(cart_items::cart_id.eq(cart_id))
        .select(Product::as_select())
        .first(conn)
        .await
        .optional()?
    else {
        return Err(CartError::ItemNotFound);
    };
    check_stock(&product, quantity.get(), 0)?;
    Err(if product.active {
        CartError::Changed
    } else {
        CartError::ProductNotFound
    })
}

/// Removes a line.
pub async fn remove(
    conn: &mut AsyncPgConnection,
    cart_id: Uuid,
    item_id: i64,
) -> Result<String, CartError> {
    Statement::new(
        "DELETE FROM cart_items USING products p \
         WHERE cart_items.id = $2 AND cart_items.cart_id = $1 AND p.id = cart_items.product_id \
         RETURNING p.name AS product_name",
    )
    .bind::<SqlUuid, _>(cart_id)
    .bind::<BigInt, _>(item_id)
    .get_result::<Changed>(conn)
    .await
    .optional()?
    .map(|changed| changed.product_name)
    .ok_or(CartError::ItemNotFound)
}

/// Deletes up to `batch` carts untouched since `cutoff` (created before it,
/// and no line changed since), their lines with them; returns how many.
/// Carts another node's purge has locked are skipped. A shopper adding a
/// new product to a cart as it is deleted gets the cart back with that line
/// (see `add`); one adding to a line it already has can see the add succeed
/// and the line go with the cart.
pub async fn purge_abandoned(
    conn: &mut AsyncPgConnection,
    cutoff: DateTime<Utc>,
    batch: i64,
) -> QueryResult<usize> {
    Statement::new(
        "DELETE FROM carts WHERE id IN ( \
             SELECT id FROM carts c WHERE created_at < $1 \
               AND NOT EXISTS ( \
                   SELECT 1 FROM cart_items i WHERE i.cart_id = c.id AND i.updated_at >= $1) \
             LIMIT $2 FOR UPDATE SKIP LOCKED)",
    )
    .bind::<Timestamptz, _>(cutoff)
    .bind::<BigInt, _>(batch)
    .execute(conn)
    .await
}

fn line_quantity(units: u32) -> i32 {
    // Quantities are at most MAX_LINE_QUANTITY.
    i32::try_from(units).unwrap_or(i32::MAX)
}

fn check_stock(product: &Product, wanted: u32, in_cart: u32) -> Result<(), CartError> {
    match product.stock {
        Some(stock) if wanted > u32::try_from(stock).unwrap_or(0) => {
            Err(CartError::NotEnoughStock {
                product: product.name.clone(),
                available: u32::try_from(stock).unwrap_or(0),
                in_cart,
            })
        }
        _ => Ok(()),
    }
}
