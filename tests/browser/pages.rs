//! A tour of every page: full-page screenshots at desktop and phone widths,
//! and an axe-core accessibility audit of each.

use fantoccini::actions::{InputSource, KeyAction, KeyActions};
use fantoccini::key::Key;
use serde::Deserialize;

use crate::a11y::{self, Violation};
use crate::driver::{Browser, DESKTOP, JavaScript, output_dir, with_browser};
use crate::helpers::{CARD_DECLINED, CARD_OK, spawn_app};

/// Our pages must pass; the simulator's pages are only reported.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Owner {
    Us,
    Simulator,
}

/// Screenshots and audits the page the browser is on; returns our page's
/// serious violations.
pub(crate) async fn capture(b: &Browser, name: &str, owner: Owner) -> Vec<(String, Violation)> {
    b.screenshots(name).await;
    let mut blocking = Vec::new();
    for width in [DESKTOP.0, 390] {
        b.set_viewport(width, DESKTOP.1).await;
        let label = format!("{name}-{width}");
        let violations = match owner {
            Owner::Us => a11y::audit(b, &label).await,
            Owner::Simulator => a11y::report(b, &label).await,
        };
        for violation in violations {
            if owner == Owner::Us && violation.is_blocking() {
                blocking.push((label.clone(), violation));
            } else if owner == Owner::Us {
                eprintln!(
                    "{label}: minor finding\n{}",
                    a11y::describe(std::slice::from_ref(&violation))
                );
            }
        }
    }
    b.set_viewport(DESKTOP.0, DESKTOP.1).await;
    blocking
}

/// Fails on any serious or critical violation found on our pages.
pub(crate) fn assert_no_blocking(blocking: &[(String, Violation)]) {
    let report: String = blocking
        .iter()
        .map(|(page, v)| format!("{page}:\n{}", a11y::describe(std::slice::from_ref(v))))
        .collect();
    assert!(
        blocking.is_empty(),
        "serious or critical accessibility violations:\n{report}"
    );
    eprintln!("screenshots and axe reports in {}", output_dir().display());
}

/// The pages before checkout: empty states, the catalog, product pages
/// (with a refused quantity, and sold out), and the 404 page.
#[tokio::test]
async fn shop_pages_are_screenshotted_and_pass_axe() {
    let app = spawn_app().await;
    with_browser("shop-pages", JavaScript::On, async |b| {
        let mut blocking = Vec::new();

        b.goto(&app.url("/orders")).await;
        assert_eq!(b.text("h1").await, "Your orders");
        blocking.extend(capture(b, "orders-empty", Owner::Us).await);

        b.goto(&app.url("/cart")).await;
        assert!(b.page_text().await.contains("Your cart is empty."));
        blocking.extend(capture(b, "cart-empty", Owner::Us).await);

        b.goto(&app.url("/")).await;
        blocking.extend(capture(b, "catalog", Owner::Us).await);

        b.open_product(&app, "Aurora Ceramic Mug", "aurora-ceramic-mug")
            .await;
        blocking.extend(capture(b, "product", Owner::Us).await);

        // A quantity the shop refuses: the page explains next to the field,
        // and the field has focus.
        b.fill("#quantity", "0").await;
        b.click_button("Add to cart").await;
        b.find("#quantity-error").await;
        let focused: String = b.eval("return document.activeElement.id;").await;
        assert_eq!(focused, "quantity", "the refused field has focus");
        blocking.extend(capture(b, "product-error", Owner::Us).await);

        b.open_product(&app, "Scented Soy Candle", "scented-soy-candle")
            .await;
        assert!(b.page_text().await.contains("This product is sold out."));
        blocking.extend(capture(b, "product-sold-out", Owner::Us).await);

        b.goto(&app.url("/no-such-page")).await;
        assert_eq!(b.text("h1").await, "Not found");
        blocking.extend(capture(b, "not-found", Owner::Us).await);

        assert_no_blocking(&blocking);
    })
    .await;
}

