//! PaymentMethods (cards), PaymentIntents, Charges and Refunds.

use serde_json::{Map, Value, json};

use super::billing_details;
use crate::cards::TestCard;

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
    /// The PaymentIntent it was entered for on the payment page (not shown):
    /// an unsaved card is kept as long as that intent may still use it.
    pub payment_intent: Option<String>,
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
    /// The Checkout Session it pays (not shown): kept while that session is open.
    pub checkout_session: Option<String>,
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
