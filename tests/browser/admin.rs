//! The back office in the browser, as a merchant uses it: sign in, add a
//! product with an image that the shop then shows, refund part of an
//! order and ship it, add a shipping rate; every page screenshotted at
//! 1280 and 390 px and checked with axe-core.

use std::io::Cursor;

use reqwest::StatusCode;
use storefront::admin::auth::accounts;

use crate::driver::{Browser, JavaScript, with_browser};
use crate::helpers::{CARD_OK, TestApp, pay, spawn_app};
use crate::pages::{Owner, assert_no_blocking, capture};

const EMAIL: &str = "owner@example.com";
const PASSWORD: &str = "Plum-Kettle-Orbit-42";

/// An order for two mugs, paid on the simulator by another shopper.
async fn paid_order(app: &TestApp) {
    let shopper = app.new_browser();
    shopper
        .post_form(
            "/cart/items",
            &[("product", "aurora-ceramic-mug"), ("quantity", "2")],
        )
        .await;
    let response = shopper.post_form("/checkout", &[]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let paid = pay(response.headers()["location"].to_str().unwrap(), CARD_OK).await;
    let success = paid.headers()["location"].to_str().unwrap().to_owned();
    shopper.client.get(success).send().await.unwrap();
}

/// A photo-like PNG to upload, written to a file the browser can pick.
fn image_file() -> std::path::PathBuf {
    let image = image::RgbImage::from_fn(800, 600, |x, y| {
        image::Rgb([(x % 256) as u8, (y % 256) as u8, 140])
    });
    let mut bytes = Cursor::new(Vec::new());
    image.write_to(&mut bytes, image::ImageFormat::Png).unwrap();
    let path = std::env::temp_dir().join(format!(
        "storefront-upload-{}.png",
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::write(&path, bytes.into_inner()).unwrap();
    path
}

impl Browser {
    async fn wait_for_notice(&self, text: &str) {
        self.wait_for_text(".flash-success", text).await;
    }
}

async fn merchant_day(app: &TestApp, b: &Browser, javascript: JavaScript) {
    let mut blocking = Vec::new();
    // axe runs in the page: with JavaScript off the journey is only walked.
    let capture = async |b: &Browser, name: &str| match javascript {
        JavaScript::On => capture(b, name, Owner::Us).await,
        JavaScript::Off => Vec::new(),
    };
    // Signed out, any page leads to the sign-in form, then back.
    b.goto(&app.url("/admin/orders")).await;
    b.wait_for_path("/admin/login").await;
    blocking.extend(capture(b, "admin-sign-in").await);
    b.fill("#email", EMAIL).await;
    b.fill("#password", "wrong password").await;
    b.click_button("Sign in").await;
    b.wait_for_text(
        "#sign-in-error",
        "That email and password don't match an account. Please try again.",
    )
    .await;
    b.fill("#password", PASSWORD).await;
    b.click_button("Sign in").await;
    b.wait_for_url("the orders", |url| url.path() == "/admin/orders")
        .await;
    blocking.extend(capture(b, "admin-orders").await);

    // A new product with an image.
    b.click_link("Products").await;
    b.wait_for_url("the products", |url| url.path() == "/admin/products")
        .await;
    blocking.extend(capture(b, "admin-products").await);
    b.click_link("Add product").await;
    b.wait_for_path("/admin/products/new").await;
    b.fill("#name", "Stoneware Bowl").await;
    b.fill("#description", "A deep bowl for noodles and soups.")
        .await;
    b.fill("#price", "32.999").await;
    b.fill("#stock", "12").await;
    let image = image_file();
    b.find("#image")
        .await
        .send_keys(&image.display().to_string())
        .await
        .unwrap();
    b.click_button("Create product").await;
    // Too many decimals: the form again, with the message by the price.
    b.wait_for_text("#price-error", "USD prices have at most 2 decimal places.")
        .await;
    blocking.extend(capture(b, "admin-product-error").await);
    b.fill("#price", "32.50").await;
    b.find("#image")
        .await
        .send_keys(&image.display().to_string())
        .await
        .unwrap();
    b.click_button("Create product").await;
    b.wait_for_notice("Product created.").await;
    blocking.extend(capture(b, "admin-product").await);
    // The shop shows it, with its image.
    let mut shown = false;
    for _ in 0..100 {
        b.goto(&app.url("/products/stoneware-bowl")).await;
        if b.text("h1").await == "Stoneware Bowl" {
            shown = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(shown, "the shop shows the new product");
    assert_eq!(b.text(".price-large").await, "$32.50");
    let src: String = b
        .eval("return document.querySelector('.product-image').getAttribute('src');")
        .await;
    assert!(
        src.starts_with("/uploads/") && src.ends_with(".png"),
        "{src}"
    );
    let loaded: bool = b.eval("const i = document.querySelector('.product-image'); return i.complete && i.naturalWidth === 800;").await;
    assert!(loaded, "the uploaded image loads");

    // Refund one of the two mugs of the order, back to stock, then ship.
    b.goto(&app.url("/admin/orders")).await;
    let number = b.text(".admin-table tbody th a").await;
    b.click_link(&number).await;
    b.wait_for_path(&format!("/admin/orders/{number}")).await;
    blocking.extend(capture(b, "admin-order").await);
    b.fill("#amount", "24.00").await;
    let restock = b.find(".restock input").await;
    restock.clear().await.unwrap();
    restock.send_keys("1").await.unwrap();
    b.click_button("Refund").await;
    b.wait_for_notice("Refund sent to Stripe.").await;
    let refund = b.text(".refund-line").await;
    assert!(
        refund.contains("$24.00") && refund.contains(EMAIL),
        "{refund}"
    );
    b.fill("#carrier", "Parcelco").await;
    b.fill("#tracking_url", "https://track.example/P123").await;
    b.click_button("Mark as shipped").await;
    b.wait_for_notice("Order marked as shipped.").await;
    assert!(b.text(".shipped").await.contains("Parcelco"));
    blocking.extend(capture(b, "admin-order-done").await);

    b.click_link("Dashboard").await;
    b.wait_for_url("the dashboard", |url| url.path() == "/admin")
        .await;
    // Two mugs and $5.00 of shipping.
    assert!(b.page_text().await.contains("$53.00"), "the day's revenue");
    blocking.extend(capture(b, "admin-dashboard").await);
    b.click_link("Audit log").await;
    b.wait_for_path("/admin/audit").await;
    assert!(b.page_text().await.contains("order.refund_requested"));
    blocking.extend(capture(b, "admin-audit").await);
    b.click_link("Emails").await;
    b.wait_for_path("/admin/emails").await;
    let emails = b.page_text().await;
    assert!(
        emails.contains("Order confirmation") && emails.contains("Shipment notice"),
        "{emails}"
    );
    blocking.extend(capture(b, "admin-emails").await);

    // A shipping rate, refused while its price is too precise, then added.
    b.click_link("Settings").await;
    b.wait_for_path("/admin/settings").await;
    blocking.extend(capture(b, "admin-settings").await);
    b.fill("#rate-new-name", "Courier").await;
    b.fill("#rate-new-min", "1").await;
    b.fill("#rate-new-max", "2").await;
    b.fill("#rate-new-price_USD", "9.999").await;
    b.click_button("Add rate").await;
    b.wait_for_text(
        "#rate-new-prices-error",
        "\"9.999\" is not an amount in USD: USD amounts have at most 2 decimal places.",
    )
    .await;
    blocking.extend(capture(b, "admin-settings-error").await);
    b.fill("#rate-new-price_USD", "9.99").await;
    b.click_button("Add rate").await;
    b.wait_for_notice("Shipping rate added.").await;
    assert_eq!(
        b.texts(".rates-table tbody th").await,
        ["Standard", "Express", "Courier"]
    );
    b.click_link("Attention").await;
    b.wait_for_path("/admin/attention").await;
    blocking.extend(capture(b, "admin-attention").await);
    // A mistyped address stays in the back office, its navigation at hand.
    b.goto(&app.url("/admin/ordres")).await;
    assert_eq!(b.texts("h1").await, ["Not found"]);
    blocking.extend(capture(b, "admin-not-found").await);
    b.click_link("Back to the dashboard").await;
    b.wait_for_path("/admin").await;
    b.click_button("Sign out").await;
    b.wait_for_notice("You have signed out.").await;
    let _ = std::fs::remove_file(image);
    assert_no_blocking(&blocking);
}

#[tokio::test]
async fn a_merchant_signs_in_adds_a_product_refunds_and_ships() {
    let app = spawn_app().await;
    accounts::create(&mut app.db().await, EMAIL, PASSWORD.into())
        .await
        .unwrap();
    paid_order(&app).await;
    with_browser("admin-journey", JavaScript::On, async |b| {
        merchant_day(&app, b, JavaScript::On).await;
    })
    .await;
}

#[tokio::test]
async fn the_back_office_works_with_javascript_disabled() {
    let app = spawn_app().await;
    accounts::create(&mut app.db().await, EMAIL, PASSWORD.into())
        .await
        .unwrap();
    paid_order(&app).await;
    with_browser("admin-no-javascript", JavaScript::Off, async |b| {
        assert!(!b.scripts_run().await, "page JavaScript is off");
        merchant_day(&app, b, JavaScript::Off).await;
    })
    .await;
}
