use diesel::dsl::{exists, now, sum};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::domain::{CartLine, MAX_LINE_QUANTITY, Quantity};
use crate::catalog::models::Product;
use crate::db::schema::{cart_items, carts, products};

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
            CartError::Database(_) => "Something went wrong.".into(),
        }
    }
}

pub async fn create(conn: &mut AsyncPgConnection) -> QueryResult<Uuid> {
    diesel::insert_into(carts::table)
        .default_values()
        .returning(carts::id)
        .get_result(conn)
        .await
}

pub async fn exists_by_id(conn: &mut AsyncPgConnection, cart_id: Uuid) -> QueryResult<bool> {
    diesel::select(exists(carts::table.find(cart_id)))
        .get_result(conn)
        .await
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

/// Adds `quantity` of the product to the cart (merging with an existing line).
/// The cart row is locked so concurrent adds to one cart cannot both pass the
/// stock check.
pub async fn add(
    conn: &mut AsyncPgConnection,
    cart_id: Uuid,
    slug: &str,
    quantity: Quantity,
) -> Result<Product, CartError> {
    let slug = slug.to_owned();
    conn.transaction(async |conn| {
        lock_cart(conn, cart_id).await?;
        let product = Product::find_active(conn, &slug)
            .await?
            .ok_or(CartError::ProductNotFound)?;
        let in_cart: u32 = cart_items::table
            .filter(cart_items::cart_id.eq(cart_id))
            .filter(cart_items::product_id.eq(product.id))
            .select(cart_items::quantity)
            .first::<i32>(conn)
            .await
            .optional()?
            .map_or(0, |q| u32::try_from(q).unwrap_or(0));
        let wanted = in_cart + quantity.get();
        check_stock(&product, wanted, in_cart)?;
        if wanted > MAX_LINE_QUANTITY {
            return Err(CartError::LineLimit { in_cart });
        }
        let other_currency: bool = diesel::select(exists(
            cart_items::table
                .inner_join(products::table)
                .filter(cart_items::cart_id.eq(cart_id))
                .filter(products::currency.ne(product.price().currency().code())),
        ))
        .get_result(conn)
        .await?;
        if other_currency {
            return Err(CartError::CurrencyMismatch);
        }
        let wanted = i32::try_from(wanted).unwrap_or(i32::MAX);
        diesel::insert_into(cart_items::table)
            .values((
                cart_items::cart_id.eq(cart_id),
                cart_items::product_id.eq(product.id),
                cart_items::quantity.eq(wanted),
            ))
            .on_conflict((cart_items::cart_id, cart_items::product_id))
            .do_update()
            .set(cart_items::quantity.eq(wanted))
            .execute(conn)
            .await?;
        touch(conn, cart_id).await?;
        Ok(product)
    })
    .await
}

/// Sets a line's quantity; 0 removes the line. Returns the product's name.
pub async fn set_quantity(
    conn: &mut AsyncPgConnection,
    cart_id: Uuid,
    item_id: i64,
    quantity: Quantity,
) -> Result<String, CartError> {
    conn.transaction(async |conn| {
        lock_cart(conn, cart_id).await?;
        let (in_cart, product): (i32, Product) = cart_items::table
            .inner_join(products::table)
            .filter(cart_items::id.eq(item_id))
            .filter(cart_items::cart_id.eq(cart_id))
            .select((cart_items::quantity, Product::as_select()))
            .first(conn)
            .await
            .optional()?
            .ok_or(CartError::ItemNotFound)?;
        if quantity.get() == 0 {
            delete_item(conn, cart_id, item_id).await?;
        } else {
            // Raising the quantity needs stock; lowering it is always allowed.
            if quantity.get() > u32::try_from(in_cart).unwrap_or(0) {
                check_stock(&product, quantity.get(), 0)?;
                if !product.active {
                    return Err(CartError::ProductNotFound);
                }
            }
            diesel::update(cart_items::table.find(item_id))
                .set(cart_items::quantity.eq(i32::try_from(quantity.get()).unwrap_or(i32::MAX)))
                .execute(conn)
                .await?;
        }
        touch(conn, cart_id).await?;
        Ok(product.name)
    })
    .await
}

/// Removes a line. Returns the product's name.
pub async fn remove(
    conn: &mut AsyncPgConnection,
    cart_id: Uuid,
    item_id: i64,
) -> Result<String, CartError> {
    conn.transaction(async |conn| {
        lock_cart(conn, cart_id).await?;
        let name: String = cart_items::table
            .inner_join(products::table)
            .filter(cart_items::id.eq(item_id))
            .filter(cart_items::cart_id.eq(cart_id))
            .select(products::name)
            .first(conn)
            .await
            .optional()?
            .ok_or(CartError::ItemNotFound)?;
        delete_item(conn, cart_id, item_id).await?;
        touch(conn, cart_id).await?;
        Ok(name)
    })
    .await
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

async fn lock_cart(conn: &mut AsyncPgConnection, cart_id: Uuid) -> Result<(), CartError> {
    carts::table
        .find(cart_id)
        .select(carts::id)
        .for_update()
        .first::<Uuid>(conn)
        .await
        .optional()?
        .map(|_| ())
        .ok_or(CartError::ItemNotFound)
}

async fn delete_item(
    conn: &mut AsyncPgConnection,
    cart_id: Uuid,
    item_id: i64,
) -> QueryResult<usize> {
    diesel::delete(
        cart_items::table
            .filter(cart_items::id.eq(item_id))
            .filter(cart_items::cart_id.eq(cart_id)),
    )
    .execute(conn)
    .await
}

async fn touch(conn: &mut AsyncPgConnection, cart_id: Uuid) -> QueryResult<usize> {
    diesel::update(carts::table.find(cart_id))
        .set(carts::updated_at.eq(now))
        .execute(conn)
        .await
}
