//! Debits share the Stripe account's request budget across every node
//! (`stripe::budget`): each call to Stripe first takes the next turn of its
//! kind, kept in PostgreSQL so that all nodes draw on one budget, and waits
//! for it. A debit whose turn would come later than the budget's
//! `max_wait` is refused at once, before anything is sent to Stripe.

use std::time::Duration;

use super::store;
use crate::db::{DbError, DbPool};
use crate::stripe::budget::{Call, CallBudget};

/// The queue for Stripe is longer than a debit may wait.
#[derive(Debug, thiserror::Error)]
#[error("too many requests queue for the payment provider")]
pub struct QueueFull {
    /// When a retry may find a turn.
    pub retry_after: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum TurnError {
    #[error(transparent)]
    QueueFull(#[from] QueueFull),
    #[error(transparent)]
    Database(#[from] DbError),
}

/// Waits for this call's turn at Stripe.
pub async fn take_turn(db: &DbPool, budget: &CallBudget, call: Call) -> Result<(), TurnError> {
    let Some(spacing) = budget.spacing(call) else {
        return Ok(());
    };
    let mut conn = db.get().await.map_err(DbError::from)?;
    let wait = store::reserve_slot(&mut conn, budget.bucket(call), spacing, budget.max_wait)
        .await
        .map_err(DbError::from)?;
    drop(conn);
    match wait {
        Some(wait) => {
            tokio::time::sleep(wait).await;
            Ok(())
        }
        None => Err(QueueFull {
            retry_after: budget.max_wait.max(Duration::from_secs(1)),
        }
        .into()),
    }
}
