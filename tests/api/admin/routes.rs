//! Every staff route, from one table: an anonymous client and a shopper's
//! session are sent to the sign-in page, and a POST without the staff
//! session's CSRF token changes nothing (403). The table is checked against
//! the route table itself, so a new route cannot be left out.

use reqwest::StatusCode;
use reqwest::multipart;

use super::Staff;
use crate::helpers::{TestApp, spawn_app, texts};

/// (verb, path as registered, a path to request).
const ROUTES: &[(&str, &str, &str)] = &[
    ("GET", "", "/admin"),
    ("GET", "/", "/admin/"),
    ("GET", "/products", "/admin/products?status=active"),
    ("POST", "/products", "/admin/products"),
    ("GET", "/products/new", "/admin/products/new"),
    ("GET", "/products/{id}", "/admin/products/1"),
    ("POST", "/products/{id}", "/admin/products/1"),
    ("POST", "/products/{id}/stock", "/admin/products/1/stock"),
    (
        "POST",
        "/products/{id}/tracking",
        "/admin/products/1/tracking",
    ),
    (
        "POST",
        "/products/{id}/archive",
        "/admin/products/1/archive",
    ),
    (
        "POST",
        "/products/{id}/restore",
        "/admin/products/1/restore",
    ),
    ("POST", "/products/{id}/delete", "/admin/products/1/delete"),
    ("GET", "/orders", "/admin/orders?status=paid"),
    ("GET", "/orders/export.csv", "/admin/orders/export.csv"),
    ("GET", "/orders/{number}", "/admin/orders/K7M2-9QXD"),
    (
        "POST",
        "/orders/{number}/refunds",
        "/admin/orders/K7M2-9QXD/refunds",
    ),
    (
        "POST",
        "/orders/{number}/shipment",
        "/admin/orders/K7M2-9QXD/shipment",
    ),
    ("GET", "/attention", "/admin/attention"),
    (
        "POST",
        "/attention/{id}/resolve",
        "/admin/attention/1/resolve",
    ),
    ("GET", "/emails", "/admin/emails?status=failed"),
    (
        "POST",
        "/emails/{id}/send-again",
        "/admin/emails/1/send-again",
    ),
    ("GET", "/settings", "/admin/settings"),
    ("POST", "/settings", "/admin/settings"),
    (
        "POST",
        "/settings/shipping-rates",
        "/admin/settings/shipping-rates",
    ),
    (
        "POST",
        "/settings/shipping-rates/{id}",
        "/admin/settings/shipping-rates/1",
    ),
    ("GET", "/audit", "/admin/audit"),
    ("POST", "/logout", "/admin/logout"),
];

/// The forms that carry a file (multipart).
const MULTIPART: &[&str] = &["/admin/products", "/admin/products/1"];

/// The sign-in page's own routes, open to everyone.
const OPEN: &[(&str, &str)] = &[("GET", "/login"), ("POST", "/login")];

/// The `/admin` scope's routes as `src/routes.rs` registers them.
fn registered() -> Vec<(String, String)> {
    let source =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/src/routes.rs")).unwrap();
    let scope = source
        .split("web::scope(\"/admin\")")
        .nth(1)
        .and_then(|rest| rest.split(".wrap(from_fn(staff::guard))").next())
        .expect("the /admin scope in src/routes.rs");
    // One route a piece, however rustfmt wrapped it.
    let scope: String = scope.split_whitespace().collect::<Vec<_>>().join(" ");
    scope
        .split(".route(")
        .skip(1)
        .filter_map(|route| {
            let rest = route.trim().strip_prefix('"')?;
            let (path, rest) = rest.split_once('"')?;
            let verb = if rest.contains("get()") {
                "GET"
            } else if rest.contains("post()") {
                "POST"
            } else {
                "OTHER"
            };
            Some((verb.to_owned(), path.to_owned()))
        })
        .collect()
}

#[test]
fn the_table_names_every_staff_route() {
    let mut listed: Vec<(String, String)> = ROUTES
        .iter()
        .map(|(verb, path, _)| (verb.to_string(), path.to_string()))
        .chain(
            OPEN.iter()
                .map(|(verb, path)| (verb.to_string(), path.to_string())),
        )
        .collect();
    let mut registered = registered();
    listed.sort();
    registered.sort();
    assert_eq!(
        listed, registered,
        "tests/api/admin/routes.rs must list every /admin route"
    );
}

async fn send(
    client: &reqwest::Client,
    app: &TestApp,
    verb: &str,
    path: &str,
    fields: &[(&str, &str)],
) -> reqwest::Response {
    let url = app.url(path);
    match verb {
        "GET" => client.get(url).send().await.unwrap(),
        _ => client.post(url).form(fields).send().await.unwrap(),
    }
}

fn assert_to_sign_in(response: &reqwest::Response, who: &str, verb: &str, path: &str) {
    assert_eq!(
        response.status(),
        StatusCode::SEE_OTHER,
        "{who} {verb} {path}"
    );
    let location = response.headers()["location"].to_str().unwrap();
    assert!(
        location.starts_with("/admin/login"),
        "{who} {verb} {path} went to {location}"
    );
    assert_eq!(
        response.headers()["cache-control"],
        "no-store",
        "{verb} {path}"
    );
}

