//! Whether a coupon or promotion code may discount a session, for the
//! `discounts` of a new session and the code a customer types on the page.

use crate::ids;
use crate::model::{AppliedDiscount, Coupon, PromotionCode};
use crate::money;
use crate::pricing::Off;
use crate::state::State;

/// Why a discount cannot apply, worded for the customer (and the API).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    Unknown,
    Inactive,
    Expired,
    UsedUp,
    /// Below `restrictions[minimum_amount]`, in its currency.
    Minimum(i64, String),
    /// An amount off in another currency.
    Currency(String),
    OtherCustomer,
}

impl Refusal {
    pub fn message(&self) -> String {
        match self {
            Refusal::Unknown => "This code is invalid.".to_owned(),
            Refusal::Inactive => "This code is no longer active.".to_owned(),
            Refusal::Expired => "This code has expired.".to_owned(),
            Refusal::UsedUp => "This code has reached its redemption limit.".to_owned(),
            Refusal::Minimum(amount, currency) => format!(
                "This code requires a minimum order of {}.",
                money::format(*amount, currency)
            ),
            Refusal::Currency(currency) => {
                format!("This code cannot be used with {}.", currency.to_uppercase())
            }
            Refusal::OtherCustomer => "This code is not valid for this customer.".to_owned(),
        }
    }
}

/// What a discount is checked against.
pub struct Order<'a> {
    pub currency: &'a str,
    /// The line items before discount.
    pub subtotal: i64,
    pub customer: Option<&'a str>,
}

fn coupon_refusal(coupon: &Coupon, order: &Order<'_>, now: i64) -> Option<Refusal> {
    if coupon.redeem_by.is_some_and(|t| now >= t) {
        return Some(Refusal::Expired);
    }
    if coupon
        .max_redemptions
        .is_some_and(|m| coupon.times_redeemed >= m)
    {
        return Some(Refusal::UsedUp);
    }
    match (coupon.off, &coupon.currency) {
        (Off::Amount(_), Some(currency)) if currency != order.currency => {
            Some(Refusal::Currency(order.currency.to_owned()))
        }
        _ => None,
    }
}

fn applied(coupon: &Coupon, promotion_code: Option<&PromotionCode>, now: i64) -> AppliedDiscount {
    AppliedDiscount {
        id: ids::object("di"),
        start: now,
        coupon: coupon.clone(),
        promotion_code: promotion_code.map(|p| p.id.clone()),
        code: promotion_code.map(|p| p.code.clone()),
    }
}

/// A coupon given by id.
pub fn coupon(st: &State, id: &str, order: &Order<'_>) -> Result<AppliedDiscount, Refusal> {
    let coupon = st.coupons.get(id).ok_or(Refusal::Unknown)?;
    let now = st.now();
    match coupon_refusal(coupon, order, now) {
        Some(refusal) => Err(refusal),
        None => Ok(applied(coupon, None, now)),
    }
}

/// A promotion code given by id.
pub fn promotion_code(st: &State, id: &str, order: &Order<'_>) -> Result<AppliedDiscount, Refusal> {
    let code = st.promotion_codes.get(id).ok_or(Refusal::Unknown)?;
    check_code(st, code, order)
}

/// A code as a customer types it: codes match whatever their case, and an
/// active code wins over inactive ones with the same text.
pub fn typed_code(st: &State, text: &str, order: &Order<'_>) -> Result<AppliedDiscount, Refusal> {
    let text = text.trim();
    let mut matching = st
        .promotion_codes
        .iter()
        .filter(|c| c.code.eq_ignore_ascii_case(text));
    let first = matching.next().ok_or(Refusal::Unknown)?;
    let code = if first.active {
        first
    } else {
        matching.find(|c| c.active).unwrap_or(first)
    };
    check_code(st, code, order)
}

fn check_code(
    st: &State,
    code: &PromotionCode,
    order: &Order<'_>,
) -> Result<AppliedDiscount, Refusal> {
    let now = st.now();
    if !code.active {
        return Err(Refusal::Inactive);
    }
    if code.expires_at.is_some_and(|t| now >= t) {
        return Err(Refusal::Expired);
    }
    if code
        .max_redemptions
        .is_some_and(|m| code.times_redeemed >= m)
    {
        return Err(Refusal::UsedUp);
    }
    if code
        .customer
        .as_deref()
        .is_some_and(|c| Some(c) != order.customer)
    {
        return Err(Refusal::OtherCustomer);
    }
    if let Some((minimum, currency)) = &code.minimum {
        if currency != order.currency {
            return Err(Refusal::Currency(order.currency.to_owned()));
        }
        if order.subtotal < *minimum {
            return Err(Refusal::Minimum(*minimum, currency.clone()));
        }
    }
    let coupon = st.coupons.get(&code.coupon).ok_or(Refusal::Unknown)?;
    match coupon_refusal(coupon, order, now) {
        Some(refusal) => Err(refusal),
        None => Ok(applied(coupon, Some(code), now)),
    }
}
