//! The parts of Stripe's objects we read. Unknown fields are ignored and
//! optional ones default, which tolerates API version drift.

use std::collections::HashMap;

use serde::Deserialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionStatus {
    Open,
    Complete,
    Expired,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionPaymentStatus {
    Paid,
    Unpaid,
    NoPaymentRequired,
}

#[derive(Debug, Clone, Deserialize)]
pub struct CheckoutSession {
    pub id: String,
    pub status: Option<SessionStatus>,
    pub payment_status: SessionPaymentStatus,
    /// The hosted payment page; only while the session is open.
    pub url: Option<String>,
    pub amount_total: Option<i64>,
    pub currency: Option<String>,
    pub client_reference_id: Option<String>,
    #[serde(default)]
    pub metadata: HashMap<String, String>,
    /// An id, or the object when expanded.
    pub payment_intent: Option<IdOrObject>,
    pub customer: Option<IdOrObject>,
    pub customer_email: Option<String>,
    pub customer_details: Option<CustomerDetails>,
    /// Stripe's live mode (real money), or test mode.
    #[serde(default)]
    pub livemode: bool,
}

impl CheckoutSession {
    pub fn payment_intent_id(&self) -> Option<&str> {
        self.payment_intent.as_ref().map(IdOrObject::id)
    }

    /// The email the shopper paid with, falling back to the prefilled one.
    pub fn email(&self) -> Option<&str> {
        self.customer_details
            .as_ref()
            .and_then(|d| d.email.as_deref())
            .or(self.customer_email.as_deref())
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct CustomerDetails {
    pub email: Option<String>,
}

/// An expandable field: `"pi_123"` or `{"id": "pi_123", ...}`.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum IdOrObject {
    Id(String),
    Object { id: String },
}

impl IdOrObject {
    pub fn id(&self) -> &str {
        match self {
            IdOrObject::Id(id) | IdOrObject::Object { id } => id,
        }
    }
}

/// A PaymentIntent, as `payment_intent.*` events and lists carry it.
#[derive(Debug, Clone, Deserialize)]
pub struct PaymentIntent {
    pub id: String,
    pub status: String,
    #[serde(default)]
    pub amount: i64,
    #[serde(default)]
    pub currency: String,
    pub customer: Option<IdOrObject>,
    #[serde(default)]
    pub created: i64,
    #[serde(default)]
    pub metadata: HashMap<String, String>,
    pub last_payment_error: Option<PaymentError>,
}

/// Why a PaymentIntent's last attempt failed.
#[derive(Debug, Clone, Deserialize)]
pub struct PaymentError {
    pub code: Option<String>,
    pub decline_code: Option<String>,
    pub message: Option<String>,
}

/// The charge in `charge.refunded` events.
#[derive(Debug, Clone, Deserialize)]
pub struct Charge {
    pub id: String,
    pub payment_intent: Option<IdOrObject>,
    pub amount: i64,
    pub amount_refunded: i64,
    pub currency: String,
    #[serde(default)]
    pub refunded: bool,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Event {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub data: EventData,
}

#[derive(Debug, Clone, Deserialize)]
pub struct EventData {
    pub object: serde_json::Value,
}

#[derive(Debug, Clone, Deserialize)]
pub struct WebhookEndpoint {
    pub id: String,
    /// Only returned when the endpoint is created.
    pub secret: Option<String>,
}

/// A page of a list endpoint (`{"object": "list", "data": [...]}`).
#[derive(Debug, Clone, Deserialize)]
pub struct List<T> {
    pub data: Vec<T>,
    #[serde(default)]
    pub has_more: bool,
}

/// A saved payment method, as far as we read one.
#[derive(Debug, Clone, Deserialize)]
pub struct PaymentMethod {
    pub id: String,
}
