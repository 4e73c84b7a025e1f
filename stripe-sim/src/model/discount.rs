//! Coupons, the promotion codes customers type, and a discount applied to a
//! Checkout Session.

use serde_json::{Map, Value, json};

use crate::money;
use crate::pricing::{self, Off};

/// A percentage in basis points as the number Stripe shows (`12.5`).
pub fn percent(basis_points: i64) -> Value {
    // Display only: the arithmetic stays in integer basis points.
    json!(basis_points as f64 / 100.0)
}

#[derive(Debug, Clone)]
pub struct Coupon {
    pub id: String,
    pub created: i64,
    pub name: Option<String>,
    pub off: Off,
    /// The currency of an `amount_off`.
    pub currency: Option<String>,
    pub duration: &'static str,
    pub duration_in_months: Option<i64>,
    pub max_redemptions: Option<i64>,
    pub redeem_by: Option<i64>,
    pub times_redeemed: i64,
    pub metadata: Map<String, Value>,
}

impl Coupon {
    /// Whether it can still be redeemed: not past `redeem_by`, not used up.
    pub fn is_valid(&self, now: i64) -> bool {
        self.redeem_by.is_none_or(|t| now < t)
            && self.max_redemptions.is_none_or(|m| self.times_redeemed < m)
    }

    /// "20% off" or "$5.00 off", for the payment page.
    pub fn describe(&self) -> String {
        match self.off {
            Off::Percent(bp) => format!("{}% off", pricing::percent_text(bp)),
            Off::Amount(amount) => format!(
                "{} off",
                money::format(amount, self.currency.as_deref().unwrap_or_default())
            ),
        }
    }

    pub fn to_json(&self, now: i64) -> Value {
        let (percent_off, amount_off) = match self.off {
            Off::Percent(bp) => (percent(bp), Value::Null),
            Off::Amount(amount) => (Value::Null, json!(amount)),
        };
        json!({
            "id": self.id,
            "object": "coupon",
            "amount_off": amount_off,
            "created": self.created,
            "currency": self.currency,
            "duration": self.duration,
            "duration_in_months": self.duration_in_months,
            "livemode": false,
            "max_redemptions": self.max_redemptions,
            "metadata": self.metadata,
            "name": self.name,
            "percent_off": percent_off,
            "redeem_by": self.redeem_by,
            "times_redeemed": self.times_redeemed,
            "valid": self.is_valid(now),
        })
    }
}

#[derive(Debug, Clone)]
pub struct PromotionCode {
    pub id: String,
    pub created: i64,
    pub code: String,
    pub coupon: String,
    pub active: bool,
    /// Only this customer may use it.
    pub customer: Option<String>,
    pub expires_at: Option<i64>,
    pub max_redemptions: Option<i64>,
    pub times_redeemed: i64,
    /// `restrictions[minimum_amount]` and its currency.
    pub minimum: Option<(i64, String)>,
    pub metadata: Map<String, Value>,
}

impl PromotionCode {
    /// `coupon` is the coupon it redeems, shown whole as Stripe does.
    pub fn to_json(&self, coupon: &Coupon, now: i64) -> Value {
        let (minimum_amount, minimum_currency) = match &self.minimum {
            Some((amount, currency)) => (json!(amount), json!(currency)),
            None => (Value::Null, Value::Null),
        };
        json!({
            "id": self.id,
            "object": "promotion_code",
            "active": self.active,
            "code": self.code,
            "coupon": coupon.to_json(now),
            "created": self.created,
            "customer": self.customer,
            "expires_at": self.expires_at,
            "livemode": false,
            "max_redemptions": self.max_redemptions,
            "metadata": self.metadata,
            "restrictions": {
                "first_time_transaction": false,
                "minimum_amount": minimum_amount,
                "minimum_amount_currency": minimum_currency,
            },
            "times_redeemed": self.times_redeemed,
        })
    }
}

/// A coupon (possibly through a promotion code) applied to a session: the
/// coupon as it was when applied.
#[derive(Debug, Clone)]
pub struct AppliedDiscount {
    pub id: String,
    pub start: i64,
    pub coupon: Coupon,
    pub promotion_code: Option<String>,
    /// The promotion code's text, for the payment page.
    pub code: Option<String>,
}

impl AppliedDiscount {
    /// The `discount` object of `total_details.breakdown`.
    pub fn to_json(&self, session: &str, now: i64) -> Value {
        json!({
            "id": self.id,
            "object": "discount",
            "checkout_session": session,
            "coupon": self.coupon.to_json(now),
            "customer": null,
            "end": null,
            "invoice": null,
            "invoice_item": null,
            "promotion_code": self.promotion_code,
            "start": self.start,
            "subscription": null,
        })
    }
}
