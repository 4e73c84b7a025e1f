//! The Checkout flow behind the hosted page: the session's PaymentIntent, a
//! card payment (with the simulated 3D Secure step) or a bank debit, then the
//! completed session, its customer and its discount's redemption.

use super::{NewIntent, begin_debit, create_intent, decline_intent, require_action, succeed};
use crate::banks::TestBank;
use crate::cards::{OnSession, TestCard};
use crate::error::ApiError;
use crate::ids;
use crate::model::{Card, Choices, Customer, Instrument, Payment, PaymentMethod, SessionStatus};
use crate::state::State;

/// The message Checkout shows when the customer fails 3D Secure.
const AUTHENTICATION_FAILED: &str = "We are unable to authenticate your payment method. Please choose a different payment \
     method and try again.";

/// How the customer pays.
#[derive(Debug)]
pub enum Method {
    Card {
        test_card: &'static TestCard,
        exp_month: u32,
        exp_year: u32,
    },
    Bank(&'static TestBank),
}

/// What the payment page submits once it is valid.
#[derive(Debug)]
pub struct Entry {
    pub email: String,
    pub name: Option<String>,
    pub method: Method,
    pub choices: Choices,
}

#[derive(Debug)]
pub enum PayOutcome {
    /// Complete (paid, or a debit processing): redirect the customer here.
    Complete(String),
    NeedsAuthentication,
    Declined(String),
}

/// Handles the payment form of an open session.
pub fn pay_session(st: &mut State, session_id: &str, entry: Entry) -> Result<PayOutcome, ApiError> {
    let instrument = match entry.method {
        Method::Card {
            test_card,
            exp_month,
            exp_year,
        } => Instrument::Card(Card {
            test_card,
            exp_month,
            exp_year,
        }),
        Method::Bank(bank) => Instrument::Bank(bank),
    };
    let pm_id = ids::object("pm");
    st.payment_methods.insert(PaymentMethod {
        id: pm_id.clone(),
        created: st.now(),
        customer: None,
        instrument: instrument.clone(),
        fingerprint: ids::fingerprint(),
        email: Some(entry.email),
        name: entry.name,
        set_up_for: None,
        payment_intent: None,
    });
    let intent_id = session_intent(st, session_id, &pm_id, &entry.choices)?;
    st.payment_method_mut(&pm_id)?.payment_intent = Some(intent_id.clone());
    let on_session = match instrument {
        Instrument::Bank(_) => {
            let redirect = complete(st, session_id, &pm_id, entry.choices, Payment::Processing)?;
            return Ok(PayOutcome::Complete(redirect));
        }
        Instrument::Card(card) => card.test_card.on_session,
    };
    match on_session {
        OnSession::Succeed => {
            complete(st, session_id, &pm_id, entry.choices, Payment::Paid).map(PayOutcome::Complete)
        }
        OnSession::Decline(decline) => {
            decline_intent(st, &intent_id, decline)?;
            Ok(PayOutcome::Declined(decline.message.to_owned()))
        }
        OnSession::Authenticate { .. } => {
            require_action(st, &intent_id)?;
            st.session_mut(session_id)?.pending_authentication = Some((pm_id, entry.choices));
            Ok(PayOutcome::NeedsAuthentication)
        }
    }
}

/// The session's 3D Secure step, ended: its payment method, the customer's
/// choices and the PaymentIntent.
fn take_authentication(
    st: &mut State,
    session_id: &str,
) -> Result<(String, Choices, String), ApiError> {
    let session = st.session_mut(session_id)?;
    let (pm_id, choices) = session
        .pending_authentication
        .take()
        .ok_or_else(ApiError::internal)?;
    let intent_id = session
        .payment_intent
        .clone()
        .ok_or_else(ApiError::internal)?;
    Ok((pm_id, choices, intent_id))
}

/// The customer passed the simulated 3D Secure step.
pub fn complete_authentication(st: &mut State, session_id: &str) -> Result<PayOutcome, ApiError> {
    let (pm_id, choices, intent_id) = take_authentication(st, session_id)?;
    let Instrument::Card(card) = &st.payment_method_mut(&pm_id)?.instrument else {
        return Err(ApiError::internal());
    };
    match card.test_card.on_session {
        OnSession::Authenticate {
            then: Some(decline),
        } => {
            decline_intent(st, &intent_id, decline)?;
            Ok(PayOutcome::Declined(decline.message.to_owned()))
        }
        _ => complete(st, session_id, &pm_id, choices, Payment::Paid).map(PayOutcome::Complete),
    }
}

/// The customer failed the simulated 3D Secure step: no charge, the session stays open.
pub fn fail_authentication(st: &mut State, session_id: &str) -> Result<PayOutcome, ApiError> {
    let (pm_id, _, intent_id) = take_authentication(st, session_id)?;
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

/// The session's PaymentIntent, created at its first payment attempt and
/// reused after a decline, for what this attempt costs and ships to.
fn session_intent(
    st: &mut State,
    session_id: &str,
    pm_id: &str,
    choices: &Choices,
) -> Result<String, ApiError> {
    let session = st.session_mut(session_id)?;
    let amount = session.quote(choices).total;
    let shipping = choices.shipping.clone();
    if let Some(id) = session.payment_intent.clone() {
        let intent = st.payment_intent_mut(&id)?;
        intent.payment_method = Some(pm_id.to_owned());
        intent.amount = amount;
        intent.shipping = shipping;
        return Ok(id);
    }
    let new = NewIntent {
        amount,
        currency: session.currency.clone(),
        customer: session.customer.clone(),
        description: session.payment_intent_description.clone(),
        metadata: session.payment_intent_metadata.clone(),
        payment_method: Some(pm_id.to_owned()),
        payment_method_types: session.payment_method_types.clone(),
        setup_future_usage: session.setup_future_usage,
        receipt_email: None,
        shipping,
        checkout_session: Some(session_id.to_owned()),
    };
    let id = create_intent(st, new);
    st.session_mut(session_id)?.payment_intent = Some(id.clone());
    st.sessions.reindex(session_id);
    Ok(id)
}

/// Completes the session once the card is charged or the debit submitted: the
/// customer (per `customer_creation`), the saved card (per
/// `setup_future_usage`), the charge, the session and its events. Returns the
/// success URL.
fn complete(
    st: &mut State,
    session_id: &str,
    pm_id: &str,
    choices: Choices,
    payment: Payment,
) -> Result<String, ApiError> {
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
    let is_card = matches!(pm.instrument, Instrument::Card(_));
    if customer.is_none() && wants_customer {
        let new = Customer::new(st.now(), Some(email.clone()), name.clone());
        customer = Some(st.add_customer(new));
    }
    // Only cards are saved for later: the simulator debits banks on the page only.
    if let (Some(customer), Some(usage), true) = (&customer, setup_future_usage, is_card) {
        let pm = st.payment_method_mut(pm_id)?;
        pm.customer = Some(customer.clone());
        pm.set_up_for = Some(usage);
        let json = pm.to_json();
        st.payment_methods.reindex(pm_id);
        st.emit("payment_method.attached", json);
    }
    st.payment_intent_mut(&intent_id)?.customer = customer.clone();
    st.payment_intents.reindex(&intent_id);
    match payment {
        Payment::Processing => {
            begin_debit(st, &intent_id)?;
            st.schedule_settlement(super::Job::Debit(intent_id));
        }
        _ => succeed(st, &intent_id)?,
    }
    let session = st.session_mut(session_id)?;
    session.status = SessionStatus::Complete;
    session.payment = payment;
    session.customer = customer;
    session.customer_details = Some((email, name));
    session.choices = choices;
    session.pending_authentication = None;
    let redirect = session
        .success_url
        .replace("{CHECKOUT_SESSION_ID}", &session.id);
    let json = session.to_json();
    st.sessions.reindex(session_id);
    st.emit("checkout.session.completed", json);
    if payment == Payment::Paid {
        redeem(st, session_id);
    }
    Ok(redirect)
}

/// Counts a paid session's discount against its coupon's and promotion
/// code's redemptions.
pub(super) fn redeem(st: &mut State, session_id: &str) {
    let Some(discount) = st
        .sessions
        .get(session_id)
        .and_then(|s| s.choices.discount.clone())
    else {
        return;
    };
    if let Some(coupon) = st.coupons.get_mut(&discount.coupon.id) {
        coupon.times_redeemed += 1;
    }
    if let Some(code) = discount
        .promotion_code
        .as_deref()
        .and_then(|id| st.promotion_codes.get_mut(id))
    {
        code.times_redeemed += 1;
    }
}
