//! Card payments: the Checkout flow of the hosted page, PaymentIntent
//! confirmation through the API, and refunds.

use serde_json::{Map, Value, json};

use crate::cards::{Decline, OnSession, TestCard};
use crate::error::ApiError;
use crate::ids;
use crate::model::{Card, Charge, Customer, PaymentIntent, PaymentMethod, Refund, SessionStatus};
use crate::money;
use crate::state::State;

/// The message Checkout shows when the customer fails 3D Secure.
const AUTHENTICATION_FAILED: &str = "We are unable to authenticate your payment method. Please choose a different payment \
     method and try again.";

/// Card details typed into the payment page.
#[derive(Debug)]
pub struct CardEntry {
    pub test_card: &'static TestCard,
    pub exp_month: u32,
    pub exp_year: u32,
    pub email: String,
    pub name: Option<String>,
}

#[derive(Debug)]
pub enum PayOutcome {
    /// Paid: redirect the customer here.
    Paid(String),
    NeedsAuthentication,
    Declined(String),
}

pub struct NewIntent {
    pub amount: i64,
    pub currency: String,
    pub customer: Option<String>,
    pub description: Option<String>,
    pub metadata: Map<String, Value>,
    pub payment_method: Option<String>,
    pub setup_future_usage: Option<&'static str>,
    pub receipt_email: Option<String>,
    pub checkout_session: Option<String>,
}

pub fn create_intent(st: &mut State, new: NewIntent) -> String {
    let id = ids::object("pi");
    let intent = PaymentIntent {
        client_secret: ids::client_secret(&id),
        id: id.clone(),
        created: st.now(),
        amount: new.amount,
        amount_received: 0,
        currency: new.currency,
        customer: new.customer,
        description: new.description,
        metadata: new.metadata,
        status: if new.payment_method.is_some() {
            "requires_confirmation"
        } else {
            "requires_payment_method"
        },
        payment_method: new.payment_method,
        latest_charge: None,
        last_payment_error: None,
        next_action: None,
        setup_future_usage: new.setup_future_usage,
        receipt_email: new.receipt_email,
        checkout_session: new.checkout_session,
    };
    st.emit("payment_intent.created", intent.to_json());
    st.payment_intents.insert(intent);
    id
}

/// Confirms through the API: on-session (3D Secure cards ask for action) or
/// off-session (the saved card's merchant-initiated behaviour).
pub fn confirm_intent(st: &mut State, intent_id: &str, off_session: bool) -> Result<(), ApiError> {
    let pm_id = st
        .payment_intent_mut(intent_id)?
        .payment_method
        .clone()
        .ok_or_else(ApiError::internal)?;
    let pm = st.payment_method_mut(&pm_id)?;
    let test_card = pm.card.test_card;
    if off_session {
        return match test_card.off_session_outcome(pm.set_up_for) {
            None => succeed(st, intent_id),
            Some(decline) => Err(decline_intent(st, intent_id, decline)?),
        };
    }
    match test_card.on_session {
        OnSession::Succeed => succeed(st, intent_id),
        OnSession::Decline(decline) => Err(decline_intent(st, intent_id, decline)?),
        OnSession::Authenticate { .. } => require_action(st, intent_id),
    }
}

/// Handles the payment form of an open session.
pub fn pay_session(
    st: &mut State,
    session_id: &str,
    entry: CardEntry,
) -> Result<PayOutcome, ApiError> {
    let pm_id = ids::object("pm");
    let payment_method = PaymentMethod {
        id: pm_id.clone(),
        created: st.now(),
        customer: None,
        card: Card {
            test_card: entry.test_card,
            exp_month: entry.exp_month,
            exp_year: entry.exp_year,
            fingerprint: ids::fingerprint(),
        },
        email: Some(entry.email.clone()),
        name: entry.name.clone(),
        set_up_for: None,
        payment_intent: None,
    };
    st.payment_methods.insert(payment_method);
    let intent_id = session_intent(st, session_id, &pm_id)?;
    st.payment_method_mut(&pm_id)?.payment_intent = Some(intent_id.clone());
    match entry.test_card.on_session {
        OnSession::Succeed => finish_session(st, session_id, &pm_id).map(PayOutcome::Paid),
        OnSession::Decline(decline) => {
            decline_intent(st, &intent_id, decline)?;
            Ok(PayOutcome::Declined(decline.message.to_owned()))
        }
        OnSession::Authenticate { .. } => {
            require_action(st, &intent_id)?;
            st.session_mut(session_id)?.pending_authentication = Some(pm_id);
            Ok(PayOutcome::NeedsAuthentication)
        }
    }
}

