//! The cart's use cases: a worker's adds and quantity changes, batched with
//! other carts' (`db::batch`) so that under load one statement and one
//! commit carry many shoppers' changes, and removals. Each answers the
//! product's name, or why the change was refused.

use std::sync::Arc;

use uuid::Uuid;

use super::domain::Refusal;
use super::store::{self, AddLine, SetQuantity};
use crate::db::batch::{BatchError, Batcher};
use crate::db::{DbPool, PoolError};
use crate::ids::CartItemId;

#[derive(Debug, thiserror::Error)]
pub enum CartError {
    #[error("the cart refused the change: {0:?}")]
    Refused(Refusal),
    /// The database failed or could not be reached: not the shopper's doing.
    #[error(transparent)]
    Database(#[from] BatchError),
}

impl From<diesel::result::Error> for CartError {
    fn from(error: diesel::result::Error) -> Self {
        CartError::Database(error.into())
    }
}

impl From<PoolError> for CartError {
    fn from(error: PoolError) -> Self {
        CartError::Database(error.into())
    }
}

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

    /// Adds to the cart (see `AddLine`).
    pub async fn add(&self, add: AddLine) -> Result<String, CartError> {
        let (cart_id, quantity, slug) = (add.cart_id, add.quantity, add.slug.clone());
        match self.adds.write(add).await? {
            Some(name) => Ok(name),
            None => {
                let conn = &mut *self.pool.get().await?;
                let refusal = store::why_not_added(conn, cart_id, &slug, quantity).await?;
                Err(CartError::Refused(refusal))
            }
        }
    }

    /// Sets a line's quantity (see `SetQuantity`); 0 removes the line.
    pub async fn set_quantity(&self, set: SetQuantity) -> Result<String, CartError> {
        let (cart_id, item_id, quantity) = (set.cart_id, set.item_id, set.quantity);
        if quantity.get() == 0 {
            return self.remove(cart_id, item_id).await;
        }
        match self.quantities.write(set).await? {
            Some(name) => Ok(name),
            None => {
                let conn = &mut *self.pool.get().await?;
                let refusal = store::why_not_set(conn, cart_id, item_id, quantity).await?;
                Err(CartError::Refused(refusal))
            }
        }
    }

    /// Removes a line.
    pub async fn remove(&self, cart_id: Uuid, item_id: CartItemId) -> Result<String, CartError> {
        store::remove(&mut *self.pool.get().await?, cart_id, item_id)
            .await?
            .ok_or(CartError::Refused(Refusal::ItemNotFound))
    }
}
