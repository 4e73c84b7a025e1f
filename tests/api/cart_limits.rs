//! The cart's limits under load and attack: concurrent adds, the line cap,
//! other shoppers' lines, malformed bodies, currencies, and group commit.

use diesel_async::{RunQueryDsl, SimpleAsyncConnection};
use futures_util::future::join_all;
use reqwest::StatusCode;

use crate::helpers::{
    Browser, assert_answer_mentions, assert_redirect_to, cart_item_ids, count, spawn_app, texts,
};

#[tokio::test]
async fn concurrent_adds_to_one_cart_never_exceed_the_stock() {
    let app = spawn_app().await;
    assert_redirect_to(&app.add_to_cart("field-notes-journal", "1").await, "/cart");

    // Trail Water Bottle has 3 in stock; twelve adds of one race for them.
    let statuses: Vec<StatusCode> = join_all(
        (0..12).map(|_| async { app.add_to_cart("trail-water-bottle", "1").await.status() }),
    )
    .await;

    let added = count(&statuses, StatusCode::SEE_OTHER);
    let refused = count(&statuses, StatusCode::CONFLICT);
    assert_eq!((added, refused), (3, 9), "{statuses:?}");
    let rows = app.cart_rows().await;
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[1].2, 3, "one line of 3");
    let (_, page) = app.get_page("/cart").await;
    assert_eq!(texts(&page, ".cart-count"), ["4"]);
}

#[tokio::test]
async fn two_tabs_adding_at_once_before_the_cart_exists_fill_one_cart() {
    let app = spawn_app().await;
    for attempt in 0..8 {
        // One browser, one page seen, no cart yet; then two tabs add at once.
        let browser = Browser::at(&app.address);
        let token = browser.csrf_token().await;
        let add = |product: &'static str| {
            let form = [
                ("csrf_token", token.clone()),
                ("product", product.to_owned()),
                ("quantity", "1".to_owned()),
            ];
            browser
                .client
                .post(app.url("/cart/items"))
                .form(&form)
                .send()
        };
        let (mug, journal) = tokio::join!(add("aurora-ceramic-mug"), add("field-notes-journal"));
        assert_eq!(mug.unwrap().status(), StatusCode::SEE_OTHER);
        assert_eq!(journal.unwrap().status(), StatusCode::SEE_OTHER);
        let cart = browser.page("/cart").await;
        for name in ["Aurora Ceramic Mug", "Field Notes Journal"] {
            assert!(
                cart.contains(name),
                "attempt {attempt}: {name} is in the cart"
            );
        }
    }
}

#[tokio::test]
async fn a_line_holds_at_most_99_units() {
    let app = spawn_app().await;
    assert_redirect_to(&app.add_to_cart("field-notes-journal", "99").await, "/cart");

    let response = app.add_to_cart("field-notes-journal", "1").await;

    assert_eq!(response.status(), StatusCode::CONFLICT);
    assert!(response.text().await.unwrap().contains("at most 99"));
    assert_eq!(app.cart_rows().await[0].2, 99);
}

#[tokio::test]
async fn invalid_quantity_changes_rerender_the_cart_with_a_400_and_change_nothing() {
    let app = spawn_app().await;
    app.add_to_cart("trail-water-bottle", "1").await;
    let ids = app.cart_item_ids().await;
    let before = app.cart_rows().await;
    let path = format!("/cart/items/{}", ids[0]);

    for quantity in ["-1", "100", "abc", "", "1000000000000"] {
        let response = app.post_form(&path, &[("quantity", quantity)]).await;

        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{quantity:?}");
        let page = response.text().await.unwrap();
        assert_eq!(texts(&page, "h1"), ["Your cart"]);
        assert_eq!(
            texts(&page, ".field-error"),
            ["Please enter a quantity from 0 to 99 (0 removes the item)."]
        );
    }
    let response = app.post_form(&path, &[("quantity", "4")]).await;
    assert_answer_mentions(
        response,
        StatusCode::CONFLICT,
        "only 3 of Trail Water Bottle",
    )
    .await;
    assert_eq!(app.cart_rows().await, before);
}

#[tokio::test]
async fn another_shoppers_cart_items_cannot_be_touched() {
    let owner = spawn_app().await;
    owner.add_to_cart("aurora-ceramic-mug", "1").await;
    let ids = owner.cart_item_ids().await;
    let before = owner.cart_rows().await;
    // A second browser on the same app: its own session, its own cart.
    let intruder = owner.new_browser();
    intruder
        .post_form(
            "/cart/items",
            &[("product", "brass-bottle-opener"), ("quantity", "1")],
        )
        .await;
    let token = intruder.csrf_token().await;

    for path in [
        format!("/cart/items/{}", ids[0]),
        format!("/cart/items/{}/delete", ids[0]),
    ] {
        let response = intruder
            .client
            .post(owner.url(&path))
            .form(&[("quantity", "9"), ("csrf_token", &token)])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
    }
    for path in ["/cart/items/abc", "/cart/items/99999999999999999999/delete"] {
        let response = owner.post_form(path, &[("quantity", "1")]).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
    }
    let after = owner.cart_rows().await;
    assert_eq!(after[0], before[0]);
    assert_eq!(after.len(), 2, "the intruder has its own cart line");
}

