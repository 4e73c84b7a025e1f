//! The payments API's JSON shapes (requests, answers), with their OpenAPI
//! schemas.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::events::domain::{Attempt, Delivery, DeliveryStatus, Endpoint, Event};
use crate::ledger::domain::Refund;
pub use crate::ledger::view::{PaymentLines, PaymentObject};
use crate::money::Currency;

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

/// A refund of a payment: asked for through this API, by staff in the
/// back office, or made in Stripe's dashboard.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RefundObject {
    /// Our id, `rf_…`.
    #[schema(example = "rf_8kQ2mT3xV9bN4cR7wY1zLp")]
    pub id: String,
    /// Always `refund`.
    #[schema(example = "refund")]
    pub object: String,
    /// The refunded payment, `pay_…`.
    pub payment_id: String,
    /// The amount as an exact decimal string in the currency's unit.
    #[schema(example = "10.00")]
    pub amount: String,
    #[schema(example = 1000)]
    pub amount_minor: i64,
    #[schema(example = "usd")]
    pub currency: String,
    /// `requested` (the payment provider has not answered yet), `pending`
    /// (on its way back), `requires_action`, `succeeded`, `failed` (the
    /// money could not be returned: it counts no more), `canceled`, or
    /// `refused` (the provider said no: nothing was refunded).
    pub status: String,
    /// `duplicate`, `fraudulent` or `requested_by_customer`.
    pub reason: Option<String>,
    /// Why it failed or was refused (`expired_or_canceled_card`...).
    pub failure_reason: Option<String>,
    /// `api` (this API), `staff` (the back office) or `stripe` (Stripe's
    /// dashboard).
    pub source: String,
    /// RFC 3339 time the refund was created.
    pub created_at: String,
}

impl RefundObject {
    pub fn from_refund(refund: &Refund, payment_id: &str, currency: Currency) -> Self {
        let amount = refund.money(currency);
        RefundObject {
            id: refund.public_id.clone(),
            object: "refund".into(),
            payment_id: payment_id.to_owned(),
            amount: amount.decimal(),
            amount_minor: amount.minor(),
            currency: amount.currency().code().to_ascii_lowercase(),
            status: refund.status.clone(),
            reason: refund.reason.clone(),
            failure_reason: refund.failure_reason.clone(),
            source: refund.source.clone(),
            created_at: rfc3339(refund.created_at),
        }
    }
}

/// Refund a payment: all of what is left, or `amount` of it.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateRefund {
    /// A decimal string in the payment's currency, at most what is left
    /// to refund ("10.00"); all of what is left without it. Numbers are
    /// refused.
    #[schema(example = "10.00", pattern = "^[0-9]{1,8}(\\.[0-9]{1,2})?$")]
    pub amount: Option<String>,
    /// `duplicate`, `fraudulent` or `requested_by_customer`.
    #[schema(pattern = "^(duplicate|fraudulent|requested_by_customer)$")]
    pub reason: Option<String>,
}

/// A page of a payment's refunds, newest first.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RefundList {
    /// Always `list`.
    #[schema(example = "list")]
    pub object: String,
    pub url: String,
    pub data: Vec<RefundObject>,
    /// Whether older refunds follow: pass the last id as `starting_after`.
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
    /// The last id of the previous page: list what is older than it.
    pub starting_after: Option<String>,
}

/// A merchant's webhook endpoint.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct WebhookEndpointObject {
    /// `we_…`.
    pub id: String,
    /// Always `webhook_endpoint`.
    #[schema(example = "webhook_endpoint")]
    pub object: String,
    #[schema(example = "https://merchant.example.com/storefront/events")]
    pub url: String,
    /// The event types it gets, or `["*"]` for all.
    pub enabled_events: Vec<String>,
    pub description: Option<String>,
    /// `enabled` or `disabled` (its deliveries wait until it is enabled again).
    pub status: String,
    /// The signing secret, `whsec_…`: only in the answer to its creation.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub secret: Option<String>,
    pub created_at: String,
}

/// Register a webhook endpoint.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateWebhookEndpoint {
    /// https:// (in test mode also http:// to localhost); never a private,
    /// loopback or link-local address in live mode.
    #[schema(
        max_length = 2048,
        example = "https://merchant.example.com/storefront/events"
    )]
    pub url: String,
    /// `payment.succeeded`, `payment.failed`, `payment.refunded`,
    /// `order.paid`, `order.refunded`, or `*` for all.
    #[schema(min_items = 1, example = json!(["payment.succeeded", "payment.failed"]))]
    pub enabled_events: Vec<String>,
    #[schema(max_length = 1000, pattern = "^[^\\x00]*$")]
    pub description: Option<String>,
}

/// Change a webhook endpoint; fields left out stay as they are.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateWebhookEndpoint {
    #[schema(max_length = 2048)]
    pub url: Option<String>,
    #[schema(min_items = 1)]
    pub enabled_events: Option<Vec<String>>,
    /// An empty string removes it.
    #[schema(max_length = 1000, pattern = "^[^\\x00]*$")]
    pub description: Option<String>,
    /// `true` stops deliveries to it (they wait); `false` resumes them.
    pub disabled: Option<bool>,
}

