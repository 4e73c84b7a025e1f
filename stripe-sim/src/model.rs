//! The simulated objects and their JSON in Stripe's 2023-08-16 shapes: every field
//! of the spec's schema, `null` where Stripe has nothing to say.

use serde_json::{Map, Value, json};

use crate::cards::TestCard;

pub const API_VERSION: &str = "2023-08-16";

/// Everything that can be looked up by id in a `Vec`.
pub trait HasId {
    fn id(&self) -> &str;
}

macro_rules! has_id {
    ($($t:ty),*) => {$(
        impl HasId for $t {
            fn id(&self) -> &str {
                &self.id
            }
        }
    )*};
}

has_id!(
    Session,
    LineItem,
    PaymentIntent,
    Charge,
    Customer,
    PaymentMethod,
    Refund,
    Event,
    WebhookEndpoint
);

fn empty_address() -> Value {
    json!({
        "city": null, "country": null, "line1": null,
        "line2": null, "postal_code": null, "state": null
    })
}

fn billing_details(email: Option<&str>, name: Option<&str>) -> Value {
    json!({ "address": empty_address(), "email": email, "name": name, "phone": null })
}

#[derive(Debug, Clone)]
pub struct LineItem {
    pub id: String,
    pub price_id: String,
    pub product_id: String,
    pub name: String,
    /// `product_data[description]`, shown on the payment page.
    pub description: Option<String>,
    pub currency: String,
    pub unit_amount: i64,
    pub quantity: i64,
    /// `unit_amount * quantity`, checked when the session is created.
    pub amount: i64,
    pub created: i64,
}

