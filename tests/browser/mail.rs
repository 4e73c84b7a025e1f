//! The emails a shopper gets, as test mode shows them, and "Email me my
//! orders": screenshots at 1280 and 390 px and an axe-core audit of the
//! sent-mail pages, each email's HTML on its own, the form on /orders (with
//! a refused address) and the orders a link opens.

use serde_json::json;

use crate::driver::{Browser, JavaScript, with_browser};
use crate::helpers::{CARD_OK, spawn_app};
use crate::pages::{Owner, assert_no_blocking, capture};

impl Browser {
    /// On the sent-mail page: waits for an email whose subject starts with
    /// `subject` (the sender writes it within a second or so), and opens it.
    async fn open_sent_email(&self, base: &str, subject: &str) {
        let deadline = std::time::Instant::now() + crate::driver::WAIT;
        loop {
            self.goto(&format!("{base}/test-mode/mail")).await;
            let subjects = self.texts(".sent-mail tbody th").await;
            if let Some(found) = subjects.iter().find(|s| s.starts_with(subject)) {
                self.click_link(found).await;
                self.find(".sent-email-text").await;
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "no email {subject:?} among {subjects:?}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        }
    }

    /// Shows the open email's HTML part as a page of its own (outside the
    /// sandbox that keeps axe out), as a mail reader would.
    async fn show_email_html(&self) {
        let src = self
            .find(".sent-email-html")
            .await
            .attr("src")
            .await
            .unwrap()
            .unwrap();
        let html: String = self
            .client
            .execute_async(
                "const done = arguments[arguments.length - 1];
                 fetch(arguments[0]).then(r => r.text()).then(done);",
                vec![json!(src)],
            )
            .await
            .unwrap()
            .as_str()
            .unwrap()
            .to_owned();
        self.goto("about:blank").await;
        self.client
            .execute(
                "document.open(); document.write(arguments[0]); document.close();",
                vec![json!(html)],
            )
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn mail_pages_and_emails_are_screenshotted_and_pass_axe() {
    let app = spawn_app().await;
    with_browser("mail-pages", JavaScript::On, async |b| {
        let mut blocking = Vec::new();
        b.open_product(&app, "Aurora Ceramic Mug", "aurora-ceramic-mug")
            .await;
        b.add_to_cart("Aurora Ceramic Mug", 2).await;
        b.goto(&app.url("/cart")).await;
        b.check_out(&app).await;
        b.pay_with(CARD_OK).await;
        b.receipt().await;

        // The test-mode banner leads to the emails the shop wrote.
        b.click_link("Sent emails").await;
        b.wait_for_path("/test-mode/mail").await;
        b.open_sent_email(&app.address, "[Test] Your Storefront order")
            .await;
        b.goto(&app.url("/test-mode/mail")).await;
        blocking.extend(capture(b, "sent-mail-list", Owner::Us).await);
        b.open_sent_email(&app.address, "[Test] Your Storefront order")
            .await;
        assert!(
            b.text(".sent-email-text")
                .await
                .contains("2 x Aurora Ceramic Mug")
        );
        blocking.extend(capture(b, "sent-mail-confirmation", Owner::Us).await);
        b.show_email_html().await;
        assert_eq!(b.text("h1").await, "Thank you! Your order is confirmed.");
        blocking.extend(capture(b, "email-confirmation", Owner::Us).await);

        // "Email me my orders": an address the shop refuses, then one it takes.
        b.goto(&app.url("/orders")).await;
        b.fill("#email", "shopper at example.com").await;
        b.click_button("Email me my orders").await;
        b.find("#email-error").await;
        let focused: String = b.eval("return document.activeElement.id;").await;
        assert_eq!(focused, "email", "the refused field has focus");
        blocking.extend(capture(b, "orders-email-refused", Owner::Us).await);
        b.fill("#email", "shopper@example.com").await;
        b.click_button("Email me my orders").await;
        b.find(".flash-success").await;
        blocking.extend(capture(b, "orders-email-sent", Owner::Us).await);

        // The link in that email opens the orders, here with a fresh look.
        b.open_sent_email(&app.address, "Your Storefront orders")
            .await;
        let text = b.text(".sent-email-text").await;
        let link = text
            .split_whitespace()
            .find(|word| word.contains("/orders/by-email/"))
            .unwrap()
            .to_owned();
        b.show_email_html().await;
        blocking.extend(capture(b, "email-orders-link", Owner::Us).await);
        b.goto(&link).await;
        assert_eq!(b.find_all(".orders-table tbody tr").await.len(), 1);
        blocking.extend(capture(b, "orders-by-email", Owner::Us).await);
        b.goto(&format!("{link}x")).await;
        blocking.extend(capture(b, "orders-by-email-refused", Owner::Us).await);

        assert_no_blocking(&blocking);
    })
    .await;
}
