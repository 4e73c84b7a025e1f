//! PaymentMethods (cards and bank accounts), PaymentIntents, Charges and Refunds.

use serde_json::{Map, Value, json};

use super::billing_details;
use super::shipping::ShippingDetails;
use crate::banks::{BankDebit, TestBank};
use crate::cards::{Decline, TestCard};

const BANK_NAME: &str = "STRIPE TEST BANK";

#[derive(Debug, Clone)]
pub struct Card {
    pub test_card: &'static TestCard,
    pub exp_month: u32,
    pub exp_year: u32,
}

/// What a PaymentMethod (and the charges made with it) pays with.
#[derive(Debug, Clone)]
pub enum Instrument {
    Card(Card),
    Bank(&'static TestBank),
}

impl Instrument {
    /// The payment method type.
    pub fn kind(&self) -> &'static str {
        match self {
            Instrument::Card(_) => "card",
            Instrument::Bank(bank) => bank.debit.as_str(),
        }
    }

    /// The PaymentMethod's hash named after its type.
    fn method_json(&self, fingerprint: &str) -> Value {
        match self {
            Instrument::Card(card) => {
                let brand = card.test_card.brand;
                json!({
                    "brand": brand,
                    "checks": card_checks(),
                    "country": "US",
                    "exp_month": card.exp_month,
                    "exp_year": card.exp_year,
                    "fingerprint": fingerprint,
                    "funding": "credit",
                    "generated_from": null,
                    "last4": card.test_card.last4(),
                    "networks": { "available": [brand], "preferred": null },
                    "three_d_secure_usage": { "supported": true },
                    "wallet": null,
                })
            }
            Instrument::Bank(bank) => match bank.debit {
                BankDebit::UsBankAccount => json!({
                    "account_holder_type": "individual",
                    "account_type": "checking",
                    "bank_name": BANK_NAME,
                    "financial_connections_account": null,
                    "fingerprint": fingerprint,
                    "last4": bank.last4(),
                    "networks": { "preferred": "ach", "supported": ["ach"] },
                    "routing_number": bank.routing,
                    "status_details": null,
                }),
                BankDebit::SepaDebit => json!({
                    "bank_code": bank.routing,
                    "branch_code": "",
                    "country": &bank.number[..2],
                    "fingerprint": fingerprint,
                    "generated_from": null,
                    "last4": bank.last4(),
                }),
            },
        }
    }

    /// A charge's `payment_method_details` hash named after the type.
    fn details_json(&self, fingerprint: &str) -> Value {
        match self {
            Instrument::Card(card) => {
                let brand = card.test_card.brand;
                json!({
                    "brand": brand,
                    "checks": card_checks(),
                    "country": "US",
                    "exp_month": card.exp_month,
                    "exp_year": card.exp_year,
                    "fingerprint": fingerprint,
                    "funding": "credit",
                    "installments": null,
                    "last4": card.test_card.last4(),
                    "mandate": null,
                    "network": brand,
                    "network_token": { "used": false },
                    "three_d_secure": null,
                    "wallet": null,
                })
            }
            Instrument::Bank(bank) => match bank.debit {
                BankDebit::UsBankAccount => json!({
                    "account_holder_type": "individual",
                    "account_type": "checking",
                    "bank_name": BANK_NAME,
                    "fingerprint": fingerprint,
                    "last4": bank.last4(),
                    "routing_number": bank.routing,
                }),
                BankDebit::SepaDebit => json!({
                    "bank_code": bank.routing,
                    "branch_code": "",
                    "country": &bank.number[..2],
                    "fingerprint": fingerprint,
                    "last4": bank.last4(),
                    "mandate": null,
                }),
            },
        }
    }

    /// The card's number on the payment page's messages, or the account's.
    pub fn last4(&self) -> &'static str {
        match self {
            Instrument::Card(card) => card.test_card.last4(),
            Instrument::Bank(bank) => bank.last4(),
        }
    }
}

fn card_checks() -> Value {
    json!({ "address_line1_check": null, "address_postal_code_check": null, "cvc_check": "pass" })
}

#[derive(Debug, Clone)]
pub struct PaymentMethod {
    pub id: String,
    pub created: i64,
    pub customer: Option<String>,
    pub instrument: Instrument,
    pub fingerprint: String,
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
        let kind = self.instrument.kind();
        let mut value = json!({
            "id": self.id,
            "object": "payment_method",
            "billing_details": billing_details(self.email.as_deref(), self.name.as_deref()),
            "created": self.created,
            "customer": self.customer,
            "livemode": false,
            "metadata": {},
            "type": kind,
        });
        value[kind] = self.instrument.method_json(&self.fingerprint);
        value
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
    pub payment_method_types: Vec<String>,
    pub latest_charge: Option<String>,
    pub last_payment_error: Option<Value>,
    pub next_action: Option<Value>,
    pub setup_future_usage: Option<&'static str>,
    pub receipt_email: Option<String>,
    pub shipping: Option<ShippingDetails>,
    pub client_secret: String,
    /// The Checkout Session it pays (not shown): kept while that session is open.
    pub checkout_session: Option<String>,
}