impl LineItem {
    pub fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "object": "item",
            "amount_discount": 0,
            "amount_subtotal": self.amount,
            "amount_tax": 0,
            "amount_total": self.amount,
            "currency": self.currency,
            "description": self.name,
            "price": {
                "id": self.price_id,
                "object": "price",
                "active": false,
                "billing_scheme": "per_unit",
                "created": self.created,
                "currency": self.currency,
                "custom_unit_amount": null,
                "livemode": false,
                "lookup_key": null,
                "metadata": {},
                "nickname": null,
                "product": self.product_id,
                "recurring": null,
                "tax_behavior": "unspecified",
                "tiers_mode": null,
                "transform_quantity": null,
                "type": "one_time",
                "unit_amount": self.unit_amount,
                "unit_amount_decimal": self.unit_amount.to_string(),
            },
            "quantity": self.quantity,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionStatus {
    Open,
    Complete,
    Expired,
}

impl SessionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            SessionStatus::Open => "open",
            SessionStatus::Complete => "complete",
            SessionStatus::Expired => "expired",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Session {
    pub id: String,
    pub created: i64,
    pub expires_at: i64,
    pub status: SessionStatus,
    pub paid: bool,
    pub currency: String,
    pub line_items: Vec<LineItem>,
    pub amount_total: i64,
    pub url: String,
    pub success_url: String,
    pub cancel_url: Option<String>,
    pub client_reference_id: Option<String>,
    pub customer: Option<String>,
    pub customer_email: Option<String>,
    pub customer_creation: &'static str,
    /// Email and name entered on the payment page, once complete.
    pub customer_details: Option<(String, Option<String>)>,
    pub metadata: Map<String, Value>,
    pub locale: Option<&'static str>,
    pub submit_type: Option<&'static str>,
    pub payment_method_types: Vec<String>,
    pub setup_future_usage: Option<&'static str>,
    pub payment_intent_metadata: Map<String, Value>,
    pub payment_intent_description: Option<String>,
    /// Created at the first payment attempt, shown once the session is complete.
    pub payment_intent: Option<String>,
    /// The card (PaymentMethod id) waiting on the simulated 3D Secure page.
    pub pending_authentication: Option<String>,
}

impl Session {
    pub fn to_json(&self) -> Value {
        let open = self.status == SessionStatus::Open;
        let customer_details = self.customer_details.as_ref().map(|(email, name)| {
            json!({
                "address": empty_address(), "email": email, "name": name,
                "phone": null, "tax_exempt": "none", "tax_ids": []
            })
        });
        let payment_intent = self
            .payment_intent
            .as_ref()
            .filter(|_| self.status == SessionStatus::Complete);
        json!({
            "id": self.id,
            "object": "checkout.session",
            "after_expiration": null,
            "allow_promotion_codes": null,
            "amount_subtotal": self.amount_total,
            "amount_total": self.amount_total,
            "automatic_tax": { "enabled": false, "status": null },
            "billing_address_collection": null,
            "cancel_url": self.cancel_url,
            "client_reference_id": self.client_reference_id,
            "consent": null,
            "consent_collection": null,
            "created": self.created,
            "currency": self.currency,
            "currency_conversion": null,
            "custom_fields": [],
            "custom_text": { "shipping_address": null, "submit": null },
            "customer": self.customer,
            "customer_creation": self.customer_creation,
            "customer_details": customer_details,
            "customer_email": self.customer_email,
            "expires_at": self.expires_at,
            "invoice": null,
            "invoice_creation": null,
            "livemode": false,
            "locale": self.locale,
            "metadata": self.metadata,
            "mode": "payment",
            "payment_intent": payment_intent,
            "payment_link": null,
            "payment_method_collection": null,
            "payment_method_options": {},
            "payment_method_types": self.payment_method_types,
            "payment_status": if self.paid { "paid" } else { "unpaid" },
            "phone_number_collection": { "enabled": false },
            "recovered_from": null,
            "setup_intent": null,
            "shipping_address_collection": null,
            "shipping_cost": null,
            "shipping_details": null,
            "shipping_options": [],
            "status": self.status.as_str(),
            "submit_type": self.submit_type,
            "subscription": null,
            "success_url": self.success_url,
            "tax_id_collection": { "enabled": false },
            "total_details": { "amount_discount": 0, "amount_shipping": 0, "amount_tax": 0 },
            "url": if open { Some(&self.url) } else { None },
        })
    }
}

#[derive(Debug, Clone)]
pub struct Card {
    pub test_card: &'static TestCard,
    pub exp_month: u32,
    pub exp_year: u32,
    pub fingerprint: String,
}

impl Card {
    fn checks(&self) -> Value {
        json!({ "address_line1_check": null, "address_postal_code_check": null, "cvc_check": "pass" })
    }
}

#[derive(Debug, Clone)]
pub struct PaymentMethod {
    pub id: String,
    pub created: i64,
    pub customer: Option<String>,
    pub card: Card,
    pub email: Option<String>,
    pub name: Option<String>,
    /// The `setup_future_usage` it was saved with, which decides off-session outcomes.
    pub set_up_for: Option<&'static str>,
}

impl PaymentMethod {
    pub fn to_json(&self) -> Value {
        let card = &self.card;
        json!({
            "id": self.id,
            "object": "payment_method",
            "billing_details": billing_details(self.email.as_deref(), self.name.as_deref()),
            "card": {
                "brand": card.test_card.brand,
                "checks": card.checks(),
                "country": "US",
                "exp_month": card.exp_month,
                "exp_year": card.exp_year,
                "fingerprint": card.fingerprint,
                "funding": "credit",
                "generated_from": null,
                "last4": card.test_card.last4(),
                "networks": { "available": [card.test_card.brand], "preferred": null },
                "three_d_secure_usage": { "supported": true },
                "wallet": null,
            },
            "created": self.created,
            "customer": self.customer,
            "livemode": false,
            "metadata": {},
            "type": "card",
        })
    }
}

#[derive(Debug, Clone)]
pub struct PaymentIntent {
    pub id: String,
    pub created: i64,
    pub amount: i64,
    pub amount_received: i64,
    pub currency: String,
    pub customer: Option<String>,
    pub description: Option<String>,
    pub metadata: Map<String, Value>,
    pub status: &'static str,
    pub payment_method: Option<String>,
    pub latest_charge: Option<String>,
    pub last_payment_error: Option<Value>,
    pub next_action: Option<Value>,
    pub setup_future_usage: Option<&'static str>,
    pub receipt_email: Option<String>,
    pub client_secret: String,
}

impl PaymentIntent {
    pub fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "object": "payment_intent",
            "amount": self.amount,
            "amount_capturable": 0,
            "amount_details": { "tip": {} },
            "amount_received": self.amount_received,
            "application": null,
            "application_fee_amount": null,
            "automatic_payment_methods": null,
            "canceled_at": null,
            "cancellation_reason": null,
            "capture_method": "automatic",
            "client_secret": self.client_secret,
            "confirmation_method": "automatic",
            "created": self.created,
            "currency": self.currency,
            "customer": self.customer,
            "description": self.description,
            "invoice": null,
            "last_payment_error": self.last_payment_error,
            "latest_charge": self.latest_charge,
            "livemode": false,
            "metadata": self.metadata,
            "next_action": self.next_action,
            "on_behalf_of": null,
            "payment_method": self.payment_method,
            "payment_method_options": {
                "card": { "installments": null, "mandate_options": null, "network": null,
                          "request_three_d_secure": "automatic" }
            },
            "payment_method_types": ["card"],
            "processing": null,
            "receipt_email": self.receipt_email,
            "review": null,
            "setup_future_usage": self.setup_future_usage,
            "shipping": null,
            "statement_descriptor": null,
            "statement_descriptor_suffix": null,
            "status": self.status,
            "transfer_data": null,
            "transfer_group": null,
        })
    }
}

