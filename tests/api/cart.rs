//! The cart through the real stack: adding, changing and removing lines,
//! the session cookie, CSRF, bad input and stock limits.

use diesel::prelude::*;
use diesel_async::{RunQueryDsl, SimpleAsyncConnection};
use reqwest::StatusCode;
use storefront::db::schema::{cart_items, carts};

use crate::helpers::{assert_answer_mentions, assert_redirect_to, spawn_app, texts};

#[tokio::test]
async fn an_empty_cart_says_so() {
    let app = spawn_app().await;

    let (status, page) = app.get_page("/cart").await;

    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Your cart is empty."));
    assert_eq!(texts(&page, ".cart-count"), ["0"]);
}

#[tokio::test]
async fn adding_products_shows_line_totals_subtotal_and_a_flash_once() {
    let app = spawn_app().await;

    let response = app.add_to_cart("aurora-ceramic-mug", "2").await;
    assert_redirect_to(&response, "/cart");
    let response = app.add_to_cart("field-notes-journal", "1").await;
    assert_redirect_to(&response, "/cart");

    let (status, page) = app.get_page("/cart").await;
    assert_eq!(status, StatusCode::OK);
    let rows = texts(&page, "tbody tr");
    assert_eq!(rows.len(), 2);
    assert!(
        rows[0].contains("Aurora Ceramic Mug")
            && rows[0].contains("$24.00")
            && rows[0].ends_with("$48.00"),
        "{}",
        rows[0]
    );
    assert!(
        rows[1].contains("Field Notes Journal") && rows[1].ends_with("$14.50"),
        "{}",
        rows[1]
    );
    assert_eq!(texts(&page, ".subtotal strong"), ["$62.50"]);
    assert_eq!(texts(&page, ".cart-count"), ["3"]);
    assert_eq!(
        texts(&page, ".flash-success"),
        [
            "Added 2 × Aurora Ceramic Mug to your cart.",
            "Added 1 × Field Notes Journal to your cart."
        ]
    );
    let (_, again) = app.get_page("/cart").await;
    assert!(texts(&again, ".flash").is_empty(), "flashes show once");
}

#[tokio::test]
async fn adding_the_same_product_again_merges_the_line() {
    let app = spawn_app().await;

    app.add_to_cart("canvas-tote-bag", "1").await;
    app.add_to_cart("canvas-tote-bag", "2").await;

    let rows = app.cart_rows().await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].2, 3);
    let (_, page) = app.get_page("/cart").await;
    assert_eq!(texts(&page, ".subtotal strong"), ["$84.00"]);
}

#[tokio::test]
async fn a_cart_whose_row_was_deleted_starts_again_on_the_next_add() {
    let app = spawn_app().await;
    app.add_to_cart("canvas-tote-bag", "1").await;
    let cart_id = app.cart_rows().await[0].0;
    // As a purge of abandoned carts would: the lines go with the cart.
    diesel::delete(carts::table)
        .execute(&mut app.db().await)
        .await
        .unwrap();

    let response = app.add_to_cart("aurora-ceramic-mug", "2").await;

    assert_redirect_to(&response, "/cart");
    let rows = app.cart_rows().await;
    assert_eq!(rows.len(), 1);
    assert_eq!(
        (rows[0].0, rows[0].2),
        (cart_id, 2),
        "same cart id, one line"
    );
    let (_, page) = app.get_page("/cart").await;
    assert_eq!(texts(&page, ".subtotal strong"), ["$48.00"]);
}

#[tokio::test]
async fn carts_untouched_for_the_retention_are_deleted_at_start_and_hourly() {
    let mut app = spawn_app().await;
    app.add_to_cart("canvas-tote-bag", "1").await;
    let idle = app.cart_rows().await[0].0;
    // Another cart, 40 days old but with a line changed yesterday, and a new
    // empty one.
    app.db()
        .await
        .batch_execute(&format!(
            "UPDATE carts SET created_at = now() - interval '31 days' WHERE id = '{idle}';
             UPDATE cart_items SET updated_at = now() - interval '31 days' WHERE cart_id = '{idle}';
             INSERT INTO carts (id, created_at) VALUES
                 ('00000000-0000-0000-0000-00000000000a', now() - interval '40 days'),
                 ('00000000-0000-0000-0000-00000000000b', now());
             INSERT INTO cart_items (cart_id, product_id, quantity, updated_at)
                 SELECT '00000000-0000-0000-0000-00000000000a', id, 1, now() - interval '1 day'
                 FROM products WHERE slug = 'canvas-tote-bag';
             INSERT INTO held_refunds (payment_intent_id, amount_refunded_minor, created_at)
                 VALUES ('pi_old', 100, now() - interval '31 days'), ('pi_new', 100, now());"
        ))
        .await
        .unwrap();

    // The purge runs when a node starts, then every hour.
    app.restart().await;

    let remaining = || async {
        let mut ids: Vec<String> = carts::table
            .select(carts::id)
            .load::<uuid::Uuid>(&mut app.db().await)
            .await
            .unwrap()
            .iter()
            .map(|id| id.to_string()[34..].to_owned())
            .collect();
        ids.sort();
        ids
    };
    app.eventually("the idle cart is deleted", || async {
        remaining().await.len() == 2
    })
    .await;
    assert_eq!(remaining().await, ["0a", "0b"]);
    // A refund held for a payment that never came goes after 30 days.
    app.eventually("the old held refund is deleted", || async {
        let held: Vec<String> = diesel::sql_query("SELECT payment_intent_id FROM held_refunds")
            .load::<HeldRefund>(&mut app.db().await)
            .await
            .unwrap()
            .into_iter()
            .map(|row| row.payment_intent_id)
            .collect();
        held == ["pi_new"]
    })
    .await;
    assert_eq!(
        app.cart_rows().await.len(),
        1,
        "the idle cart's line went with it"
    );
    // Its shopper starts again.
    let response = app.add_to_cart("aurora-ceramic-mug", "1").await;
    assert_redirect_to(&response, "/cart");
    let (_, page) = app.get_page("/cart").await;
    assert_eq!(texts(&page, ".subtotal strong"), ["$24.00"]);
}