impl PaymentIntent {
    pub fn to_json(&self) -> Value {
        let options: Map<String, Value> = self
            .payment_method_types
            .iter()
            .map(|kind| {
                let options = match kind.as_str() {
                    "card" => json!({
                        "installments": null, "mandate_options": null, "network": null,
                        "request_three_d_secure": "automatic"
                    }),
                    "us_bank_account" => json!({ "verification_method": "automatic" }),
                    _ => json!({}),
                };
                (kind.clone(), options)
            })
            .collect();
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
            "payment_method_options": options,
            "payment_method_types": self.payment_method_types,
            "processing": null,
            "receipt_email": self.receipt_email,
            "review": null,
            "setup_future_usage": self.setup_future_usage,
            "shipping": self.shipping.as_ref().map(ShippingDetails::to_json),
            "statement_descriptor": null,
            "statement_descriptor_suffix": null,
            "status": self.status,
            "transfer_data": null,
            "transfer_group": null,
        })
    }
}

/// Where a charge stands: a bank debit is pending until it settles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChargeStatus {
    Pending,
    Succeeded,
    Failed(Decline),
}

#[derive(Debug, Clone)]
pub struct Charge {
    pub id: String,
    pub created: i64,
    pub amount: i64,
    /// What its refunds took back, failed refunds excepted.
    pub amount_refunded: i64,
    pub currency: String,
    pub customer: Option<String>,
    pub description: Option<String>,
    pub metadata: Map<String, Value>,
    pub payment_intent: String,
    pub payment_method: String,
    pub instrument: Instrument,
    pub fingerprint: String,
    pub email: Option<String>,
    pub name: Option<String>,
    pub receipt_email: Option<String>,
    pub shipping: Option<ShippingDetails>,
    pub status: ChargeStatus,
}

impl Charge {
    /// `refunds` are this charge's refunds, newest first.
    pub fn to_json(&self, refunds: Vec<Value>) -> Value {
        let (status, outcome, failure) = match self.status {
            ChargeStatus::Pending => ("pending", approved(), None),
            ChargeStatus::Succeeded => ("succeeded", approved(), None),
            ChargeStatus::Failed(decline) => (
                "failed",
                json!({
                    "network_status": "declined_by_network", "reason": decline.decline_code,
                    "risk_level": "normal", "risk_score": 32,
                    "seller_message": "The bank did not return any further details with this decline.",
                    "type": "issuer_declined"
                }),
                Some(decline),
            ),
        };
        let succeeded = self.status == ChargeStatus::Succeeded;
        let captured = failure.is_none();
        let kind = self.instrument.kind();
        let mut details = json!({ "type": kind });
        details[kind] = self.instrument.details_json(&self.fingerprint);
        json!({
            "id": self.id,
            "object": "charge",
            "amount": self.amount,
            "amount_captured": if captured { self.amount } else { 0 },
            "amount_refunded": self.amount_refunded,
            "application": null,
            "application_fee": null,
            "application_fee_amount": null,
            "balance_transaction": null,
            "billing_details": billing_details(self.email.as_deref(), self.name.as_deref()),
            "calculated_statement_descriptor": "STRIPE-SIM",
            "captured": captured,
            "created": self.created,
            "currency": self.currency,
            "customer": self.customer,
            "description": self.description,
            "disputed": false,
            "failure_balance_transaction": null,
            "failure_code": failure.map(|d| d.code),
            "failure_message": failure.map(|d| d.message),
            "fraud_details": {},
            "invoice": null,
            "livemode": false,
            "metadata": self.metadata,
            "on_behalf_of": null,
            "outcome": outcome,
            "paid": succeeded,
            "payment_intent": self.payment_intent,
            "payment_method": self.payment_method,
            "payment_method_details": details,
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
            "shipping": self.shipping.as_ref().map(ShippingDetails::to_json),
            "source_transfer": null,
            "statement_descriptor": null,
            "statement_descriptor_suffix": null,
            "status": status,
            "transfer_data": null,
            "transfer_group": null,
        })
    }
}

fn approved() -> Value {
    json!({
        "network_status": "approved_by_network", "reason": null, "risk_level": "normal",
        "risk_score": 32, "seller_message": "Payment complete.", "type": "authorized"
    })
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
    /// `pending`, `succeeded` or `failed`.
    pub status: &'static str,
    pub failure_reason: Option<&'static str>,
    /// A settlement job will change it (a pending refund settling, a refund
    /// of the 5126 test card failing): its payment is kept until then.
    pub changing: bool,
}

impl Refund {
    pub fn to_json(&self) -> Value {
        let mut value = json!({
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
            "status": self.status,
            "transfer_reversal": null,
        });
        // Present only once failed, like Stripe's.
        if let Some(reason) = self.failure_reason {
            value["failure_reason"] = json!(reason);
        }
        value
    }
}
