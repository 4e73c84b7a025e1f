//! Settling checkouts: the one place a Checkout Session's state reaches our
//! order (paid, or expired with its stock released), and refunds reaching
//! the order and its payment. Used by the webhook, the return pages and the
//! reconciler; safe to call any number of times, concurrently.

use diesel::QueryResult;
use diesel_async::{AsyncConnection, AsyncPgConnection};

use crate::ids::OrderToken;
use crate::ledger::{held_refunds, store as ledger};
use crate::metrics;
use crate::orders::domain::{IssueKind, Order, OrderStatus, Source};
use crate::orders::store::{self, PaidWith};
use crate::stripe::types::{CheckoutSession, IdOrObject, SessionPaymentStatus, SessionStatus};

/// What applying a session did to its order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    Paid,
    Expired,
    /// Nothing to do: still open, awaiting an async payment, or already settled.
    Unchanged,
}

/// Applies what Stripe says of a session to its order. The transitions are
/// conditional on `pending`, so any number of callers apply each once.
/// Answers the order as it is now.
pub async fn apply_session(
    conn: &mut AsyncPgConnection,
    session: &CheckoutSession,
    source: Source,
) -> anyhow::Result<(Option<Order>, Applied)> {
    let Some(order) = find_order(conn, session).await? else {
        tracing::warn!(session.id = %session.id, "checkout session is not one of ours");
        return Ok((None, Applied::Unchanged));
    };
    let applied = match (session.status, session.payment_status) {
        (
            Some(SessionStatus::Complete),
            SessionPaymentStatus::Paid | SessionPaymentStatus::NoPaymentRequired,
        ) => {
            let amount_matches = session.amount_total == Some(order.total().minor())
                && session
                    .currency
                    .as_deref()
                    .map(str::to_ascii_uppercase)
                    .as_deref()
                    == Some(order.currency().code());
            if !amount_matches {
                // Never ship for a different amount than we asked for: leave
                // it for a person, with what Stripe reported.
                tracing::error!(order.id = order.id, session.id = %session.id, "paid amount differs from the order total");
                needs_a_person(conn, &order, IssueKind::AmountMismatch, session).await?;
                Applied::Unchanged
            } else if mark_paid(conn, &order, session, source).await? {
                tracing::info!(order.id = order.id, %source, "order paid");
                metrics::get().order_transition("paid", source);
                Applied::Paid
            } else {
                if order.status.is_closed_unpaid() {
                    // Its stock is released and may be sold: a person refunds or ships.
                    tracing::error!(order.id = order.id, session.id = %session.id, status = order.status.as_str(), "a closed order was paid");
                    needs_a_person(conn, &order, IssueKind::PaidAfterClose, session).await?;
                }
                Applied::Unchanged
            }
        }
        (Some(SessionStatus::Expired), _) => {
            if store::close_unpaid(conn, order.id, OrderStatus::Expired, source).await? {
                metrics::get().order_transition("expired", source);
                tracing::info!(order.id = order.id, %source, "order expired, stock released");
                Applied::Expired
            } else {
                Applied::Unchanged
            }
        }
        _ => Applied::Unchanged,
    };
    let order = store::find_by_session(conn, &session.id).await?;
    Ok((order, applied))
}

/// Records that the order needs a person, with Stripe's figures; counted
/// once however often the event is delivered.
async fn needs_a_person(
    conn: &mut AsyncPgConnection,
    order: &Order,
    kind: IssueKind,
    session: &CheckoutSession,
) -> anyhow::Result<()> {
    let details = serde_json::json!({
        "order_total_minor": order.total().minor(),
        "order_currency": order.currency().code(),
        "stripe_amount_total": session.amount_total,
        "stripe_currency": session.currency,
        "checkout_session": session.id,
        "payment_intent": session.payment_intent_id(),
        "order_status": order.status.as_str(),
    });
    if store::record_issue(conn, order.id, kind, &details).await? {
        metrics::get().order_issue(kind.as_str());
    }
    Ok(())
}

/// Fulfils the order and, in the same transaction, records its payment in
/// the payer's account history (creating or matching the account).
async fn mark_paid(
    conn: &mut AsyncPgConnection,
    order: &Order,
    session: &CheckoutSession,
    source: Source,
) -> anyhow::Result<bool> {
    let payment_intent = session.payment_intent_id();
    conn.transaction(async |conn| {
        if let Some(payment_intent) = payment_intent {
            held_refunds::lock_payment_intent(conn, payment_intent).await?;
        }
        let paid_with = PaidWith {
            payment_intent_id: payment_intent,
            email: session.email(),
            livemode: session.livemode,
        };
        let paid = store::mark_paid(conn, order.id, &paid_with, source).await?;
        if paid {
            ledger::record_checkout_payment(
                conn,
                order.id,
                session.livemode,
                order.total(),
                session.customer.as_ref().map(IdOrObject::id),
                session.email(),
                payment_intent,
            )
            .await?;
            // A refund whose event came before this payment's.
            if let Some(payment_intent) = payment_intent
                && let Some(refunded) = held_refunds::take(conn, payment_intent).await?
            {
                record_refund(conn, payment_intent, refunded, source).await?;
            }
        }
        Ok(paid)
    })
    .await
}

/// A charge's refunded total (cumulative: replays and reordered events change
/// nothing) reaches its order and its payment in the account history; if
/// neither has succeeded with its PaymentIntent yet, it is held until one
/// does (`mark_paid`, or a debit's outcome). Call inside a transaction (the
/// PaymentIntent's lock lasts until its end), as the webhook does.
pub async fn apply_refund(
    conn: &mut AsyncPgConnection,
    payment_intent: &str,
    refunded: i64,
    source: Source,
) -> anyhow::Result<()> {
    held_refunds::lock_payment_intent(conn, payment_intent).await?;
    record_refund(conn, payment_intent, refunded, source).await?;
    if held_refunds::hold(conn, payment_intent, refunded).await? {
        tracing::info!(payment_intent, "refund held until its payment is recorded");
    }
    Ok(())
}

async fn record_refund(
    conn: &mut AsyncPgConnection,
    payment_intent: &str,
    refunded: i64,
    source: Source,
) -> QueryResult<()> {
    store::record_refund(conn, payment_intent, refunded, source).await?;
    ledger::record_refund(conn, payment_intent, refunded).await?;
    Ok(())
}

/// Our order for a session: by the stored session id, or by the order token
/// in its metadata (if we crashed before storing the id).
async fn find_order(
    conn: &mut AsyncPgConnection,
    session: &CheckoutSession,
) -> anyhow::Result<Option<Order>> {
    if let Some(order) = store::find_by_session(conn, &session.id).await? {
        return Ok(Some(order));
    }
    let Some(token) = session
        .metadata
        .get("order_token")
        .and_then(|token| OrderToken::parse(token))
    else {
        return Ok(None);
    };
    match store::find_by_token(conn, &token).await? {
        Some(order) if order.stripe_session_id.is_none() => {
            store::attach_session(conn, order.id, &session.id, session.url.as_deref()).await?;
            Ok(store::find_by_token(conn, &token).await?)
        }
        _ => Ok(None),
    }
}
