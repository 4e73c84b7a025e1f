//! What we ask Stripe to create, in our terms, and its form encoding: the
//! only place that knows Stripe's parameter names.

use super::Form;
use crate::money::Money;

/// A Checkout Session for one order.
pub struct NewCheckoutSession<'a> {
    pub line_items: Vec<LineItem<'a>>,
    /// Our order id, for Stripe's dashboard and our reconciliation.
    pub order_id: i64,
    /// The order's receipt token: finds the order again should we have lost
    /// the session id.
    pub order_token: &'a str,
    pub success_url: String,
    pub cancel_url: String,
    /// Unix time after which the session cannot be paid.
    pub expires_at: i64,
    /// The Stripe customer to pay as; `None` makes a new one.
    pub customer: Option<&'a str>,
    /// Keep the card on the customer for off-session debits.
    pub save_card: bool,
}

/// One line of the payment page, priced by us.
pub struct LineItem<'a> {
    pub name: &'a str,
    pub unit_price: Money,
    pub quantity: u32,
}

impl NewCheckoutSession<'_> {
    pub fn form(&self) -> Form {
        let mut form = Form::new()
            .field("mode", "payment")
            .field("payment_method_types[0]", "card")
            .field("client_reference_id", self.order_id)
            .field("metadata[order_id]", self.order_id)
            .field("metadata[order_token]", self.order_token)
            .field("payment_intent_data[metadata][order_id]", self.order_id)
            .field("success_url", &self.success_url)
            .field("cancel_url", &self.cancel_url)
            .field("expires_at", self.expires_at);
        // Every payer is a Stripe customer, and so an account: a returning
        // browser pays as the same one, so a newly saved card joins it.
        form = match self.customer {
            Some(customer) => form.field("customer", customer),
            None => form.field("customer_creation", "always"),
        };
        if self.save_card {
            form = form.field("payment_intent_data[setup_future_usage]", "off_session");
        }
        for (i, item) in self.line_items.iter().enumerate() {
            let price_data = Form::new()
                .field(
                    "currency",
                    item.unit_price.currency().code().to_ascii_lowercase(),
                )
                .field("unit_amount", item.unit_price.minor())
                .nest("product_data", Form::new().field("name", item.name));
            form = form.nest(
                &format!("line_items[{i}]"),
                Form::new()
                    .field("quantity", item.quantity)
                    .nest("price_data", price_data),
            );
        }
        form
    }
}

/// A confirmed, off-session charge of a customer's saved card.
pub struct OffSessionCharge<'a> {
    pub amount: Money,
    pub customer: &'a str,
    pub payment_method: &'a str,
    pub description: Option<&'a str>,
    /// Our payment and account ids, to find the payment from its events.
    pub payment_id: &'a str,
    pub account_id: &'a str,
}

impl OffSessionCharge<'_> {
    pub fn form(&self) -> Form {
        Form::new()
            .field("amount", self.amount.minor())
            .field(
                "currency",
                self.amount.currency().code().to_ascii_lowercase(),
            )
            .field("customer", self.customer)
            .field("payment_method", self.payment_method)
            .field("confirm", "true")
            .field("off_session", "true")
            .optional("description", self.description)
            .field("metadata[payment_id]", self.payment_id)
            .field("metadata[account_id]", self.account_id)
    }
}

/// A refund of part or all of a payment, asked for by staff.
pub struct NewRefund<'a> {
    /// The PaymentIntent whose charge is refunded.
    pub payment_intent: &'a str,
    pub amount: Money,
    /// Stripe's reason: `duplicate`, `fraudulent` or `requested_by_customer`.
    pub reason: Option<&'a str>,
    /// Our refund's id: finds it again from Stripe's refund events.
    pub refund_id: i64,
    /// The order's public number, for Stripe's dashboard.
    pub order_number: &'a str,
}

impl NewRefund<'_> {
    pub fn form(&self) -> Form {
        Form::new()
            .field("payment_intent", self.payment_intent)
            .field("amount", self.amount.minor())
            .optional("reason", self.reason)
            .field("metadata[storefront_refund_id]", self.refund_id)
            .field("metadata[order_number]", self.order_number)
    }
}
