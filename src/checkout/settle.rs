//! Settling checkouts: the one place a Checkout Session's state reaches our
//! order (completed with Stripe's figures, paid, failed, or expired with its
//! stock released), and refunds reaching the order and its payment (their
//! totals, and each refund's own story from its events), each
//! change told to merchants' endpoints (`order.paid`, `order.refunded`) in
//! its transaction. Used by the webhook, the return pages and the
//! reconciler; safe to call any number of times, concurrently.

use diesel::QueryResult;
use diesel_async::{AsyncConnection, AsyncPgConnection};

use crate::db::DbPool;
use crate::events::domain::EventType;
use crate::events::store as events;
use crate::ids::OrderToken;
use crate::ledger::domain::RefundStatus;
use crate::ledger::{held_refunds, refunds, store as ledger};
use crate::metrics;
use crate::orders::domain::{IssueKind, Order, OrderStatus, ShippingAddress, Source, StripeTotals};
use crate::orders::store::{self, Completion, PaidWith};
use crate::orders::view::OrderObject;
use crate::stripe::types::{
    CheckoutSession, IdOrObject, Refund, SessionPaymentStatus, SessionStatus,
};
use crate::stripe::{StripeClient, StripeError};

/// What applying a session did to its order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    Paid,
    Expired,
    /// Nothing to do: still open, awaiting an async payment, or already settled.
    Unchanged,
}

/// A session as Stripe reported it, with the text of the promotion code its
/// discount came from (the session names only the code's id).
#[derive(Debug, Clone)]
pub struct Reported {
    pub session: CheckoutSession,
    pub promotion_code: Option<String>,
}

/// Looks up what settling a completed session needs besides the session:
/// the promotion code the shopper typed. It asks Stripe, so call it
/// outside any transaction.
pub async fn report(
    stripe: &StripeClient,
    session: CheckoutSession,
) -> Result<Reported, StripeError> {
    if session.status != Some(SessionStatus::Complete) {
        return Ok(Reported {
            session,
            promotion_code: None,
        });
    }
    // Events carry the session without its breakdown: ask for it.
    let code_id = match session.promotion_code_id() {
        Some(id) => Some(id.to_owned()),
        None if session.discount_unexplained() => stripe
            .retrieve_checkout_session(&session.id)
            .await?
            .promotion_code_id()
            .map(str::to_owned),
        None => None,
    };
    let promotion_code = match code_id {
        Some(id) => Some(stripe.retrieve_promotion_code(&id).await?.code),
        None => None,
    };
    Ok(Reported {
        session,
        promotion_code,
    })
}

/// Reports a session Stripe answered (`report`) and applies it, each step
/// with a connection of its own: the return pages and the reconciler.
pub async fn settle_session(
    stripe: &StripeClient,
    db: &DbPool,
    session: CheckoutSession,
    source: Source,
) -> anyhow::Result<(Option<Order>, Applied)> {
    let reported = report(stripe, session).await?;
    let mut conn = db.get().await?;
    apply_session(&mut conn, &reported, source).await
}

