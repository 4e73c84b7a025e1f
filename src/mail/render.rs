//! What a message says, in words: its subject and its plain-text and HTML
//! parts, from the askama templates under `templates/mail/` (the HTML with
//! inline styles, as mail readers ignore stylesheets).

use askama::Template;

use super::domain::{Message, Shipment};
use crate::money::{Currency, Money};
use crate::orders::domain::{CheckoutSummary, Order, OrderItem};

/// A message ready to be put in an envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// The order a message is about, as it is now.
pub struct OrderFacts<'a> {
    pub order: &'a Order,
    pub items: &'a [OrderItem],
    /// Stripe's lines, the address and the shipping option.
    pub summary: &'a CheckoutSummary,
}

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("the message is about an order that no longer exists")]
    NoOrder,
    #[error(transparent)]
    Template(#[from] askama::Error),
}

/// A refund as its notice tells it.
struct Refund {
    now: Money,
    total: Money,
}

/// What the templates of a message about an order read.
struct OrderMail<'a> {
    subject: String,
    shop_url: &'a str,
    order: &'a Order,
    items: &'a [OrderItem],
    summary: &'a CheckoutSummary,
    receipt_url: String,
    refund: Option<Refund>,
    shipment: Option<&'a Shipment>,
}

impl OrderMail<'_> {
    fn currency(&self) -> Currency {
        self.order.currency()
    }
}

/// What the templates of a link to an address's orders read.
struct LinkMail<'a> {
    subject: String,
    shop_url: &'a str,
    orders_url: String,
}

/// Declares the template struct of one part of a message.
macro_rules! part {
    ($name:ident, $path:literal, $data:ident) => {
        #[derive(Template)]
        #[template(path = $path)]
        struct $name<'a> {
            m: &'a $data<'a>,
        }
    };
}

part!(ConfirmationHtml, "mail/confirmation.html", OrderMail);
part!(ConfirmationText, "mail/confirmation.txt", OrderMail);
part!(RefundHtml, "mail/refund.html", OrderMail);
part!(RefundText, "mail/refund.txt", OrderMail);
part!(ShipmentHtml, "mail/shipment.html", OrderMail);
part!(ShipmentText, "mail/shipment.txt", OrderMail);
part!(LinkHtml, "mail/orders_link.html", LinkMail);
part!(LinkText, "mail/orders_link.txt", LinkMail);

/// Renders `message`; `order` is the order it is about (all but a link to
/// an address's orders are about one), and `shop_url` the shop's origin
/// for its links.
pub fn render(
    message: &Message,
    order: Option<OrderFacts<'_>>,
    shop_url: &str,
) -> Result<Rendered, RenderError> {
    if let Message::OrdersLink { token } = message {
        let mail = LinkMail {
            subject: "Your Storefront orders".to_owned(),
            shop_url,
            orders_url: format!("{shop_url}/orders/by-email/{token}"),
        };
        return Ok(Rendered {
            text: LinkText { m: &mail }.render()?,
            html: LinkHtml { m: &mail }.render()?,
            subject: mail.subject,
        });
    }
    let OrderFacts {
        order,
        items,
        summary,
    } = order.ok_or(RenderError::NoOrder)?;
    let number = order.display_number();
    let currency = order.currency();
    let (subject, refund, shipment) = match message {
        Message::RefundNotice {
            refunded_minor,
            total_refunded_minor,
        } => {
            let money =
                |minor| Money::new(minor, currency).unwrap_or_else(|_| Money::zero(currency));
            let refund = Refund {
                now: money(*refunded_minor),
                total: money(*total_refunded_minor),
            };
            let subject = format!(
                "Refund of {} for your Storefront order {number}",
                refund.now
            );
            (subject, Some(refund), None)
        }
        Message::ShipmentNotice(shipment) => (
            format!("Your Storefront order {number} is on its way"),
            None,
            Some(shipment),
        ),
        _ => (
            format!("Your Storefront order {number} is confirmed"),
            None,
            None,
        ),
    };
    let mail = OrderMail {
        // Test orders say so before anything else.
        subject: if order.livemode {
            subject
        } else {
            format!("[Test] {subject}")
        },
        shop_url,
        order,
        items,
        summary,
        receipt_url: format!("{shop_url}/orders/{}", order.token),
        refund,
        shipment,
    };
    let (text, html) = match message {
        Message::RefundNotice { .. } => (
            RefundText { m: &mail }.render()?,
            RefundHtml { m: &mail }.render()?,
        ),
        Message::ShipmentNotice(_) => (
            ShipmentText { m: &mail }.render()?,
            ShipmentHtml { m: &mail }.render()?,
        ),
        Message::OrderConfirmation | Message::OrdersLink { .. } => (
            ConfirmationText { m: &mail }.render()?,
            ConfirmationHtml { m: &mail }.render()?,
        ),
    };
    Ok(Rendered {
        subject: mail.subject,
        text,
        html,
    })
}