#[derive(Debug, Clone)]
pub struct Charge {
    pub id: String,
    pub created: i64,
    pub amount: i64,
    pub amount_refunded: i64,
    pub currency: String,
    pub customer: Option<String>,
    pub description: Option<String>,
    pub metadata: Map<String, Value>,
    pub payment_intent: String,
    pub payment_method: String,
    pub card: Card,
    pub email: Option<String>,
    pub name: Option<String>,
    pub receipt_email: Option<String>,
    /// `None` for a successful charge, otherwise why it failed.
    pub failure: Option<crate::cards::Decline>,
}

impl Charge {
    /// `refunds` are this charge's refunds, newest first.
    pub fn to_json(&self, refunds: Vec<Value>) -> Value {
        let card = &self.card;
        let outcome = match &self.failure {
            None => json!({
                "network_status": "approved_by_network", "reason": null, "risk_level": "normal",
                "risk_score": 32, "seller_message": "Payment complete.", "type": "authorized"
            }),
            Some(decline) => json!({
                "network_status": "declined_by_network", "reason": decline.decline_code,
                "risk_level": "normal", "risk_score": 32,
                "seller_message": "The bank did not return any further details with this decline.",
                "type": "issuer_declined"
            }),
        };
        let succeeded = self.failure.is_none();
        json!({
            "id": self.id,
            "object": "charge",
            "amount": self.amount,
            "amount_captured": if succeeded { self.amount } else { 0 },
            "amount_refunded": self.amount_refunded,
            "application": null,
            "application_fee": null,
            "application_fee_amount": null,
            "balance_transaction": null,
            "billing_details": billing_details(self.email.as_deref(), self.name.as_deref()),
            "calculated_statement_descriptor": "STRIPE-SIM",
            "captured": succeeded,
            "created": self.created,
            "currency": self.currency,
            "customer": self.customer,
            "description": self.description,
            "disputed": false,
            "failure_balance_transaction": null,
            "failure_code": self.failure.map(|d| d.code),
            "failure_message": self.failure.map(|d| d.message),
            "fraud_details": {},
            "invoice": null,
            "livemode": false,
            "metadata": self.metadata,
            "on_behalf_of": null,
            "outcome": outcome,
            "paid": succeeded,
            "payment_intent": self.payment_intent,
            "payment_method": self.payment_method,
            "payment_method_details": {
                "card": {
                    "brand": card.test_card.brand,
                    "checks": card.checks(),
                    "country": "US",
                    "exp_month": card.exp_month,
                    "exp_year": card.exp_year,
                    "fingerprint": card.fingerprint,
                    "funding": "credit",
                    "installments": null,
                    "last4": card.test_card.last4(),
                    "mandate": null,
                    "network": card.test_card.brand,
                    "network_token": { "used": false },
                    "three_d_secure": null,
                    "wallet": null,
                },
                "type": "card",
            },
            "receipt_email": self.receipt_email,
            "receipt_number": null,
            "receipt_url": null,
            "refunded": succeeded && self.amount_refunded == self.amount,
            "refunds": {
                "object": "list",
                "data": refunds,
                "has_more": false,
                "url": format!("/v1/charges/{}/refunds", self.id),
            },
            "review": null,
            "shipping": null,
            "source_transfer": null,
            "statement_descriptor": null,
            "statement_descriptor_suffix": null,
            "status": if succeeded { "succeeded" } else { "failed" },
            "transfer_data": null,
            "transfer_group": null,
        })
    }
}