/// The customer passed the simulated 3D Secure step.
pub fn complete_authentication(st: &mut State, session_id: &str) -> Result<PayOutcome, ApiError> {
    let session = st.session_mut(session_id)?;
    let pm_id = session
        .pending_authentication
        .take()
        .ok_or_else(ApiError::internal)?;
    let intent_id = session
        .payment_intent
        .clone()
        .ok_or_else(ApiError::internal)?;
    let test_card = st.payment_method_mut(&pm_id)?.card.test_card;
    match test_card.on_session {
        OnSession::Authenticate {
            then: Some(decline),
        } => {
            decline_intent(st, &intent_id, decline)?;
            Ok(PayOutcome::Declined(decline.message.to_owned()))
        }
        _ => finish_session(st, session_id, &pm_id).map(PayOutcome::Paid),
    }
}

/// The customer failed the simulated 3D Secure step: no charge, the session stays open.
pub fn fail_authentication(st: &mut State, session_id: &str) -> Result<PayOutcome, ApiError> {
    let session = st.session_mut(session_id)?;
    let pm_id = session
        .pending_authentication
        .take()
        .ok_or_else(ApiError::internal)?;
    let intent_id = session
        .payment_intent
        .clone()
        .ok_or_else(ApiError::internal)?;
    let pm_json = st.payment_method_mut(&pm_id)?.to_json();
    let mut error = ApiError::invalid(
        "The provided PaymentMethod has failed authentication. You can provide \
         payment_method_data or a new PaymentMethod to attempt to fulfill this PaymentIntent \
         again.",
    )
    .with_code("payment_intent_authentication_failure")
    .error_object();
    error["payment_method"] = pm_json;
    let intent = st.payment_intent_mut(&intent_id)?;
    intent.status = "requires_payment_method";
    intent.next_action = None;
    intent.last_payment_error = Some(error);
    let json = intent.to_json();
    st.emit("payment_intent.payment_failed", json);
    Ok(PayOutcome::Declined(AUTHENTICATION_FAILED.to_owned()))
}

/// The session's PaymentIntent, created at its first payment attempt and reused after a decline.
fn session_intent(st: &mut State, session_id: &str, pm_id: &str) -> Result<String, ApiError> {
    let session = st.session_mut(session_id)?;
    if let Some(id) = session.payment_intent.clone() {
        st.payment_intent_mut(&id)?.payment_method = Some(pm_id.to_owned());
        return Ok(id);
    }
    let new = NewIntent {
        amount: session.amount_total,
        currency: session.currency.clone(),
        customer: session.customer.clone(),
        description: session.payment_intent_description.clone(),
        metadata: session.payment_intent_metadata.clone(),
        payment_method: Some(pm_id.to_owned()),
        setup_future_usage: session.setup_future_usage,
        receipt_email: None,
        checkout_session: Some(session_id.to_owned()),
    };
    let id = create_intent(st, new);
    st.session_mut(session_id)?.payment_intent = Some(id.clone());
    st.sessions.reindex(session_id);
    Ok(id)
}

/// Charges the card, then completes the session: the customer (per
/// `customer_creation`), the saved card (per `setup_future_usage`), the events.
fn finish_session(st: &mut State, session_id: &str, pm_id: &str) -> Result<String, ApiError> {
    let session = st.session_mut(session_id)?;
    let intent_id = session
        .payment_intent
        .clone()
        .ok_or_else(ApiError::internal)?;
    let setup_future_usage = session.setup_future_usage;
    let wants_customer = session.customer_creation == "always" || setup_future_usage.is_some();
    let mut customer = session.customer.clone();
    let pm = st.payment_method_mut(pm_id)?;
    let (email, name) = (pm.email.clone().unwrap_or_default(), pm.name.clone());
    if customer.is_none() && wants_customer {
        let new = Customer::new(st.now(), Some(email.clone()), name.clone());
        customer = Some(st.add_customer(new));
    }
    if let (Some(customer), Some(usage)) = (&customer, setup_future_usage) {
        let pm = st.payment_method_mut(pm_id)?;
        pm.customer = Some(customer.clone());
        pm.set_up_for = Some(usage);
        let json = pm.to_json();
        st.payment_methods.reindex(pm_id);
        st.emit("payment_method.attached", json);
    }
    st.payment_intent_mut(&intent_id)?.customer = customer.clone();
    succeed(st, &intent_id)?;
    let session = st.session_mut(session_id)?;
    session.status = SessionStatus::Complete;
    session.paid = true;
    session.customer = customer;
    session.customer_details = Some((email, name));
    session.pending_authentication = None;
    let redirect = session
        .success_url
        .replace("{CHECKOUT_SESSION_ID}", &session.id);
    let json = session.to_json();
    st.sessions.reindex(session_id);
    st.emit("checkout.session.completed", json);
    Ok(redirect)
}

fn new_charge(
    st: &State,
    intent: &PaymentIntent,
    pm: &PaymentMethod,
    failure: Option<Decline>,
) -> Charge {
    Charge {
        id: ids::object("ch"),
        created: st.now(),
        amount: intent.amount,
        amount_refunded: 0,
        currency: intent.currency.clone(),
        customer: intent.customer.clone(),
        description: intent.description.clone(),
        metadata: intent.metadata.clone(),
        payment_intent: intent.id.clone(),
        payment_method: pm.id.clone(),
        card: pm.card.clone(),
        email: pm.email.clone(),
        name: pm.name.clone(),
        receipt_email: intent.receipt_email.clone(),
        failure,
    }
}

