//! The debit use case: charge an account's saved card off-session exactly
//! once per Idempotency-Key, however often the request is retried or its
//! node dies, and settle a debit whose answer from Stripe was lost from its
//! PaymentIntent's webhook.
//!
//! A debit claims its key and records a `processing` payment before Stripe
//! is called (with Stripe's own Idempotency-Key derived from our payment
//! id), so a retry after a crash or a timeout finishes the same payment
//! instead of charging twice. An asynchronous debit (`"confirm": "async"`)
//! is recorded `queued` and answered at once instead; a queue worker
//! (`queue`) charges it through the same `send`, `read_answer` and
//! `record_outcome`. Stripe is never called with a transaction or a pooled
//! connection held.

use std::time::Duration;

use diesel::QueryResult;
use diesel_async::{AsyncConnection, AsyncPgConnection};

use super::domain::{Confirm, DebitRequest};
use super::store::{self, Claim, IdempotencyKey};
use crate::db::{DbError, DbPool};
use crate::ids::PaymentId;
use crate::ledger::domain::{Outcome, Payment, PaymentStatus};
use crate::ledger::store as ledger;
use crate::stripe::budget::{Call, CallBudget};
use crate::stripe::params::OffSessionCharge;
use crate::stripe::types::PaymentIntent;
use crate::stripe::{StripeError, StripeGateway};

/// How long after a debit began a retry may still ask Stripe again with the
/// same idempotency key (Stripe keeps keys for 24 hours; an hour to spare).
pub(super) const STRIPE_KEY_LIFETIME: chrono::TimeDelta = chrono::TimeDelta::hours(23);