#[derive(Debug, Clone)]
pub struct Customer {
    pub id: String,
    pub created: i64,
    pub email: Option<String>,
    pub name: Option<String>,
    pub phone: Option<String>,
    pub description: Option<String>,
    pub metadata: Map<String, Value>,
    pub invoice_prefix: String,
}

impl Customer {
    pub fn new(created: i64, email: Option<String>, name: Option<String>) -> Self {
        Self {
            id: crate::ids::short("cus"),
            created,
            email,
            name,
            phone: None,
            description: None,
            metadata: Map::new(),
            invoice_prefix: crate::ids::fingerprint()[..8].to_uppercase(),
        }
    }

    pub fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "object": "customer",
            "address": null,
            "balance": 0,
            "created": self.created,
            "currency": null,
            "default_source": null,
            "delinquent": false,
            "description": self.description,
            "discount": null,
            "email": self.email,
            "invoice_prefix": self.invoice_prefix,
            "invoice_settings": {
                "custom_fields": null, "default_payment_method": null,
                "footer": null, "rendering_options": null
            },
            "livemode": false,
            "metadata": self.metadata,
            "name": self.name,
            "next_invoice_sequence": 1,
            "phone": self.phone,
            "preferred_locales": [],
            "shipping": null,
            "tax_exempt": "none",
            "test_clock": null,
        })
    }
}

#[derive(Debug, Clone)]
pub struct Refund {
    pub id: String,
    pub created: i64,
    pub amount: i64,
    pub currency: String,
    pub charge: String,
    pub payment_intent: String,
    pub reason: Option<&'static str>,
    pub metadata: Map<String, Value>,
}

impl Refund {
    pub fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "object": "refund",
            "amount": self.amount,
            "balance_transaction": null,
            "charge": self.charge,
            "created": self.created,
            "currency": self.currency,
            "metadata": self.metadata,
            "payment_intent": self.payment_intent,
            "reason": self.reason,
            "receipt_number": null,
            "source_transfer_reversal": null,
            "status": "succeeded",
            "transfer_reversal": null,
        })
    }
}

#[derive(Debug, Clone)]
pub struct Event {
    pub id: String,
    pub created: i64,
    pub kind: String,
    pub object: Value,
    pub request_id: Option<String>,
    pub idempotency_key: Option<String>,
    pub pending_webhooks: i64,
}

impl Event {
    pub fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "object": "event",
            "api_version": API_VERSION,
            "created": self.created,
            "data": { "object": self.object },
            "livemode": false,
            "pending_webhooks": self.pending_webhooks,
            "request": { "id": self.request_id, "idempotency_key": self.idempotency_key },
            "type": self.kind,
        })
    }
}

#[derive(Debug, Clone)]
pub struct WebhookEndpoint {
    pub id: String,
    pub created: i64,
    pub url: String,
    pub enabled_events: Vec<String>,
    pub secret: String,
    pub description: Option<String>,
    pub metadata: Map<String, Value>,
    pub api_version: Option<String>,
}

impl WebhookEndpoint {
    pub fn matches(&self, event_type: &str) -> bool {
        self.enabled_events
            .iter()
            .any(|e| e == "*" || e == event_type)
    }

    /// Stripe reveals the secret only in the response that creates the endpoint.
    pub fn to_json(&self, with_secret: bool) -> Value {
        let mut value = json!({
            "id": self.id,
            "object": "webhook_endpoint",
            "api_version": self.api_version,
            "application": null,
            "created": self.created,
            "description": self.description,
            "enabled_events": self.enabled_events,
            "livemode": false,
            "metadata": self.metadata,
            "status": "enabled",
            "url": self.url,
        });
        if with_secret {
            value["secret"] = json!(self.secret);
        }
        value
    }
}
