//! The refund use case: give back all or part of a succeeded payment
//! exactly once per Idempotency-Key, never more than is left.
//!
//! What is left is checked with the payment's row locked, and the refund is
//! recorded `requested` (taking its amount from what is left) before Stripe
//! is called, with Stripe's own Idempotency-Key derived from our refund id,
//! as staff refunds are: a retry after a crash or a timeout finishes the
//! same refund. Stripe checks the amount again against its charge. The
//! payment's refunded total follows Stripe's `charge.refunded` events, as
//! for refunds made anywhere else.

use std::time::Duration;

use super::debit::Answer;
use super::domain::RefundRequest;
use super::store::{self, IdempotencyKey, RefundClaim, Unrefundable};
use crate::db::{DbError, DbPool};
use crate::ledger::domain::{Refund, RefundStatus};
use crate::stripe::params::{NewRefund, RefundOf};
use crate::stripe::{StripeError, StripeGateway};

/// How long after a refund was asked for a retry may still ask Stripe again
/// with the same idempotency key (Stripe keeps keys for 24 hours).
const STRIPE_KEY_LIFETIME: chrono::TimeDelta = chrono::TimeDelta::hours(23);

/// Why a refund request got no answer of its own.
#[derive(Debug, thiserror::Error)]
pub enum RefundError {
    #[error("the payment cannot be refunded as asked: {0:?}")]
    Unrefundable(Unrefundable),
    #[error("the idempotency key was used for another request")]
    KeyReused,
    #[error("a request with this idempotency key is in flight")]
    KeyInUse,
    #[error("the refund's outcome is unknown")]
    OutcomeUnknown,
    /// Stripe could not be reached, limited us, or is still working on the
    /// same key: a retry with the same key asks again.
    #[error("the payment provider is unavailable")]
    Provider(#[source] StripeError),
    #[error(transparent)]
    Database(#[from] DbError),
}

impl From<diesel::result::Error> for RefundError {
    fn from(error: diesel::result::Error) -> Self {
        RefundError::Database(error.into())
    }
}

impl From<crate::db::PoolError> for RefundError {
    fn from(error: crate::db::PoolError) -> Self {
        RefundError::Database(error.into())
    }
}

/// Renders a refund's answer (status and JSON body) to its request, stored
/// for replays.
pub type Respond = fn(&Refund, &RefundRequest) -> (u16, serde_json::Value);

/// `failure_reason` of a refund Stripe refused because nothing was left.
pub const NOTHING_LEFT: &str = "charge_already_refunded";
/// ... because more than was left was asked for.
pub const MORE_THAN_LEFT: &str = "amount_too_large";
/// ... for any other reason.
pub const REFUSED: &str = "refused";
/// ... because Stripe never received it (the reconciler's finding).
pub const NEVER_RECEIVED: &str = "refund_not_created";

/// Refunds what `request` asks of its payment under the merchant's
/// idempotency `key`.
pub async fn refund(
    stripe: &StripeGateway,
    db: &DbPool,
    api_key: i64,
    key: &str,
    request: &RefundRequest,
    respond: Respond,
) -> Result<Answer, RefundError> {
    let idempotency = IdempotencyKey {
        api_key_id: api_key,
        key,
        lock_for: stripe.client.worst_case_duration() + Duration::from_secs(10),
    };
    let mut conn = db.get().await?;
    let claim = match store::existing_refund_claim(&mut conn, idempotency, request).await? {
        Some(claim) => claim,
        None => store::insert_refund_claim(&mut conn, idempotency, request)
            .await?
            .map_err(RefundError::Unrefundable)?,
    };
    drop(conn);
    match claim {
        RefundClaim::Replay { status, body } => Ok(Answer {
            status,
            body,
            replayed: true,
        }),
        RefundClaim::Mismatch => Err(RefundError::KeyReused),
        RefundClaim::InFlight => Err(RefundError::KeyInUse),
        RefundClaim::Resumed(refund) if refund.status() != RefundStatus::Requested => {
            // Its events settled it after the first request lost Stripe's
            // answer: answer from it.
            let (status, body) = respond(&refund, request);
            store::store_answer(&mut *db.get().await?, api_key, key, status, &body).await?;
            Ok(Answer {
                status,
                body,
                replayed: false,
            })
        }
        RefundClaim::Resumed(refund)
            if chrono::Utc::now() - refund.created_at > STRIPE_KEY_LIFETIME =>
        {
            Err(RefundError::OutcomeUnknown)
        }
        RefundClaim::Fresh(refund) | RefundClaim::Resumed(refund) => {
            ask_stripe(stripe, db, &refund, request, Some((api_key, key, respond)))
                .await?
                .ok_or(RefundError::OutcomeUnknown)
        }
    }
}

/// What Stripe said of a refund: its status, its id, why it refused or failed.
type Said<'a> = (RefundStatus, Option<&'a str>, Option<&'a str>);

/// Asks Stripe for the recorded refund, then records its answer and, for a
/// merchant's request, the answer for its key.
async fn ask_stripe(
    stripe: &StripeGateway,
    db: &DbPool,
    refund: &Refund,
    request: &RefundRequest,
    answer_for: Option<(i64, &str, Respond)>,
) -> Result<Option<Answer>, RefundError> {
    let new = NewRefund {
        payment_intent: &refund.payment_intent_id,
        amount: refund.money(request.currency),
        reason: refund.reason.as_deref(),
        refund_id: refund.id,
        of: RefundOf::Payment(request.payment_id.as_str()),
    };
    let result = stripe
        .client
        .create_refund(&new, &format!("storefront-refund-{}", refund.id))
        .await;
    let said: Said<'_> = match &result {
        Ok(made) => (
            RefundStatus::parse(&made.status).unwrap_or(RefundStatus::Pending),
            Some(made.id.as_str()),
            made.failure_reason.as_deref(),
        ),
        Err(error)
            if error.is_outage() || matches!(error.status(), Some(401 | 403 | 409 | 429)) =>
        {
            // Not an answer about this refund (a call before may have made
            // it): a retry with the same key asks again at once.
            if let Some((api_key, key, _)) = answer_for {
                store::release(&mut *db.get().await?, api_key, key).await?;
            }
            return Err(match result {
                Err(error) => RefundError::Provider(error),
                Ok(_) => RefundError::OutcomeUnknown,
            });
        }
        Err(error) => {
            tracing::warn!(%error, refund.id = refund.id, "the payment provider refused a refund");
            (RefundStatus::Refused, None, Some(refusal(error)))
        }
    };
    let answer_for = answer_for
        .map(|(api_key, key, respond)| (api_key, key, move |r: &Refund| respond(r, request)));
    let answered = store::finish_refund(&mut *db.get().await?, refund.id, said, answer_for).await?;
    Ok(answered.map(|(status, body)| Answer {
        status,
        body,
        replayed: false,
    }))
}

/// Finishes the API's refunds left `requested` since before `cutoff` (both
/// Stripe's answer and the merchant's retry were lost): asked again with
/// the same Stripe key while Stripe keeps it (Stripe answers with the
/// refund it made, or makes it now), or found never received after that
/// (its events would have told us otherwise). The merchant's retry of the
/// key then answers from the refund. Returns how many were finished.
pub async fn finish_unanswered(
    stripe: &StripeGateway,
    db: &DbPool,
    cutoff: chrono::DateTime<chrono::Utc>,
) -> anyhow::Result<usize> {
    let unanswered = store::unanswered_refunds(&mut *db.get().await?, cutoff).await?;
    let mut finished = 0;
    for (refund, request) in &unanswered {
        if chrono::Utc::now() - refund.created_at > STRIPE_KEY_LIFETIME {
            let said = (RefundStatus::Refused, None, Some(NEVER_RECEIVED));
            store::finish_refund(&mut *db.get().await?, refund.id, said, NO_ANSWER).await?;
            finished += 1;
            continue;
        }
        match ask_stripe(stripe, db, refund, request, None).await {
            Ok(_) => finished += 1,
            Err(RefundError::Provider(error)) if error.is_outage() => {
                tracing::warn!(%error, "Stripe unavailable; unanswered refunds wait for the next run");
                break;
            }
            Err(error) => {
                tracing::warn!(%error, refund.id = refund.id, "could not finish a refund")
            }
        }
    }
    Ok(finished)
}

/// Renders one refund's answer.
type Render = fn(&Refund) -> (u16, serde_json::Value);

/// The reconciler's: no merchant's request to answer.
const NO_ANSWER: Option<(i64, &str, Render)> = None;

/// Why Stripe refused a refund, in our words: all of the charge was
/// refunded already, more than is left was asked for, or anything else.
fn refusal(error: &StripeError) -> &'static str {
    match error {
        StripeError::Api { body, .. }
            if body.code.as_deref() == Some("charge_already_refunded") =>
        {
            NOTHING_LEFT
        }
        StripeError::Api { body, .. } if body.param.as_deref() == Some("amount") => MORE_THAN_LEFT,
        _ => REFUSED,
    }
}
