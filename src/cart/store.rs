//! Cart queries and writes: lines with their products, the batched add and
//! quantity statements (`sql/`), removal, and the purge of abandoned carts.

use chrono::{DateTime, Utc};
use diesel::dsl::{exists, sum};
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Integer, Text, Timestamptz, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::domain::{CartLine, MAX_LINE_QUANTITY, Quantity, Refusal, check_stock};
use crate::catalog::domain::Product;
use crate::catalog::store as catalog_store;
use crate::db::Statement;
use crate::db::batch::BatchWrite;
use crate::db::schema::{cart_items, products};
use crate::ids::{CartItemId, ProductSlug};

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

/// A written line of a batch: its write's place in the batch (from 1), and
/// its product's name.
#[derive(QueryableByName)]
struct Written {
    #[diesel(sql_type = BigInt)]
    n: i64,
    #[diesel(sql_type = Text)]
    product_name: String,
}

/// Each write's answer, in order: its product's name if its line was
/// written, `None` if a rule refused it.
fn answers(count: usize, written: Vec<Written>) -> Vec<Option<String>> {
    let mut answers = vec![None; count];
    for line in written {
        if let Some(answer) = usize::try_from(line.n - 1)
            .ok()
            .and_then(|i| answers.get_mut(i))
        {
            *answer = Some(line.product_name);
        }
    }
    answers
}

/// An add to cart: `quantity` units of the product with this slug, merged
/// with the cart's line for it. Batched with other carts' adds (`db::batch`).
#[derive(Debug, Clone)]
pub struct AddLine {
    pub cart_id: Uuid,
    pub slug: ProductSlug,
    pub quantity: Quantity,
}

/// Adds lines to carts in one statement, a cart at most once. For each: the
/// product must be on sale with the stock for the line, the line stays
/// within the cap, and the cart holds no product in another currency. The
/// upsert checks stock and the cap against the line as it is when its row is
/// locked, so concurrent adds cannot overshoot either. A cart gets its row
/// with its first line, or again if it was deleted meanwhile (the lines'
/// foreign key is checked at the end of the statement). Every lookup is by
/// key, one write at a time (the `LIMIT 1` and `= ALL` keep the planner from
/// turning them into joins, which it planned as hash joins over whole
/// tables), so a batch costs the same however many carts and products there
/// are. The currency check sees the lines committed when the statement
/// starts: should two adds from one session race, the cart page and checkout
/// say the cart mixes currencies (`domain::mixed_currencies`). Lines go in
/// cart order, so that two batches of adds lock the lines they share in one
/// order.
const ADD_LINES: &str = include_str!("sql/add_lines.sql");

impl BatchWrite for AddLine {
    type Key = Uuid;
    type Answer = Option<String>;
    const KIND: &'static str = "cart_add";

    fn key(&self) -> Uuid {
        self.cart_id
    }

    async fn run(
        conn: &mut AsyncPgConnection,
        batch: &[AddLine],
    ) -> QueryResult<Vec<Option<String>>> {
        let written = Statement::new(ADD_LINES)
            .bind::<Array<SqlUuid>, _>(batch.iter().map(|add| add.cart_id).collect::<Vec<_>>())
            .bind::<Array<Text>, _>(
                batch
                    .iter()
                    .map(|add| add.slug.as_str())
                    .collect::<Vec<_>>(),
            )
            .bind::<Array<Integer>, _>(
                batch
                    .iter()
                    .map(|add| line_quantity(add.quantity.get()))
                    .collect::<Vec<_>>(),
            )
            .bind::<Integer, _>(line_quantity(MAX_LINE_QUANTITY))
            .load::<Written>(conn)
            .await?;
        Ok(answers(batch.len(), written))
    }
}

/// A cart line's new quantity, at least 1 (0 is `remove`). Raising it needs
/// the product to be on sale with enough stock; lowering it is always
/// allowed. Batched with other carts' changes (`db::batch`).
#[derive(Debug, Clone)]
pub struct SetQuantity {
    pub cart_id: Uuid,
    pub item_id: CartItemId,
    pub quantity: Quantity,
}