/// Why a debit got no answer of its own.
#[derive(Debug, thiserror::Error)]
pub enum DebitError {
    #[error("no such account")]
    AccountMissing,
    #[error("the account has no saved card")]
    NoSavedCard,
    #[error("the idempotency key was used for another request")]
    KeyReused,
    #[error("a request with this idempotency key is in flight")]
    KeyInUse,
    /// Stripe is still working on an earlier attempt with the same key.
    #[error("the payment provider is still processing this request")]
    ProviderBusy,
    /// Its answer was lost and it is too old to ask Stripe again safely.
    #[error("the payment's outcome is unknown")]
    OutcomeUnknown,
    /// Stripe could not be reached, limited us, or refused our key: the
    /// outcome is unknown, and a retry with the same key asks again.
    #[error("the payment provider is unavailable")]
    Provider(#[source] StripeError),
    /// More debits queue for Stripe than `max_wait` lets through: nothing
    /// was sent, and a retry with the same key asks again.
    #[error("too many debits queue for the payment provider")]
    QueueFull { retry_after: Duration },
    #[error("payment {0} has no customer or payment method")]
    Incomplete(String),
    #[error(transparent)]
    Database(#[from] DbError),
}

impl From<diesel::result::Error> for DebitError {
    fn from(error: diesel::result::Error) -> Self {
        DebitError::Database(error.into())
    }
}

impl From<crate::db::PoolError> for DebitError {
    fn from(error: crate::db::PoolError) -> Self {
        DebitError::Database(error.into())
    }
}

/// How Stripe's answer reads for the debit's own answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Stripe answered about the card: charged, processing or declined.
    Answered,
    /// Stripe rejected our request (not the card): a 422 for the merchant.
    Rejected,
}

/// Renders a payment's answer (status and JSON body), stored for replays.
pub type Respond = fn(&Payment, Verdict) -> (u16, serde_json::Value);

/// The answer to a debit request.
pub struct Answer {
    pub status: u16,
    pub body: serde_json::Value,
    /// The stored answer of an earlier request with the same key.
    pub replayed: bool,
}

/// Debits `request`'s account under the merchant's idempotency `key`.
pub async fn debit(
    stripe: &StripeGateway,
    db: &DbPool,
    api_key: i64,
    key: &str,
    request: &DebitRequest,
    respond: Respond,
) -> Result<Answer, DebitError> {
    // A request in flight holds its key while it waits for its turns at
    // Stripe and Stripe may still answer it (plus the database work around).
    let lock_for =
        stripe.client.worst_case_duration() + stripe.budget.max_wait * 2 + Duration::from_secs(10);
    let mut conn = db.get().await?;
    let account = ledger::find_account(&mut conn, &request.account_id)
        .await?
        .ok_or(DebitError::AccountMissing)?;
    let idempotency = IdempotencyKey {
        api_key_id: api_key,
        key,
        lock_for,
    };
    let claim = match store::existing_claim(&mut conn, idempotency, request).await? {
        Some(claim) => claim,
        None => {
            // A new request: find the saved card first (a Stripe GET, with no
            // connection held), then claim the key with it.
            let customer = account
                .stripe_customer_id
                .clone()
                .ok_or(DebitError::NoSavedCard)?;
            drop(conn);
            let payment_method = saved_card(stripe, db, &customer).await?;
            let mut conn = db.get().await?;
            store::insert_claim(
                &mut conn,
                idempotency,
                request,
                &customer,
                &payment_method,
                !stripe.is_test_mode(),
            )
            .await?
        }
    };
    match claim {
        Claim::Fresh(payment) if request.confirm == Confirm::Async => {
            // Queued: answered at once; a queue worker charges it.
            answer_from(db, api_key, key, &payment, respond).await
        }
        Claim::Replay { status, body } => Ok(Answer {
            status,
            body,
            replayed: true,
        }),
        Claim::Mismatch => Err(DebitError::KeyReused),
        Claim::InFlight => Err(DebitError::KeyInUse),
        Claim::Resumed(payment)
            if payment.status != PaymentStatus::Processing || request.confirm == Confirm::Async =>
        {
            // Its webhook settled it after the first request lost Stripe's
            // answer: answer from it, without asking Stripe again (whose
            // idempotency key may have expired by now). An asynchronous
            // debit is the queue worker's to charge, whatever its status.
            answer_from(db, api_key, key, &payment, respond).await
        }
        Claim::Resumed(payment)
            if chrono::Utc::now() - payment.created_at > STRIPE_KEY_LIFETIME =>
        {
            // Stripe keeps idempotency keys for 24 hours: asked again now, it
            // could charge a second time. Its webhook will settle it.
            Err(DebitError::OutcomeUnknown)
        }
        Claim::Fresh(payment) | Claim::Resumed(payment) => {
            charge(stripe, db, api_key, key, payment, request, respond).await
        }
    }
}

/// Answers the request from the payment as it is, and stores the answer
/// for its replays.
async fn answer_from(
    db: &DbPool,
    api_key: i64,
    key: &str,
    payment: &Payment,
    respond: Respond,
) -> Result<Answer, DebitError> {
    let (status, body) = respond(payment, Verdict::Answered);
    let mut conn = db.get().await?;
    store::store_answer(&mut conn, api_key, key, status, &body).await?;
    Ok(Answer {
        status,
        body,
        replayed: false,
    })
}

/// Waits for this call's turn at Stripe. Debits on every node share the
/// account's budget (`stripe::budget`), its turns kept in PostgreSQL; a
/// turn later than the budget's `max_wait` is refused at once (nothing
/// taken, nothing sent to Stripe).
pub(super) async fn take_turn(
    db: &DbPool,
    budget: &CallBudget,
    call: Call,
) -> Result<(), DebitError> {
    let Some(spacing) = budget.spacing(call) else {
        return Ok(());
    };
    let mut conn = db.get().await.map_err(DbError::from)?;
    let wait =
        store::reserve_slot(&mut conn, budget.bucket(call), spacing, budget.max_wait).await?;
    drop(conn);
    let wait = wait.ok_or(DebitError::QueueFull {
        retry_after: budget.max_wait.max(Duration::from_secs(1)),
    })?;
    tokio::time::sleep(wait).await;
    Ok(())
}

/// The card the customer saved most recently.
async fn saved_card(
    stripe: &StripeGateway,
    db: &DbPool,
    customer_id: &str,
) -> Result<String, DebitError> {
    take_turn(db, &stripe.budget, Call::Read).await?;
    match stripe.client.latest_saved_card(customer_id).await {
        Ok(card) => card.map(|card| card.id).ok_or(DebitError::NoSavedCard),
        // Our Stripe key refused (a rotation, say) is ours to fix, not the card.
        Err(error) if error.is_outage() || matches!(error.status(), Some(401 | 403)) => {
            Err(DebitError::Provider(error))
        }
        Err(error) => {
            tracing::warn!(%error, "could not list the customer's payment methods");
            Err(DebitError::NoSavedCard)
        }
    }
}

/// Creates the confirmed off-session PaymentIntent (Stripe's Idempotency-Key
/// is derived from our payment id, so a resumed request cannot charge twice),
/// then records the outcome and the answer for the key. What Stripe is sent
/// comes from the key's `request`, not the payment as it is now: a PATCH in
/// between must not change a resumed call's parameters (Stripe would refuse
/// its key, and the first call may have charged).
async fn charge(
    stripe: &StripeGateway,
    db: &DbPool,
    api_key: i64,
    key: &str,
    payment: Payment,
    request: &DebitRequest,
    respond: Respond,
) -> Result<Answer, DebitError> {
    if let Err(error) = take_turn(db, &stripe.budget, Call::Write).await {
        // Nothing was sent: a retry with the same key takes a turn again.
        let mut conn = db.get().await?;
        store::release(&mut conn, api_key, key).await?;
        return Err(error);
    }
    let result = send(stripe, &payment, request.description.as_deref()).await?;
    let Some((outcome, verdict)) = read_answer(&payment, &result) else {
        // Unknown outcome: leave the payment processing and let a retry
        // with the same key ask Stripe again with the same Stripe key.
        let mut conn = db.get().await?;
        store::release(&mut conn, api_key, key).await?;
        return Err(unanswered(result));
    };
    let mut conn = db.get().await?;
    let (status, body) = conn
        .transaction(async |conn| {
            let payment = record_outcome(conn, &payment.id, &outcome, false)
                .await?
                .ok_or(diesel::result::Error::NotFound)?;
            let (status, body) = respond(&payment, verdict);
            store::store_answer(conn, api_key, key, status, &body).await?;
            QueryResult::Ok((status, body))
        })
        .await?;
    Ok(Answer {
        status,
        body,
        replayed: false,
    })
}

/// Sends the debit to Stripe (after its turn): the confirmed off-session
/// PaymentIntent, under a Stripe Idempotency-Key derived from our payment
/// id, so that sending it again cannot charge twice.
pub(super) async fn send(
    stripe: &StripeGateway,
    payment: &Payment,
    description: Option<&str>,
) -> Result<Result<PaymentIntent, StripeError>, DebitError> {
    let (Some(customer), Some(payment_method)) = (
        payment.stripe_customer_id.as_deref(),
        payment.stripe_payment_method_id.as_deref(),
    ) else {
        return Err(DebitError::Incomplete(payment.id.clone()));
    };
    let charge = OffSessionCharge {
        amount: payment.money(),
        customer,
        payment_method,
        description,
        payment_id: &payment.id,
        account_id: &payment.account_id,
    };
    let stripe_key = format!("storefront-debit-{}", payment.id);
    Ok(stripe
        .client
        .create_off_session_payment(&charge, &stripe_key)
        .await)
}

/// How Stripe's answer to `send` ends the debit, or `None` when it is not
/// an answer about this payment (unreachable, busy, or our Stripe key
/// refused, say mid-rotation): a call before may have charged, and only
/// asking again with the same key tells.
pub(super) fn read_answer<'a>(
    payment: &Payment,
    result: &'a Result<PaymentIntent, StripeError>,
) -> Option<(Outcome<'a>, Verdict)> {
    Some(match result {
        Ok(intent) => {
            let status = match intent.status.as_str() {
                "succeeded" => PaymentStatus::Succeeded,
                "processing" => PaymentStatus::Processing,
                "requires_action" | "requires_confirmation" => PaymentStatus::RequiresAction,
                _ => PaymentStatus::Failed,
            };
            let failure = match status {
                PaymentStatus::RequiresAction => Some("authentication_required"),
                PaymentStatus::Failed => Some("payment_failed"),
                _ => None,
            };
            let outcome = Outcome {
                status,
                payment_intent_id: Some(intent.id.as_str()),
                failure_code: failure,
                decline_code: None,
                failure_message: None,
            };
            (outcome, Verdict::Answered)
        }
        Err(StripeError::Api {
            status: 402, body, ..
        }) => {
            let code = body.code.as_deref().unwrap_or("card_declined");
            let outcome = Outcome {
                status: PaymentStatus::after_decline(Some(code)),
                payment_intent_id: body.payment_intent.as_ref().map(|pi| pi.id()),
                failure_code: Some(code),
                decline_code: body.decline_code.as_deref(),
                failure_message: body.message.as_deref(),
            };
            (outcome, Verdict::Answered)
        }
        Err(error) if error.is_outage() || matches!(error.status(), Some(401 | 403 | 409)) => {
            return None;
        }
        Err(error) => {
            tracing::warn!(%error, payment.id = %payment.id, "the payment provider rejected a debit");
            let (code, message) = match error {
                StripeError::Api { body, .. } => (body.code.as_deref(), body.message.as_deref()),
                _ => (None, None),
            };
            let outcome = Outcome {
                status: PaymentStatus::Failed,
                payment_intent_id: None,
                failure_code: Some(code.unwrap_or("payment_rejected")),
                decline_code: None,
                failure_message: message,
            };
            (outcome, Verdict::Rejected)
        }
    })
}

