//! A payment as merchants see it: the payments API's answers and the data
//! of `payment.*` events.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::domain::Payment;
use crate::money::Money;

/// A payment: a browser checkout (`source: checkout`) or an off-session debit
/// through this API (`source: api`).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PaymentObject {
    /// Our id, `pay_…`.
    #[schema(example = "pay_3xV9kQ2mT8bN4cR7wY1zLp")]
    pub id: String,
    /// Always `payment`.
    #[schema(example = "payment")]
    pub object: String,
    /// Our account id, `acct_…` (not Stripe's customer id).
    pub account_id: String,
    /// The amount as an exact decimal string in the currency's unit.
    #[schema(example = "42.99")]
    pub amount: String,
    /// The amount in the currency's minor unit (cents; yen for JPY).
    #[schema(example = 4299)]
    pub amount_minor: i64,
    /// How much of it Stripe has refunded, as an exact decimal string.
    #[schema(example = "10.00")]
    pub amount_refunded: String,
    /// The same in the currency's minor unit.
    #[schema(example = 1000)]
    pub amount_refunded_minor: i64,
    /// Whether all of it has been refunded.
    pub refunded: bool,
    /// ISO 4217 code, lowercase.
    #[schema(example = "usd")]
    pub currency: String,
    /// What a checkout payment charged for, as Stripe computed it: `amount`
    /// is `subtotal − discount + shipping`, plus `tax` when prices exclude
    /// it. Null for debits (and for checkouts recorded before lines were).
    pub lines: Option<PaymentLines>,
    /// `queued` (an asynchronous debit not sent to the payment provider
    /// yet), `processing`, `succeeded`, `failed` or `requires_action`.
    pub status: String,
    /// `checkout` (paid in the shop) or `api` (debited through this API).
    pub source: String,
    /// The shop order a checkout payment paid.
    pub order_id: Option<i64>,
    pub description: Option<String>,
    pub metadata: BTreeMap<String, String>,
    /// Why a debit failed, e.g. `card_declined`, `authentication_required`.
    pub failure_code: Option<String>,
    /// The issuer's reason for a decline, as Stripe reports it.
    pub decline_code: Option<String>,
    pub failure_message: Option<String>,
    /// Increments on every update; send it back with PATCH.
    pub version: i32,
    /// Taken in Stripe's live mode (real money); `false` in test mode.
    pub livemode: bool,
    /// RFC 3339 time the payment was created.
    pub created_at: String,
}

/// A checkout payment's lines, each as an exact decimal string in the
/// currency's unit and in minor units.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PaymentLines {
    /// The items before discount, at the shop's prices (tax included when
    /// the prices include it).
    #[schema(example = "62.50")]
    pub subtotal: String,
    #[schema(example = 6250)]
    pub subtotal_minor: i64,
    /// Taken off by a promotion code.
    #[schema(example = "6.25")]
    pub discount: String,
    #[schema(example = 625)]
    pub discount_minor: i64,
    /// The chosen shipping rate, before tax.
    #[schema(example = "5.00")]
    pub shipping: String,
    #[schema(example = 500)]
    pub shipping_minor: i64,
    /// Every tax Stripe computed, the part included in prices too.
    #[schema(example = "0.00")]
    pub tax: String,
    #[schema(example = 0)]
    pub tax_minor: i64,
}

impl PaymentObject {
    pub fn from_payment(payment: &Payment) -> Self {
        let amount = payment.money();
        let metadata = match &payment.metadata {
            serde_json::Value::Object(map) => map
                .iter()
                .map(|(k, v)| {
                    let value = match v {
                        serde_json::Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    (k.clone(), value)
                })
                .collect(),
            _ => BTreeMap::new(),
        };
        PaymentObject {
            id: payment.id.clone(),
            object: "payment".into(),
            account_id: payment.account_id.clone(),
            amount: amount.decimal(),
            amount_minor: amount.minor(),
            amount_refunded: payment.refunded().decimal(),
            amount_refunded_minor: payment.amount_refunded_minor,
            refunded: payment.amount_minor > 0
                && payment.amount_refunded_minor == payment.amount_minor,
            currency: amount.currency().code().to_ascii_lowercase(),
            lines: payment.lines().map(|lines| {
                let pair = |money: Money| (money.decimal(), money.minor());
                let (subtotal, subtotal_minor) = pair(lines.subtotal);
                let (discount, discount_minor) = pair(lines.discount);
                let (shipping, shipping_minor) = pair(lines.shipping);
                let (tax, tax_minor) = pair(lines.tax);
                PaymentLines {
                    subtotal,
                    subtotal_minor,
                    discount,
                    discount_minor,
                    shipping,
                    shipping_minor,
                    tax,
                    tax_minor,
                }
            }),
            status: payment.status.as_str().to_owned(),
            source: if payment.order_id.is_some() {
                "checkout"
            } else {
                "api"
            }
            .into(),
            order_id: payment.order_id,
            description: payment.description.clone(),
            metadata,
            failure_code: payment.failure_code.clone(),
            decline_code: payment.decline_code.clone(),
            failure_message: payment.failure_message.clone(),
            version: payment.version,
            livemode: payment.livemode,
            created_at: payment
                .created_at
                .to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        }
    }
}
