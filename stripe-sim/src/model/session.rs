//! Checkout Sessions and their line items.

use serde_json::{Map, Value, json};

use super::empty_address;

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
    /// Nothing will change it any more: expired, or complete and paid.
    pub fn is_final(&self) -> bool {
        match self.status {
            SessionStatus::Open => false,
            SessionStatus::Expired => true,
            SessionStatus::Complete => self.paid,
        }
    }

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