/// The error for a call `read_answer` found no answer in.
pub(super) fn unanswered(result: Result<PaymentIntent, StripeError>) -> DebitError {
    let error = result
        .err()
        .unwrap_or(StripeError::Timeout(Duration::default()));
    if error.status() == Some(409) {
        DebitError::ProviderBusy
    } else {
        DebitError::Provider(error)
    }
}

/// Records how a debit ended: the one place every path writes a debit's
/// outcome (the synchronous request, the queue worker, Stripe's webhook and
/// the reconciler), unconditionally (the request that owns the debit's key)
/// or `only_if_unsettled`. Answers the payment if it was written, so what
/// follows a settled debit hooks in here. Call inside a transaction.
pub async fn record_outcome(
    conn: &mut AsyncPgConnection,
    payment_id: &str,
    outcome: &Outcome<'_>,
    only_if_unsettled: bool,
) -> QueryResult<Option<Payment>> {
    ledger::write_outcome(conn, payment_id, outcome, only_if_unsettled).await
}

/// Settles a debit still `processing` (its answer from Stripe was lost to a
/// timeout or an outage, and nobody retried) from its PaymentIntent's
/// `payment_intent.succeeded` (`succeeded`) or `payment_intent.payment_failed`
/// event (which may also come while the debit's own request is still waiting
/// for its answer: both write the same outcome, and like that request it
/// does not count as an update for `version`). A debit recorded as failed
/// without ever learning of an intent (a retry after a lost answer that
/// Stripe refused) takes the intent's word too: it is Stripe's record of
/// what happened to the money. Any other settled payment is left alone, and
/// an intent that is not a debit's (a checkout's carries no payment id) is
/// ignored, as is one whose amount, currency or customer is not the
/// payment's (its metadata alone proves nothing). Answers the payment if it
/// was settled. Call inside the webhook's transaction.
pub async fn settle_from_event(
    conn: &mut AsyncPgConnection,
    intent: &PaymentIntent,
    succeeded: bool,
) -> QueryResult<Option<Payment>> {
    let Some(payment) = payment_of(conn, intent).await? else {
        return Ok(None);
    };
    settle(conn, &payment, intent, succeeded).await
}