fn intent_and_method(
    st: &State,
    intent_id: &str,
) -> Result<(PaymentIntent, PaymentMethod), ApiError> {
    let intent = st
        .payment_intents
        .get(intent_id)
        .ok_or_else(ApiError::internal)?;
    let pm_id = intent.payment_method.as_deref().unwrap_or_default();
    let pm = st
        .payment_methods
        .get(pm_id)
        .ok_or_else(ApiError::internal)?;
    Ok((intent.clone(), pm.clone()))
}

fn succeed(st: &mut State, intent_id: &str) -> Result<(), ApiError> {
    let (intent, pm) = intent_and_method(st, intent_id)?;
    let charge = new_charge(st, &intent, &pm, None);
    let charge_id = charge.id.clone();
    let charge_json = st.charge_json(&charge);
    st.charges.insert(charge);
    st.emit("charge.succeeded", charge_json);
    let intent = st.payment_intent_mut(intent_id)?;
    intent.status = "succeeded";
    intent.amount_received = intent.amount;
    intent.latest_charge = Some(charge_id);
    intent.last_payment_error = None;
    intent.next_action = None;
    let json = intent.to_json();
    st.emit("payment_intent.succeeded", json);
    Ok(())
}

/// Records a declined charge and returns the 402 error Stripe answers with,
/// which embeds the PaymentIntent and PaymentMethod.
fn decline_intent(st: &mut State, intent_id: &str, decline: Decline) -> Result<ApiError, ApiError> {
    let (intent, pm) = intent_and_method(st, intent_id)?;
    let charge = new_charge(st, &intent, &pm, Some(decline));
    let charge_id = charge.id.clone();
    let charge_json = st.charge_json(&charge);
    st.charges.insert(charge);
    let mut error = ApiError::card(decline.code, decline.message)
        .with_decline_code(decline.decline_code)
        .with_extra("charge", json!(charge_id));
    if let Some(param) = decline.param {
        error = error.with_param(param);
    }
    let pm_json = pm.to_json();
    let mut last_error = error.error_object();
    last_error["charge"] = json!(charge_id);
    last_error["payment_method"] = pm_json.clone();
    st.emit("charge.failed", charge_json);
    let intent = st.payment_intent_mut(intent_id)?;
    intent.status = "requires_payment_method";
    intent.latest_charge = Some(charge_id);
    intent.last_payment_error = Some(last_error);
    intent.next_action = None;
    let intent_json = intent.to_json();
    st.emit("payment_intent.payment_failed", intent_json.clone());
    Ok(error
        .with_extra("payment_intent", intent_json)
        .with_extra("payment_method", pm_json))
}

fn require_action(st: &mut State, intent_id: &str) -> Result<(), ApiError> {
    let intent = st.payment_intent_mut(intent_id)?;
    intent.status = "requires_action";
    intent.next_action = Some(json!({
        "type": "use_stripe_sdk",
        "use_stripe_sdk": { "type": "three_d_secure_redirect" }
    }));
    let json = intent.to_json();
    st.emit("payment_intent.requires_action", json);
    Ok(())
}

/// Refunds part or all of what is left of a successful charge.
pub fn refund(
    st: &mut State,
    charge_id: &str,
    amount: Option<i64>,
    reason: Option<&'static str>,
    metadata: Map<String, Value>,
) -> Result<Value, ApiError> {
    let now = st.now();
    let charge = st.charge_mut(charge_id)?;
    let remaining = charge.amount - charge.amount_refunded;
    if remaining == 0 {
        return Err(
            ApiError::invalid(format!("Charge {charge_id} has already been refunded."))
                .with_code("charge_already_refunded"),
        );
    }
    let amount = amount.unwrap_or(remaining);
    if amount > remaining {
        return Err(ApiError::invalid(format!(
            "Refund amount ({}) is greater than unrefunded amount on charge ({})",
            money::format(amount, &charge.currency),
            money::format(remaining, &charge.currency)
        ))
        .with_param("amount"));
    }
    charge.amount_refunded += amount;
    let refund = Refund {
        id: ids::object("re"),
        created: now,
        amount,
        currency: charge.currency.clone(),
        charge: charge.id.clone(),
        payment_intent: charge.payment_intent.clone(),
        reason,
        metadata,
    };
    let refund_json = refund.to_json();
    st.refunds.insert(refund);
    let charge = st.charges.get(charge_id).ok_or_else(ApiError::internal)?;
    let charge_json = st.charge_json(charge);
    st.emit("charge.refunded", charge_json);
    st.emit("refund.created", refund_json.clone());
    Ok(refund_json)
}