/// The pages of checkout: the cart, the simulator's payment page (reported,
/// not ours to fix), a declined card, the receipt and the order list.
#[tokio::test]
async fn checkout_pages_are_screenshotted_and_pass_axe() {
    let app = spawn_app().await;
    with_browser("checkout-pages", JavaScript::On, async |b| {
        let mut blocking = Vec::new();

        b.open_product(&app, "Aurora Ceramic Mug", "aurora-ceramic-mug")
            .await;
        b.add_to_cart("Aurora Ceramic Mug", 1).await;
        b.open_product(&app, "Trail Water Bottle", "trail-water-bottle")
            .await;
        b.add_to_cart("Trail Water Bottle", 2).await;
        blocking.extend(capture(b, "cart", Owner::Us).await);

        b.check_out(&app).await;
        blocking.extend(capture(b, "payment", Owner::Simulator).await);
        b.pay_with(CARD_DECLINED).await;
        b.wait_for_text("[role=alert]", "Your card was declined.")
            .await;
        blocking.extend(capture(b, "payment-declined", Owner::Simulator).await);
        b.pay_with(CARD_OK).await;
        b.receipt().await;
        blocking.extend(capture(b, "confirmation", Owner::Us).await);

        b.goto(&app.url("/orders")).await;
        assert_eq!(b.find_all(".orders-table tbody tr").await.len(), 1);
        blocking.extend(capture(b, "orders", Owner::Us).await);

        assert_no_blocking(&blocking);
    })
    .await;
}

#[derive(Debug, Deserialize)]
struct Focused {
    label: String,
    outline_style: String,
    outline_width: f64,
    on_screen: bool,
}

/// Presses Tab and describes the element that has focus.
async fn tab(b: &Browser) -> Focused {
    let tab = KeyActions::new("keyboard".into())
        .then(KeyAction::Down {
            value: Key::Tab.into(),
        })
        .then(KeyAction::Up {
            value: Key::Tab.into(),
        });
    b.client.perform_actions(tab).await.unwrap();
    b.eval(
        r#"const e = document.activeElement;
           const style = getComputedStyle(e);
           const box = e.getBoundingClientRect();
           const text = (e.getAttribute("aria-label") || e.innerText || e.value || "").trim();
           return {
             label: e.tagName.toLowerCase() + ":" + text.replace(/\s+/g, " "),
             outline_style: style.outlineStyle,
             outline_width: parseFloat(style.outlineWidth) || 0,
             on_screen: box.bottom > 0 && box.top < innerHeight && box.width > 0,
           };"#,
    )
    .await
}

#[tokio::test]
async fn keyboard_focus_moves_in_reading_order_and_is_always_visible() {
    let app = spawn_app().await;
    with_browser("keyboard-focus", JavaScript::On, async |b| {
        b.goto(&app.url("/products/aurora-ceramic-mug")).await;
        // Tab through the page up to "Buy now": every stop shows where focus is.
        let mut order = Vec::new();
        while order.last().is_none_or(|last| last != "button:Buy now") {
            assert!(order.len() < 20, "never reached Buy now: {order:?}");
            let focused = tab(b).await;
            assert!(
                focused.outline_style != "none" && focused.outline_width >= 2.0,
                "no visible focus indicator on {focused:?}"
            );
            assert!(focused.on_screen, "focus is off screen: {focused:?}");
            order.push(focused.label);
        }
        // The reading order: skip link first, then the header, the
        // breadcrumb, the quantity, and the two buttons.
        let expected = [
            "a:Skip to content",
            "a:Storefront",
            "a:Shop",
            "a:Orders",
            "a:Cart 0",
            "a:Shop",
            "input:1",
            "button:Add to cart",
            "button:Buy now",
        ];
        assert_eq!(order[0], expected[0], "{order:?}");
        let mut rest = order.iter();
        for stop in expected {
            assert!(
                rest.any(|label| label == stop),
                "{stop:?} out of order in {order:?}"
            );
        }

        // Following the skip link moves focus past the header.
        b.goto(&app.url("/products/aurora-ceramic-mug")).await;
        tab(b).await;
        let enter = KeyActions::new("keyboard".into())
            .then(KeyAction::Down {
                value: Key::Enter.into(),
            })
            .then(KeyAction::Up {
                value: Key::Enter.into(),
            });
        b.client.perform_actions(enter).await.unwrap();
        let next = tab(b).await;
        assert_eq!(next.label, "a:Shop", "the breadcrumb comes first in main");
    })
    .await;
}
