//! A shopper's steps, in the browser.

use std::time::{Duration, Instant};

use crate::driver::{Browser, WAIT};
use crate::helpers::TestApp;

/// The CSS selector of the cart row for a product.
pub fn cart_row(slug: &str) -> String {
    format!("tbody tr:has(a[href=\"/products/{slug}\"])")
}

impl Browser {
    /// Waits until the first element matching `css` shows `expected`.
    pub async fn wait_for_text(&self, css: &str, expected: &str) {
        let deadline = Instant::now() + WAIT;
        loop {
            let texts = self.texts(css).await;
            if texts.iter().any(|t| t == expected) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {css:?} to read {expected:?}; it reads {texts:?} on {}",
                self.url().await
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Opens a product from the catalog by clicking its card.
    pub async fn open_product(&self, app: &TestApp, name: &str, slug: &str) {
        self.goto(&app.url("/")).await;
        self.click_link(name).await;
        self.wait_for_path(&format!("/products/{slug}")).await;
        assert_eq!(self.text("h1").await, name);
    }

    /// On a product page: sets the quantity and presses "Add to cart".
    pub async fn add_to_cart(&self, name: &str, quantity: u32) {
        self.fill("#quantity", &quantity.to_string()).await;
        self.click_button("Add to cart").await;
        self.wait_for_path("/cart").await;
        self.wait_for_text(
            ".flash-success",
            &format!("Added {quantity} × {name} to your cart."),
        )
        .await;
    }

    /// On the cart page: types a new quantity into a line and presses its "Update".
    pub async fn change_quantity(&self, name: &str, slug: &str, quantity: u32) {
        let row = cart_row(slug);
        self.fill(
            &format!("{row} input[name=quantity]"),
            &quantity.to_string(),
        )
        .await;
        self.find(&format!("{row} .quantity-form button"))
            .await
            .click()
            .await
            .unwrap();
        self.wait_for_text(".flash-success", &format!("Updated {name} to {quantity}."))
            .await;
    }

    /// On the cart page: presses "Check out" and waits for the simulator's
    /// hosted payment page.
    pub async fn check_out(&self, app: &TestApp) {
        self.click_button("Check out").await;
        self.wait_for_payment_page(app).await;
    }

    pub async fn wait_for_payment_page(&self, app: &TestApp) {
        let payment_page = format!("{}/c/pay/cs_", app.sim_url);
        self.wait_for_url("the hosted payment page", |url| {
            url.as_str().starts_with(&payment_page)
        })
        .await;
        self.find("#card_number").await;
    }

    /// On the hosted payment page: fills in the form with `card` (and the
    /// shipping address, when the page asks for one) and presses Pay.
    pub async fn pay_with(&self, card: &str) {
        self.fill("#email", "shopper@example.com").await;
        if !self.find_all("#shipping_line1").await.is_empty() {
            self.fill_address("94105").await;
        }
        self.fill_card(card).await;
        self.press_pay().await;
    }

    /// On the hosted payment page: a shipping address in San Francisco, with
    /// this postal code.
    pub async fn fill_address(&self, postal_code: &str) {
        self.fill("#shipping_name", "Sam Shopper").await;
        self.fill("#shipping_line1", "1 Market St").await;
        self.fill("#shipping_city", "San Francisco").await;
        self.fill("#shipping_state", "CA").await;
        self.fill("#shipping_postal_code", postal_code).await;
    }

    pub async fn fill_card(&self, card: &str) {
        self.fill("#card_number", card).await;
        self.fill("#exp_month", "12").await;
        self.fill("#exp_year", "34").await;
        self.fill("#cvc", "123").await;
        self.fill("#name", "Sam Shopper").await;
    }

    /// The Pay button (the promotion code's Apply comes first in the form).
    pub async fn press_pay(&self) {
        self.find("#pay").await.click().await.unwrap();
    }

    /// The receipt after a successful payment: its path, amount paid and
    /// payment confirmation id.
    pub async fn receipt(&self) -> (String, String, String) {
        let path = self.wait_for_path("/orders/").await;
        assert_eq!(self.text("h1").await, "Thank you! Your order is confirmed.");
        let amount = self.text(".amount-paid").await;
        let payment = self.text(".payment-id").await;
        assert!(payment.starts_with("pi_"), "payment id {payment:?}");
        (path, amount, payment)
    }
}