#[tokio::test]
async fn every_staff_route_refuses_anonymous_clients_shoppers_and_forged_posts() {
    let app = spawn_app().await;
    let anonymous = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    // A shopper with a session of their own (a cart, a CSRF token).
    let shopper = app.new_browser();
    shopper
        .post_form(
            "/cart/items",
            &[("product", "aurora-ceramic-mug"), ("quantity", "1")],
        )
        .await;
    let shopper_token = shopper.csrf_token().await;
    let staff = Staff::signed_in(&app, "alice@example.com").await;
    let audit_before = audit_entries(&app).await;

    for (verb, _, path) in ROUTES {
        let response = send(&anonymous, &app, verb, path, &[]).await;
        assert_to_sign_in(&response, "anonymous", verb, path);
        let response = send(
            &shopper.client,
            &app,
            verb,
            path,
            &[("csrf_token", &shopper_token)],
        )
        .await;
        assert_to_sign_in(&response, "shopper", verb, path);
        if *verb == "POST" {
            // Signed in, but the form's token is missing, wrong, or the shopper's.
            for fields in [
                vec![],
                vec![("csrf_token", "forged")],
                vec![("csrf_token", shopper_token.as_str())],
            ] {
                let response = send(&staff.client, &app, verb, path, &fields).await;
                assert_eq!(
                    response.status(),
                    StatusCode::FORBIDDEN,
                    "staff {verb} {path} {fields:?}"
                );
                assert_eq!(response.headers()["cache-control"], "no-store");
            }
            // A multipart body without a token, like a forged product form.
            let form = multipart::Form::new()
                .text("name", "Forged")
                .text("price", "1")
                .text("currency", "USD");
            let response = staff
                .client
                .post(app.url(path))
                .multipart(form)
                .send()
                .await
                .unwrap();
            // Refused by the product forms' token check, and by the other
            // forms as not a form of theirs at all (415).
            let expected = if MULTIPART.contains(path) {
                StatusCode::FORBIDDEN
            } else {
                StatusCode::UNSUPPORTED_MEDIA_TYPE
            };
            assert_eq!(response.status(), expected, "staff multipart {path}");
        } else {
            let response = staff.get(path).await;
            assert_ne!(response.status(), StatusCode::SEE_OTHER, "staff GET {path}");
            assert!(
                response.status().is_success() || response.status() == StatusCode::NOT_FOUND,
                "staff GET {path}: {}",
                response.status()
            );
            assert_eq!(response.headers()["cache-control"], "no-store");
        }
    }
    // Nothing was changed: only the sign-in is in the audit log.
    assert_eq!(audit_entries(&app).await, audit_before);
    // The sign-in form itself needs its token too.
    let response = anonymous
        .post(app.url("/admin/login"))
        .form(&[
            ("email", "alice@example.com"),
            ("password", super::PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    // The shop's pages never set a staff cookie, nor the back office a shopper's.
    let response = staff.get("/admin/products").await;
    assert!(
        response
            .headers()
            .get_all("set-cookie")
            .iter()
            .all(|c| !c.to_str().unwrap().starts_with("storefront_session"))
    );
}

async fn audit_entries(app: &TestApp) -> i64 {
    use diesel::prelude::*;
    use diesel_async::RunQueryDsl;
    storefront::db::schema::audit_log::table
        .count()
        .get_result(&mut app.db().await)
        .await
        .unwrap()
}

/// A wrong address, a bad filter or a forged form inside the back office
/// answers with its status in the back office's look, navigation included
/// (not the shop's error page); signed out, the same paths go to sign-in.
#[tokio::test]
async fn errors_inside_the_back_office_are_shown_in_its_look() {
    let app = spawn_app().await;
    let staff = Staff::signed_in(&app, "alice@example.com").await;
    for (path, status, title) in [
        ("/admin/no-such-page", StatusCode::NOT_FOUND, "Not found"),
        (
            "/admin/orders/AAAA-AAAA",
            StatusCode::NOT_FOUND,
            "Not found",
        ),
        ("/admin/products/abc", StatusCode::NOT_FOUND, "Not found"),
        (
            "/admin/products?after=zzz",
            StatusCode::BAD_REQUEST,
            "Please check your input",
        ),
    ] {
        let response = staff.get(path).await;
        assert_eq!(response.status(), status, "{path}");
        assert_eq!(response.headers()["cache-control"], "no-store", "{path}");
        assert!(
            response.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/html"),
            "{path}"
        );
        let page = response.text().await.unwrap();
        assert_eq!(
            texts(&page, "title"),
            [format!("{title} · Storefront admin")],
            "{path}"
        );
        assert_eq!(texts(&page, "h1"), [title], "{path}");
        assert!(texts(&page, ".admin-email").contains(&"alice@example.com".to_owned()));
        assert!(texts(&page, ".admin-nav a").contains(&"Orders".to_owned()));
    }
    // A POST with a forged token: refused, in the same look.
    let response = staff
        .client
        .post(app.url("/admin/orders/AAAA-AAAA/shipment"))
        .form(&[("csrf_token", "forged")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let page = response.text().await.unwrap();
    assert!(texts(&page, "title")[0].ends_with("· Storefront admin"));

    let anonymous = Staff::new(&app);
    let response = anonymous.get("/admin/no-such-page").await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
}