/// Settles a debit from its PaymentIntent as Stripe has it now (the
/// reconciler's path): succeeded, or failed if it can no longer succeed;
/// one still at work is left alone. Call inside a transaction.
pub async fn settle_intent(
    conn: &mut AsyncPgConnection,
    payment: &Payment,
    intent: &PaymentIntent,
) -> QueryResult<Option<Payment>> {
    let succeeded = match intent.status.as_str() {
        "succeeded" => true,
        "requires_payment_method" | "requires_action" | "canceled" => false,
        _ => return Ok(None),
    };
    match payment_of(conn, intent).await? {
        Some(matched) if matched.id == payment.id => settle(conn, payment, intent, succeeded).await,
        _ => Ok(None),
    }
}

/// The debit an intent says it is for, if the intent matches it.
async fn payment_of(
    conn: &mut AsyncPgConnection,
    intent: &PaymentIntent,
) -> QueryResult<Option<Payment>> {
    let Some(id) = intent
        .metadata
        .get("payment_id")
        .and_then(|id| PaymentId::parse(id))
    else {
        return Ok(None);
    };
    let Some(payment) = ledger::find_payment(conn, &id).await? else {
        return Ok(None);
    };
    let matches = payment.amount_minor == intent.amount
        && intent
            .currency
            .eq_ignore_ascii_case(payment.currency.code())
        && payment.stripe_customer_id.as_deref() == intent.customer.as_ref().map(|c| c.id());
    if !matches {
        tracing::warn!(payment.id = %payment.id, payment_intent = %intent.id, "a PaymentIntent names a debit it does not match; ignored");
        return Ok(None);
    }
    Ok(Some(payment))
}

/// Writes what the intent says of the debit, if it is still unsettled.
async fn settle(
    conn: &mut AsyncPgConnection,
    payment: &Payment,
    intent: &PaymentIntent,
    succeeded: bool,
) -> QueryResult<Option<Payment>> {
    let payment_id = payment.id.as_str();
    let error = intent.last_payment_error.as_ref();
    let code = error.and_then(|e| e.code.as_deref());
    let outcome = Outcome {
        status: if succeeded {
            PaymentStatus::Succeeded
        } else {
            PaymentStatus::after_decline(code)
        },
        payment_intent_id: Some(&intent.id),
        failure_code: (!succeeded).then(|| code.unwrap_or("payment_failed")),
        decline_code: error.and_then(|e| e.decline_code.as_deref()),
        failure_message: error.and_then(|e| e.message.as_deref()),
    };
    let settled = record_outcome(conn, payment_id, &outcome, true).await?;
    if settled.is_some() {
        // A debit recorded failed had that answer stored for its key: a
        // replay now answers from the payment instead.
        store::forget_rejection(conn, payment_id).await?;
    }
    Ok(settled)
}
