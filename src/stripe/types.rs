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
    /// The line items before discount, inclusive taxes included.
    pub amount_subtotal: Option<i64>,
    pub total_details: Option<TotalDetails>,
    /// The shipping option chosen (the first until the shopper chooses).
    pub shipping_cost: Option<ShippingCost>,
    /// The options offered, in the order we gave them.
    #[serde(default)]
    pub shipping_options: Vec<SessionShippingOption>,
    /// Where it ships (the 2023-08-16 field), once complete.
    pub shipping_details: Option<ShippingDetails>,
    /// The same in newer API versions.
    pub collected_information: Option<CollectedInformation>,
}

impl CheckoutSession {
    /// Where the shopper asked the goods to be shipped, once complete.
    pub fn shipping(&self) -> Option<&ShippingDetails> {
        self.collected_information
            .as_ref()
            .and_then(|info| info.shipping_details.as_ref())
            .or(self.shipping_details.as_ref())
    }

    /// The chosen shipping option's place among those we offered.
    pub fn chosen_shipping_option(&self) -> Option<usize> {
        let chosen = self.shipping_cost.as_ref()?.shipping_rate.as_ref()?.id();
        self.shipping_options
            .iter()
            .position(|option| option.shipping_rate.id() == chosen)
    }

    /// The promotion code of the session's discount, when the breakdown was
    /// expanded (`total_details.breakdown`) and a code was used.
    pub fn promotion_code_id(&self) -> Option<&str> {
        let breakdown = self.total_details.as_ref()?.breakdown.as_ref()?;
        breakdown
            .discounts
            .iter()
            .find_map(|d| d.discount.promotion_code.as_ref().map(IdOrObject::id))
    }

    /// Whether a discount applies but the breakdown that names its
    /// promotion code was not expanded (as in webhook events).
    pub fn discount_unexplained(&self) -> bool {
        self.total_details
            .as_ref()
            .is_some_and(|t| t.amount_discount > 0 && t.breakdown.is_none())
    }

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

/// A session's amounts besides its items, in minor units.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct TotalDetails {
    #[serde(default)]
    pub amount_discount: i64,
    /// Before tax.
    #[serde(default)]
    pub amount_shipping: i64,
    /// Every tax, inclusive ones included.
    #[serde(default)]
    pub amount_tax: i64,
    /// Only with `expand[]=total_details.breakdown`.
    pub breakdown: Option<Breakdown>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Breakdown {
    #[serde(default)]
    pub discounts: Vec<DiscountAmount>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct DiscountAmount {
    pub amount: i64,
    pub discount: Discount,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Discount {
    /// The promotion code the customer redeemed, if the discount came from one.
    pub promotion_code: Option<IdOrObject>,
}

/// A promotion code, as the merchant created it.
#[derive(Debug, Clone, Deserialize)]
pub struct PromotionCode {
    pub id: String,
    /// What the customer types.
    pub code: String,
}

/// The chosen shipping option's cost.
#[derive(Debug, Clone, Deserialize)]
pub struct ShippingCost {
    pub amount_subtotal: i64,
    #[serde(default)]
    pub amount_tax: i64,
    pub amount_total: i64,
    pub shipping_rate: Option<IdOrObject>,
}

/// One offered shipping option.
#[derive(Debug, Clone, Deserialize)]
pub struct SessionShippingOption {
    pub shipping_rate: IdOrObject,
}

#[derive(Debug, Clone, Deserialize)]
pub struct CollectedInformation {
    pub shipping_details: Option<ShippingDetails>,
}

/// A name and postal address, as the shopper entered them.
#[derive(Debug, Clone, Deserialize)]
pub struct ShippingDetails {
    pub name: Option<String>,
    pub address: Option<Address>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Address {
    pub line1: Option<String>,
    pub line2: Option<String>,
    pub city: Option<String>,
    pub state: Option<String>,
    pub postal_code: Option<String>,
    /// A two-letter country code.
    pub country: Option<String>,
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

/// A refund (`POST /v1/refunds`, and `refund.*` / `charge.refund.updated` events).
#[derive(Debug, Clone, Deserialize)]
pub struct Refund {
    pub id: String,
    pub amount: i64,
    /// `pending`, `requires_action`, `succeeded`, `failed` or `canceled`.
    pub status: String,
    pub payment_intent: Option<IdOrObject>,
    /// Why it failed: `expired_or_canceled_card`, `lost_or_stolen_card`...
    pub failure_reason: Option<String>,
    #[serde(default)]
    pub metadata: HashMap<String, String>,
}

impl Refund {
    /// Our refund's id, which we send Stripe with it.
    pub fn storefront_id(&self) -> Option<i64> {
        self.metadata.get("storefront_refund_id")?.parse().ok()
    }
}
