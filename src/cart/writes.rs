//! A worker's cart changes, batched with other carts' (`db::batch`): under
//! load, one statement and one commit carry many shoppers' adds.

use std::sync::Arc;

use super::models::{self, AddLine, CartError, SetQuantity};
use crate::catalog::models::plausible_slug;
use crate::db::DbPool;
use crate::db::batch::Batcher;

pub struct CartWrites {
    pool: DbPool,
    adds: Arc<Batcher<AddLine>>,
    quantities: Arc<Batcher<SetQuantity>>,
}

impl CartWrites {
    /// Batches that run on `pool`, the worker's own.
    pub fn new(pool: &DbPool) -> CartWrites {
        CartWrites {
            pool: pool.clone(),
            adds: Batcher::new(pool.clone()),
            quantities: Batcher::new(pool.clone()),
        }
    }

    /// Adds to the cart (see `AddLine`); answers the product's name, or the
    /// rule that refused the add.
    pub async fn add(&self, add: AddLine) -> Result<String, CartError> {
        if !plausible_slug(&add.slug) {
            return Err(CartError::ProductNotFound);
        }
        let (cart_id, quantity, slug) = (add.cart_id, add.quantity, add.slug.clone());
        match self.adds.write(add).await? {
            Some(name) => Ok(name),
            None => {
                let conn = &mut *self.pool.get().await?;
                Err(models::why_not_added(conn, cart_id, &slug, quantity).await?)
            }
        }
    }

    /// Sets a line's quantity (see `SetQuantity`); 0 removes the line.
    /// Answers the product's name, or the rule that refused the change.
    pub async fn set_quantity(&self, set: SetQuantity) -> Result<String, CartError> {
        let (cart_id, item_id, quantity) = (set.cart_id, set.item_id, set.quantity);
        if quantity.get() == 0 {
            return models::remove(&mut *self.pool.get().await?, cart_id, item_id).await;
        }
        match self.quantities.write(set).await? {
            Some(name) => Ok(name),
            None => {
                let conn = &mut *self.pool.get().await?;
                Err(models::why_not_set(conn, cart_id, item_id, quantity).await?)
            }
        }
    }
}