/// Sets the quantities of lines of distinct carts in one statement. The
/// lines are locked first, in cart order, as adds lock theirs (`ADD_LINES`):
/// batches of both kinds then never wait for each other in a cycle. (The
/// `ANY` lets the planner fetch just the batch's lines by key, however many
/// lines the table holds.)
const SET_QUANTITIES: &str = include_str!("sql/set_quantities.sql");

impl BatchWrite for SetQuantity {
    type Key = Uuid;
    type Answer = Option<String>;
    const KIND: &'static str = "cart_set_quantity";

    fn key(&self) -> Uuid {
        self.cart_id
    }

    async fn run(
        conn: &mut AsyncPgConnection,
        batch: &[SetQuantity],
    ) -> QueryResult<Vec<Option<String>>> {
        let written = Statement::new(SET_QUANTITIES)
            .bind::<Array<SqlUuid>, _>(batch.iter().map(|set| set.cart_id).collect::<Vec<_>>())
            .bind::<Array<BigInt>, _>(
                batch
                    .iter()
                    .map(|set| set.item_id.get())
                    .collect::<Vec<_>>(),
            )
            .bind::<Array<Integer>, _>(
                batch
                    .iter()
                    .map(|set| line_quantity(set.quantity.get()))
                    .collect::<Vec<_>>(),
            )
            .load::<Written>(conn)
            .await?;
        Ok(answers(batch.len(), written))
    }
}

/// Which rule refused an add, read again after the fact.
pub async fn why_not_added(
    conn: &mut AsyncPgConnection,
    cart_id: Uuid,
    slug: &ProductSlug,
    quantity: Quantity,
) -> QueryResult<Refusal> {
    let Some(product) = catalog_store::find_active(conn, slug).await? else {
        return Ok(Refusal::ProductNotFound);
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
    if let Err(refusal) = check_stock(&product, wanted, in_cart) {
        return Ok(refusal);
    }
    if wanted > MAX_LINE_QUANTITY {
        return Ok(Refusal::LineLimit { in_cart });
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
        Refusal::CurrencyMismatch
    } else {
        Refusal::Changed
    })
}

/// Which rule refused a quantity change, read again after the fact.
pub async fn why_not_set(
    conn: &mut AsyncPgConnection,
    cart_id: Uuid,
    item_id: CartItemId,
    quantity: Quantity,
) -> QueryResult<Refusal> {
    let Some(product) = cart_items::table
        .inner_join(products::table)
        .filter(cart_items::id.eq(item_id.get()))
        .filter(cart_items::cart_id.eq(cart_id))
        .select(Product::as_select())
        .first(conn)
        .await
        .optional()?
    else {
        return Ok(Refusal::ItemNotFound);
    };
    if let Err(refusal) = check_stock(&product, quantity.get(), 0) {
        return Ok(refusal);
    }
    Ok(if product.active {
        Refusal::Changed
    } else {
        Refusal::ProductNotFound
    })
}

/// Removes a line; answers its product's name, or `None` if the cart has no
/// such line.
pub async fn remove(
    conn: &mut AsyncPgConnection,
    cart_id: Uuid,
    item_id: CartItemId,
) -> QueryResult<Option<String>> {
    Statement::new(
        "DELETE FROM cart_items USING products p \
         WHERE cart_items.id = $2 AND cart_items.cart_id = $1 AND p.id = cart_items.product_id \
         RETURNING p.name AS product_name",
    )
    .bind::<SqlUuid, _>(cart_id)
    .bind::<BigInt, _>(item_id.get())
    .get_result::<Changed>(conn)
    .await
    .optional()
    .map(|changed| changed.map(|changed| changed.product_name))
}

/// Deletes up to `batch` carts untouched since `cutoff` (created before it,
/// and no line changed since), their lines with them; returns how many.
/// Carts another node's purge has locked are skipped. A shopper adding a
/// new product to a cart as it is deleted gets the cart back with that line
/// (see `ADD_LINES`); one adding to a line it already has can see the add succeed
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