#[tokio::test]
async fn oversized_and_malformed_bodies_are_rejected_without_changes() {
    let app = spawn_app().await;
    let token = app.csrf_token().await;

    let huge = format!(
        "csrf_token={token}&product=aurora-ceramic-mug&quantity=1&pad={}",
        "x".repeat(64 * 1024)
    );
    let response = app
        .client
        .post(app.url("/cart/items"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(huge)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains("larger than we accept")
    );

    let response = app
        .client
        .post(app.url("/cart/items"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("csrf_token={token}&product=%FF%FE&quantity=1"))
        .send()
        .await
        .unwrap();
    assert!(response.status().is_client_error(), "{}", response.status());

    assert!(app.cart_rows().await.is_empty());
}

#[tokio::test]
async fn form_routes_take_only_urlencoded_bodies() {
    let app = spawn_app().await;
    app.add_to_cart("aurora-ceramic-mug", "1").await;
    let line = app.cart_item_ids().await[0].clone();
    let token = app.csrf_token().await;
    let body = format!("csrf_token={token}&product=aurora-ceramic-mug&quantity=3");
    let before = app.cart_rows().await;
    let routes = [
        "/cart/items".to_owned(),
        format!("/cart/items/{line}"),
        format!("/cart/items/{line}/delete"),
        "/checkout".to_owned(),
        "/checkout/express".to_owned(),
    ];
    for route in &routes {
        for content_type in [
            Some("application/json"),
            Some("text/xml"),
            Some("text/plain"),
            Some("multipart/form-data; boundary=x"),
            None,
        ] {
            let mut request = app.client.post(app.url(route)).body(body.clone());
            if let Some(content_type) = content_type {
                request = request.header("content-type", content_type);
            }
            let response = request.send().await.unwrap();
            assert_eq!(
                response.status(),
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "{route} as {content_type:?}"
            );
            let page = response.text().await.unwrap();
            assert!(page.contains("as a browser sends it"), "{page}");
        }
    }
    assert_eq!(app.cart_rows().await, before, "nothing changed");
    assert!(app.orders().await.is_empty(), "no checkout started");
    // A charset parameter is still a form.
    let response = app
        .client
        .post(app.url("/cart/items"))
        .header(
            "content-type",
            "application/x-www-form-urlencoded; charset=UTF-8",
        )
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn many_posts_without_reading_a_page_keep_only_the_latest_flashes() {
    let app = spawn_app().await;

    for _ in 0..60 {
        let response = app.add_to_cart("field-notes-journal", "1").await;
        assert_redirect_to(&response, "/cart");
    }

    let (status, page) = app.get_page("/cart").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(texts(&page, ".flash-success").len(), 3);
    assert_eq!(app.cart_rows().await[0].2, 60);
}

#[tokio::test]
async fn a_product_in_another_currency_is_refused_and_a_mixed_cart_cannot_check_out() {
    let app = spawn_app().await;
    app.db()
        .await
        .batch_execute(
            "INSERT INTO products (slug, name, description, price_minor, currency, image_path) \
             VALUES ('euro-espresso-cup', 'Euro Espresso Cup', 'Priced in euros.', 1200, 'EUR', \
                     'img/products/aurora-ceramic-mug.svg')",
        )
        .await
        .unwrap();
    assert_redirect_to(&app.add_to_cart("aurora-ceramic-mug", "1").await, "/cart");
    assert_redirect_to(&app.add_to_cart("field-notes-journal", "1").await, "/cart");
    let before = app.cart_rows().await;

    let response = app.add_to_cart("euro-espresso-cup", "1").await;
    assert_answer_mentions(
        response,
        StatusCode::CONFLICT,
        "priced in a different currency",
    )
    .await;
    assert_eq!(app.cart_rows().await, before);

    // The merchant reprices a product already in the cart: the cart is mixed.
    app.db()
        .await
        .batch_execute("UPDATE products SET currency = 'EUR' WHERE slug = 'field-notes-journal'")
        .await
        .unwrap();
    let (status, page) = app.get_page("/cart").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("priced in different currencies"), "{page}");
    assert!(texts(&page, ".subtotal").is_empty());
    assert!(texts(&page, "form[action=\"/checkout\"] button").is_empty());

    let response = app.post_form("/checkout", &[]).await;
    assert_eq!(response.status(), StatusCode::CONFLICT);
    assert!(
        texts(&response.text().await.unwrap(), ".flash-error")[0]
            .contains("priced in different currencies")
    );
    assert!(app.orders().await.is_empty(), "no order was created");
}

/// The value of a bigint SQL expression.
async fn number(conn: &mut diesel_async::AsyncPgConnection, expression: &str) -> i64 {
    diesel::select(diesel::dsl::sql::<diesel::sql_types::BigInt>(expression))
        .get_result(conn)
        .await
        .unwrap()
}

#[tokio::test]
async fn cart_changes_arriving_together_share_a_statement_and_each_gets_its_own_answer() {
    let app = spawn_app().await;
    // Twenty shoppers, each with a line of one journal.
    let mut shoppers = Vec::new();
    for _ in 0..20 {
        let browser = app.new_browser();
        let response = browser
            .post_form(
                "/cart/items",
                &[("product", "field-notes-journal"), ("quantity", "1")],
            )
            .await;
        assert_redirect_to(&response, "/cart");
        let item = cart_item_ids(&browser.page("/cart").await).remove(0);
        let token = browser.csrf_token().await;
        shoppers.push((browser, item, token));
    }
    let mut db = app.db().await;
    db.batch_execute("CREATE TEMP TABLE burst AS SELECT now() AS started")
        .await
        .unwrap();

    // Hold every cart write while the changes arrive: the workers' first
    // batches wait for the lock, the rest queue behind them.
    let mut lock = app.db().await;
    lock.batch_execute("BEGIN; LOCK TABLE cart_items IN EXCLUSIVE MODE")
        .await
        .unwrap();
    let requests: Vec<_> = shoppers
        .iter()
        .enumerate()
        .map(|(i, (browser, item, token))| {
            let (path, product, quantity) = match i % 5 {
                0 => ("/cart/items".to_owned(), Some("aurora-ceramic-mug"), "2"),
                1 => ("/cart/items".to_owned(), Some("field-notes-journal"), "5"),
                2 => ("/cart/items".to_owned(), Some("trail-water-bottle"), "4"),
                3 => ("/cart/items".to_owned(), Some("no-such-product"), "1"),
                _ => (format!("/cart/items/{item}"), None, "7"),
            };
            let mut fields = vec![("quantity", quantity), ("csrf_token", token.as_str())];
            fields.extend(product.map(|product| ("product", product)));
            let request = browser.client.post(app.url(&path)).form(&fields);
            tokio::spawn(async move { request.send().await.unwrap() })
        })
        .collect();
    for _ in 0..100 {
        let waiting = number(
            &mut db,
            "(SELECT count(*) FROM pg_stat_activity \
             WHERE datname = current_database() AND wait_event_type = 'Lock')",
        )
        .await;
        if waiting > 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    // Time for the other requests to arrive and queue.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    lock.batch_execute("COMMIT").await.unwrap();

    let mut answers = Vec::new();
    for request in requests {
        answers.push(request.await.unwrap());
    }
    for (i, (answer, (browser, _, _))) in answers.into_iter().zip(&shoppers).enumerate() {
        let (status, message) = match i % 5 {
            0 => (
                StatusCode::SEE_OTHER,
                "Added 2 × Aurora Ceramic Mug to your cart.",
            ),
            1 => (
                StatusCode::SEE_OTHER,
                "Added 5 × Field Notes Journal to your cart.",
            ),
            2 => (
                StatusCode::CONFLICT,
                "Sorry, only 3 of Trail Water Bottle are in stock.",
            ),
            3 => (StatusCode::NOT_FOUND, "no longer available"),
            _ => (StatusCode::SEE_OTHER, "Updated Field Notes Journal to 7."),
        };
        assert_eq!(answer.status(), status, "shopper {i}");
        let page = if status == StatusCode::SEE_OTHER {
            browser.page("/cart").await
        } else {
            answer.text().await.unwrap()
        };
        assert!(page.contains(message), "shopper {i}: {message}");
    }
    // Every cart holds what its own change made of it.
    let lines = number(
        &mut db,
        "(SELECT count(*) FROM cart_items JOIN products p ON p.id = product_id \
         WHERE (p.slug, quantity) IN (('aurora-ceramic-mug', 2), ('field-notes-journal', 6), \
                                      ('field-notes-journal', 7)))",
    )
    .await;
    assert_eq!(lines, 12);
    // The twelve written lines came from fewer transactions than that.
    let transactions = number(
        &mut db,
        "(SELECT count(DISTINCT cart_items.xmin::text) FROM cart_items, burst \
          WHERE updated_at >= started)",
    )
    .await;
    let written = number(
        &mut db,
        "(SELECT count(*) FROM cart_items, burst WHERE updated_at >= started)",
    )
    .await;
    assert_eq!(written, 12);
    assert!(
        transactions < written,
        "{transactions} transactions for {written} lines"
    );
}