/// Applies what Stripe says of a session to its order. The transitions are
/// conditional on `pending`, so any number of callers apply each once.
/// Answers the order as it is now.
pub async fn apply_session(
    conn: &mut AsyncPgConnection,
    reported: &Reported,
    source: Source,
) -> anyhow::Result<(Option<Order>, Applied)> {
    let session = &reported.session;
    let Some(order) = find_order(conn, session).await? else {
        tracing::warn!(session.id = %session.id, "checkout session is not one of ours");
        return Ok((None, Applied::Unchanged));
    };
    let ship_to = ship_to(session);
    let completion = completion(&order, reported, ship_to.as_ref());
    let applied = match (session.status, session.payment_status) {
        (
            Some(SessionStatus::Complete),
            SessionPaymentStatus::Paid | SessionPaymentStatus::NoPaymentRequired,
        ) => match completion {
            // Never ship for other items or prices than we asked for: leave
            // it for a person, with what Stripe reported.
            Some(completion) if completion.totals.subtotal != order.items_total() => {
                tracing::error!(order.id = order.id, session.id = %session.id, "paid subtotal differs from the order's items");
                needs_a_person(conn, &order, IssueKind::AmountMismatch, session).await?;
                Applied::Unchanged
            }
            None => {
                tracing::error!(order.id = order.id, session.id = %session.id, "paid amounts or currency are not the order's");
                needs_a_person(conn, &order, IssueKind::AmountMismatch, session).await?;
                Applied::Unchanged
            }
            Some(completion) if !completion.totals.adds_up(order.tax_behavior()) => {
                tracing::error!(order.id = order.id, session.id = %session.id, "Stripe's figures do not add up to its total");
                needs_a_person(conn, &order, IssueKind::TotalsMismatch, session).await?;
                Applied::Unchanged
            }
            Some(completion) => {
                if mark_paid(conn, &order, session, &completion, source).await? {
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
        },
        // Submitted, not paid yet: a payment that settles later (a bank
        // debit) is on its way. The order keeps its stock meanwhile.
        (Some(SessionStatus::Complete), SessionPaymentStatus::Unpaid) => {
            if let Some(completion) = completion
                && store::record_completion(conn, order.id, &completion).await?
                && order.completed_at.is_none()
            {
                tracing::info!(order.id = order.id, %source, "payment submitted, settling later");
            }
            Applied::Unchanged
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

/// A submitted payment failed at Stripe (a bank debit was returned): the
/// order fails and its stock is released. Whether this call failed it.
pub async fn payment_failed(
    conn: &mut AsyncPgConnection,
    session_id: &str,
    source: Source,
) -> anyhow::Result<bool> {
    let Some(order) = store::find_by_session(conn, session_id).await? else {
        return Ok(false);
    };
    let failed = store::close_unpaid(conn, order.id, OrderStatus::Failed, source).await?;
    if failed {
        tracing::info!(order.id = order.id, %source, "payment failed, stock released");
        metrics::get().order_transition("failed", source);
    }
    Ok(failed)
}

/// What Stripe reported of a completed session, in the order's currency:
/// `None` when it is another currency or the amounts are missing.
fn completion<'a>(
    order: &Order,
    reported: &'a Reported,
    ship_to: Option<&'a ShippingAddress>,
) -> Option<Completion<'a>> {
    let session = &reported.session;
    let currency = session.currency.as_deref()?.to_ascii_uppercase();
    if currency != order.currency().code() {
        return None;
    }
    let details = session.total_details.clone().unwrap_or_default();
    let minor = [
        session.amount_subtotal?,
        details.amount_discount,
        details.amount_shipping,
        details.amount_tax,
        session.amount_total?,
    ];
    Some(Completion {
        totals: StripeTotals::new(order.currency(), minor).ok()?,
        promotion_code: reported.promotion_code.as_deref(),
        ship_to,
        shipping_option: session
            .chosen_shipping_option()
            .and_then(|position| i16::try_from(position).ok()),
    })
}

/// Where the shopper asked the goods to be shipped, if anywhere.
fn ship_to(session: &CheckoutSession) -> Option<ShippingAddress> {
    let shipping = session.shipping()?;
    let address = shipping.address.clone().unwrap_or_default();
    let country = address
        .country
        .filter(|c| c.len() == 2 && c.bytes().all(|b| b.is_ascii_uppercase()))?;
    Some(ShippingAddress {
        name: shipping.name.clone(),
        line1: address.line1,
        line2: address.line2,
        city: address.city,
        state: address.state,
        postal_code: address.postal_code,
        country: Some(country),
    })
}

/// Records that the order needs a person, with Stripe's figures; counted
/// once however often the event is delivered.
async fn needs_a_person(
    conn: &mut AsyncPgConnection,
    order: &Order,
    kind: IssueKind,
    session: &CheckoutSession,
) -> anyhow::Result<()> {
    let details = session.total_details.clone().unwrap_or_default();
    let details = serde_json::json!({
        "order_total_minor": order.items_total().minor(),
        "order_currency": order.currency().code(),
        "stripe_amount_subtotal": session.amount_subtotal,
        "stripe_amount_discount": details.amount_discount,
        "stripe_amount_shipping": details.amount_shipping,
        "stripe_amount_tax": details.amount_tax,
        "stripe_amount_total": session.amount_total,
        "stripe_currency": session.currency,
        "prices_include_tax": order.tax_behavior().prices_include_tax(),
        "checkout_session": session.id,
        "payment_intent": session.payment_intent_id(),
        "order_status": order.status.as_str(),
    });
    if store::record_issue(conn, order.id, kind, &details).await? {
        metrics::get().order_issue(kind.as_str());
    }
    Ok(())
}

/// Records Stripe's figures and fulfils the order and, in the same
/// transaction, records what was charged in the payer's account history
/// (creating or matching the account).
async fn mark_paid(
    conn: &mut AsyncPgConnection,
    order: &Order,
    session: &CheckoutSession,
    completion: &Completion<'_>,
    source: Source,
) -> anyhow::Result<bool> {
    let payment_intent = session.payment_intent_id();
    conn.transaction(async |conn| {
        if let Some(payment_intent) = payment_intent {
            held_refunds::lock_payment_intent(conn, payment_intent).await?;
        }
        if !store::record_completion(conn, order.id, completion).await? {
            return Ok(false);
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
                &completion.totals,
                session.customer.as_ref().map(IdOrObject::id),
                session.email(),
                payment_intent,
            )
            .await?;
            tell_merchants(conn, order.id, EventType::OrderPaid).await?;
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
    if store::record_refund(conn, payment_intent, refunded, source).await?
        && let Some(order) = store::find_by_payment_intent(conn, payment_intent).await?
    {
        tell_merchants(conn, order.id, EventType::OrderRefunded).await?;
    }
    ledger::record_refund(conn, payment_intent, refunded).await?;
    Ok(())
}

/// A refund Stripe had counted that then failed (or was canceled) gives its
/// amount back to the order and its payment: Stripe lowers the charge's
/// refunded total without a new `charge.refunded`, so the totals we keep
/// from those events would otherwise stay too high. Call inside the
/// refund event's transaction.
pub async fn withdraw_refund(
    conn: &mut AsyncPgConnection,
    payment_intent: &str,
    amount_minor: i64,
) -> QueryResult<()> {
    held_refunds::lock_payment_intent(conn, payment_intent).await?;
    store::withdraw_refund(conn, payment_intent, amount_minor).await?;
    ledger::withdraw_refund(conn, payment_intent, amount_minor).await?;
    Ok(())
}

/// A refund Stripe could not make good needs a person: an issue on its
/// order.
pub async fn record_refund_failure(
    conn: &mut AsyncPgConnection,
    order_id: i64,
    refund: &Refund,
) -> QueryResult<()> {
    let details = serde_json::json!({
        "refund": refund.id,
        "amount_minor": refund.amount,
        "failure_reason": refund.failure_reason,
    });
    store::record_issue(conn, order_id, IssueKind::RefundFailed, &details).await?;
    tracing::error!(refund.id = %refund.id, order.id = order_id, "a refund failed at Stripe");
    Ok(())
}

/// A refund's event from Stripe (`refund.created`, `refund.updated`,
/// `refund.failed`, `charge.refund.updated`): moves our refund on, or
/// records one made in Stripe's dashboard; a failure needs a person. Call
/// in the webhook's transaction.
pub async fn apply_stripe_refund(conn: &mut AsyncPgConnection, refund: &Refund) -> QueryResult<()> {
    let status = RefundStatus::parse(&refund.status).unwrap_or(RefundStatus::Pending);
    match refunds::find_for_stripe(conn, &refund.id, refund.storefront_id()).await? {
        Some(record) => {
            let previous = refunds::record_status(
                conn,
                record.id,
                status,
                Some(&refund.id),
                refund.failure_reason.as_deref(),
            )
            .await?;
            let withdrawn = matches!(status, RefundStatus::Failed | RefundStatus::Canceled)
                && previous.is_some_and(RefundStatus::holds_money);
            if withdrawn {
                withdraw_refund(conn, &record.payment_intent_id, record.amount_minor).await?;
            }
            if let (Some(order_id), RefundStatus::Failed, Some(_)) =
                (record.order_id, status, previous)
            {
                record_refund_failure(conn, order_id, refund).await?;
            }
        }
        None => {
            let Some(payment_intent) = refund.payment_intent.as_ref().map(|pi| pi.id()) else {
                return Ok(());
            };
            let inserted = refunds::insert_from_stripe(
                conn,
                payment_intent,
                &refund.id,
                refund.amount,
                status,
                refund.failure_reason.as_deref(),
            )
            .await?;
            if let (Some(Some(order_id)), RefundStatus::Failed) = (inserted, status) {
                record_refund_failure(conn, order_id, refund).await?;
            }
        }
    }
    Ok(())
}

/// Records an event about the order, as it is now, for merchants'
/// endpoints (in the caller's transaction).
async fn tell_merchants(
    conn: &mut AsyncPgConnection,
    order_id: i64,
    kind: EventType,
) -> QueryResult<()> {
    let Some(order) = store::find_by_id(conn, order_id).await? else {
        return Ok(());
    };
    let items = store::items(conn, &order).await?;
    let object = serde_json::to_value(OrderObject::from_order(&order, &items))
        .map_err(|error| diesel::result::Error::SerializationError(error.into()))?;
    events::enqueue(conn, kind, &object, order.livemode).await?;
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