#[tokio::test]
async fn every_line_change_records_the_carts_activity() {
    let app = spawn_app().await;
    app.add_to_cart("canvas-tote-bag", "1").await;
    let last_activity = || async {
        cart_items::table
            .select(cart_items::updated_at)
            .first::<chrono::DateTime<chrono::Utc>>(&mut app.db().await)
            .await
            .unwrap()
    };
    let added = last_activity().await;

    app.add_to_cart("canvas-tote-bag", "1").await;
    let merged = last_activity().await;
    let id = app.cart_item_ids().await.remove(0);
    app.post_form(&format!("/cart/items/{id}"), &[("quantity", "5")])
        .await;
    let changed = last_activity().await;

    assert!(
        added < merged && merged < changed,
        "{added:?} {merged:?} {changed:?}"
    );
}

#[tokio::test]
async fn changing_a_quantity_updates_totals_and_zero_removes_the_line() {
    let app = spawn_app().await;
    app.add_to_cart("aurora-ceramic-mug", "1").await;
    app.add_to_cart("brass-bottle-opener", "1").await;
    let ids = app.cart_item_ids().await;

    let response = app
        .post_form(&format!("/cart/items/{}", ids[0]), &[("quantity", "5")])
        .await;
    assert_redirect_to(&response, "/cart");
    let (_, page) = app.get_page("/cart").await;
    assert!(texts(&page, ".flash-success")[0].contains("Updated Aurora Ceramic Mug to 5"));
    assert_eq!(texts(&page, ".subtotal strong"), ["$138.00"]);

    let response = app
        .post_form(&format!("/cart/items/{}", ids[0]), &[("quantity", "0")])
        .await;
    assert_redirect_to(&response, "/cart");
    let (_, page) = app.get_page("/cart").await;
    assert_eq!(
        texts(&page, ".flash-success"),
        ["Removed Aurora Ceramic Mug from your cart."]
    );
    assert_eq!(app.cart_item_ids().await, [ids[1].clone()]);
    assert_eq!(texts(&page, ".subtotal strong"), ["$18.00"]);
}

#[tokio::test]
async fn removing_a_line_empties_the_cart() {
    let app = spawn_app().await;
    app.add_to_cart("aurora-ceramic-mug", "1").await;
    let ids = app.cart_item_ids().await;

    let response = app
        .post_form(&format!("/cart/items/{}/delete", ids[0]), &[])
        .await;

    assert_redirect_to(&response, "/cart");
    assert!(app.cart_rows().await.is_empty());
    let (_, page) = app.get_page("/cart").await;
    assert!(page.contains("Your cart is empty."));
}

#[tokio::test]
async fn the_cart_survives_an_app_restart() {
    let mut app = spawn_app().await;
    app.add_to_cart("walnut-desk-organizer", "2").await;

    app.restart().await;

    let (status, page) = app.get_page("/cart").await;
    assert_eq!(status, StatusCode::OK);
    assert!(texts(&page, "tbody tr")[0].contains("Walnut Desk Organizer"));
    assert_eq!(texts(&page, ".subtotal strong"), ["$136.00"]);
}

#[tokio::test]
async fn the_session_cookie_does_not_reveal_the_cart_id() {
    let app = spawn_app().await;

    let response = app.add_to_cart("aurora-ceramic-mug", "1").await;

    let cookie = response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_owned();
    let cart_id = app.cart_rows().await[0].0;
    assert!(cookie.starts_with("storefront_session="));
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"));
    assert!(
        !cookie.contains(&cart_id.to_string()) && !cookie.contains(&cart_id.simple().to_string())
    );
}

#[tokio::test]
async fn personal_pages_are_never_stored_and_no_page_is_shared() {
    let app = spawn_app().await;
    app.add_to_cart("aurora-ceramic-mug", "1").await;
    for path in ["/cart", "/orders", "/checkout/success?session_id=cs_test_x"] {
        let response = app.get(path).await;
        assert_eq!(
            response.headers()["cache-control"],
            "private, no-store",
            "{path}"
        );
    }
    for path in ["/", "/products/aurora-ceramic-mug", "/nothing-here"] {
        let response = app.get(path).await;
        assert_eq!(
            response.headers()["cache-control"],
            "private, no-cache",
            "{path}"
        );
    }
}