/// Every webhook endpoint, newest first.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct WebhookEndpointList {
    /// Always `list`.
    pub object: String,
    pub url: String,
    pub data: Vec<WebhookEndpointObject>,
    pub has_more: bool,
}

/// What a DELETE answers.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct DeletedObject {
    pub id: String,
    pub object: String,
    pub deleted: bool,
}

/// Something that happened to a payment or an order, as sent to endpoints.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct EventObject {
    /// `evt_…`: the same in every delivery of the event, so receivers can
    /// drop one they have seen.
    pub id: String,
    /// Always `event`.
    pub object: String,
    /// `payment.succeeded`, `payment.failed`, `payment.refunded`,
    /// `order.paid` or `order.refunded`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Unix time the event happened.
    pub created: i64,
    pub livemode: bool,
    /// `{"object": ...}`: the payment or the order as it was then.
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
    /// Its deliveries, each with its log (only when one event is read).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub deliveries: Option<Vec<DeliveryObject>>,
}

/// A page of events, newest first.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct EventList {
    pub object: String,
    pub url: String,
    pub data: Vec<EventObject>,
    pub has_more: bool,
}

/// One event's delivery to one endpoint, with every try.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct DeliveryObject {
    pub id: i64,
    /// Always `event_delivery`.
    pub object: String,
    pub event_id: String,
    pub endpoint_id: String,
    /// `pending` (tried again at `next_attempt_at`), `delivered` or
    /// `failed` (given up three days after the event).
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: Option<String>,
    pub delivered_at: Option<String>,
    pub created_at: String,
    pub log: Vec<AttemptObject>,
}

/// One try of a delivery.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AttemptObject {
    pub attempt: i32,
    pub attempted_at: String,
    /// The endpoint's HTTP status, if it answered.
    pub response_status: Option<i16>,
    pub duration_ms: i32,
    pub error: Option<String>,
}

/// A page of an endpoint's deliveries, newest first.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct DeliveryList {
    pub object: String,
    pub url: String,
    pub data: Vec<DeliveryObject>,
    pub has_more: bool,
}

/// The deliveries a replay made.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ReplayAnswer {
    pub object: String,
    pub event_id: String,
    pub data: Vec<DeliveryObject>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct EventListQuery {
    /// 1 to 100, default 20.
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
    /// The last id of the previous page: list what is older than it.
    pub starting_after: Option<String>,
    /// Only events of this type.
    #[serde(rename = "type")]
    #[param(rename = "type")]
    pub kind: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ReplayQuery {
    /// Send it to this endpoint only (`we_…`), whether or not it had it.
    /// Without it: to every endpoint it was delivered to before.
    pub endpoint_id: Option<String>,
}

fn rfc3339(at: chrono::DateTime<chrono::Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

impl WebhookEndpointObject {
    /// Without the secret (`secret` is added to the creation's answer only).
    pub fn from_endpoint(endpoint: &Endpoint) -> Self {
        WebhookEndpointObject {
            id: endpoint.id.clone(),
            object: "webhook_endpoint".into(),
            url: endpoint.url.clone(),
            enabled_events: endpoint.enabled_events.clone(),
            description: endpoint.description.clone(),
            status: if endpoint.disabled {
                "disabled"
            } else {
                "enabled"
            }
            .into(),
            secret: None,
            created_at: rfc3339(endpoint.created_at),
        }
    }
}

impl EventObject {
    pub fn from_event(event: &Event, deliveries: Option<Vec<DeliveryObject>>) -> Self {
        EventObject {
            id: event.id.clone(),
            object: "event".into(),
            kind: event.kind.clone(),
            created: event.created_at.timestamp(),
            livemode: event.livemode,
            data: event.data.clone(),
            deliveries,
        }
    }
}

impl DeliveryObject {
    pub fn from_delivery(delivery: &Delivery, attempts: &[Attempt]) -> Self {
        let pending = delivery.status == DeliveryStatus::Pending.as_str();
        DeliveryObject {
            id: delivery.id,
            object: "event_delivery".into(),
            event_id: delivery.event_id.clone(),
            endpoint_id: delivery.endpoint_id.clone(),
            status: delivery.status.clone(),
            attempts: delivery.attempts,
            next_attempt_at: pending.then(|| rfc3339(delivery.next_attempt_at)),
            delivered_at: delivery.delivered_at.map(rfc3339),
            created_at: rfc3339(delivery.created_at),
            log: attempts
                .iter()
                .map(|attempt| AttemptObject {
                    attempt: attempt.attempt,
                    attempted_at: rfc3339(attempt.attempted_at),
                    response_status: attempt.response_status,
                    duration_ms: attempt.duration_ms,
                    error: attempt.error.clone(),
                })
                .collect(),
        }
    }
}
