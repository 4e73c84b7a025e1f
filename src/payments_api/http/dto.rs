//! The payments API's JSON shapes (requests, answers), with their OpenAPI
//! schemas.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::ledger::domain::Payment;
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

/// A list page, newest first.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PaymentList {
    /// Always `list`.
    #[schema(example = "list")]
    pub object: String,
    pub url: String,
    pub data: Vec<PaymentObject>,
    /// Whether older payments follow: pass the last id as `starting_after`.
    pub has_more: bool,
}

/// Debit an account's saved card.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreatePayment {
    /// Our account id, `acct_…`.
    #[schema(
        example = "acct_7hQ2mX9vB4nK1pL8cT3wZr",
        pattern = "^acct_[A-Za-z0-9]{16,64}$"
    )]
    pub account_id: String,
    /// A decimal string with at most as many decimals as the currency has
    /// ("42.99" USD, "4300" JPY), at least Stripe's minimum charge (0.50 USD
    /// or EUR, 0.30 GBP, 50 JPY). Numbers are refused: no floats for money.
    #[schema(example = "42.99", pattern = "^[0-9]{1,8}(\\.[0-9]{1,2})?$")]
    pub amount: String,
    /// `usd`, `eur`, `gbp` or `jpy` (any case).
    #[schema(example = "usd", pattern = "^(usd|eur|gbp|jpy|USD|EUR|GBP|JPY)$")]
    pub currency: String,
    #[schema(max_length = 1000, pattern = "^[^\\x00]*$")]
    pub description: Option<String>,
    /// `sync` (the default): the answer says how the charge ended, after
    /// the debit's turn at the payment provider. `async`: the debit is
    /// queued and answered at once with 202 and `status: queued`; a worker
    /// charges it in turn, and `GET /api/v1/payments/{id}` shows it move to
    /// `processing` and its outcome. For large batches.
    #[schema(example = "sync", pattern = "^(sync|async)$")]
    pub confirm: Option<String>,
}

/// Change a payment's description or metadata.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdatePayment {
    /// The new description; an empty string removes it.
    #[schema(max_length = 1000, pattern = "^[^\\x00]*$")]
    pub description: Option<String>,
    /// Keys to set; a key with `null` or `""` is removed. Other keys stay.
    /// Keys: 1 to 40 characters without square brackets; values: at most
    /// 500 characters; at most 50 keys in all.
    pub metadata: Option<BTreeMap<String, Option<String>>>,
    /// The `version` you last read; a stale one answers 409 and changes nothing.
    #[schema(minimum = 1)]
    pub version: i64,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// 1 to 100, default 20.
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
    /// A payment id from the previous page: list the payments older than it.
    pub starting_after: Option<String>,
}