#[tokio::test]
async fn form_posts_without_a_valid_csrf_token_are_forbidden_and_change_nothing() {
    let app = spawn_app().await;
    app.add_to_cart("aurora-ceramic-mug", "1").await;
    let ids = app.cart_item_ids().await;
    let before = app.cart_rows().await;
    let other = spawn_app().await;
    let foreign_token = other.csrf_token().await;

    let cases: Vec<(String, Vec<(&str, &str)>)> = vec![
        (
            "/cart/items".into(),
            vec![("product", "aurora-ceramic-mug"), ("quantity", "1")],
        ),
        (
            "/cart/items".into(),
            vec![
                ("product", "aurora-ceramic-mug"),
                ("quantity", "1"),
                ("csrf_token", "forged"),
            ],
        ),
        (
            "/cart/items".into(),
            vec![
                ("product", "aurora-ceramic-mug"),
                ("quantity", "1"),
                ("csrf_token", &foreign_token),
            ],
        ),
        (format!("/cart/items/{}", ids[0]), vec![("quantity", "7")]),
        (
            format!("/cart/items/{}/delete", ids[0]),
            vec![("csrf_token", "")],
        ),
    ];
    for (path, fields) in cases {
        let response = app
            .client
            .post(app.url(&path))
            .form(&fields)
            .send()
            .await
            .unwrap();

        assert_eq!(
            response.status(),
            StatusCode::FORBIDDEN,
            "{path} {fields:?}"
        );
        let page = response.text().await.unwrap();
        assert!(page.contains("This form has expired"), "{path}");
    }
    assert_eq!(app.cart_rows().await, before);
}

#[tokio::test]
async fn invalid_quantities_rerender_the_product_page_with_a_400_and_change_nothing() {
    let app = spawn_app().await;
    app.add_to_cart("aurora-ceramic-mug", "1").await;
    let before = app.cart_rows().await;

    for quantity in [
        "0",
        "-1",
        "1000000000000",
        "abc",
        "",
        "1.5",
        "1e2",
        " ",
        "100",
    ] {
        let response = app.add_to_cart("aurora-ceramic-mug", quantity).await;

        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{quantity:?}");
        let page = response.text().await.unwrap();
        assert_eq!(texts(&page, "h1"), ["Aurora Ceramic Mug"], "{quantity:?}");
        assert_eq!(
            texts(&page, ".field-error"),
            ["Please enter a quantity from 1 to 99."],
            "{quantity:?}"
        );
        assert!(page.contains(r#"aria-invalid="true""#));
    }
    assert_eq!(app.cart_rows().await, before);
}

#[tokio::test]
async fn unknown_or_inactive_products_cannot_be_added() {
    let app = spawn_app().await;

    for product in [
        "no-such-product",
        "enamel-camp-pin",
        "",
        "DROP TABLE products",
        // PostgreSQL refuses a NUL in text: this was a 500.
        "aurora-ceramic-mug\0",
    ] {
        let response = app.add_to_cart(product, "1").await;

        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{product:?}");
        let page = response.text().await.unwrap();
        assert!(
            texts(&page, ".error-page")[0].contains("no longer available"),
            "{product:?}"
        );
    }
    assert!(app.cart_rows().await.is_empty());
    let carts: i64 = carts::table
        .count()
        .get_result(&mut app.db().await)
        .await
        .unwrap();
    assert_eq!(carts, 0, "a refused first add creates no cart");
}

#[tokio::test]
async fn adding_more_than_the_stock_is_a_409_with_the_reason() {
    let app = spawn_app().await;

    let response = app.add_to_cart("trail-water-bottle", "4").await;
    assert_eq!(response.status(), StatusCode::CONFLICT);
    let page = response.text().await.unwrap();
    assert_eq!(
        texts(&page, ".field-error"),
        ["Sorry, only 3 of Trail Water Bottle are in stock."]
    );

    assert_redirect_to(&app.add_to_cart("trail-water-bottle", "2").await, "/cart");
    let response = app.add_to_cart("trail-water-bottle", "2").await;
    assert_eq!(response.status(), StatusCode::CONFLICT);
    let page = response.text().await.unwrap();
    assert_eq!(
        texts(&page, ".field-error"),
        ["Sorry, only 3 of Trail Water Bottle are in stock, and 2 are already in your cart."]
    );

    let response = app.add_to_cart("scented-soy-candle", "1").await;
    assert_answer_mentions(
        response,
        StatusCode::CONFLICT,
        "Scented Soy Candle is sold out",
    )
    .await;

    let rows = app.cart_rows().await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].2, 2);
}

#[derive(QueryableByName)]
struct HeldRefund {
    #[diesel(sql_type = diesel::sql_types::Text)]
    payment_intent_id: String,
}
