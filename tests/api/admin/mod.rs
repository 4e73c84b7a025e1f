//! The back office through the real stack: staff accounts made as the
//! command line makes them, a staff member's own browser (cookies, CSRF
//! tokens from the pages), orders paid on the simulator.

mod auth;
mod emails;
mod orders;
mod products;
mod routes;
mod settings;

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use reqwest::StatusCode;
use reqwest::redirect::Policy;
use storefront::admin::auth::accounts;
use storefront::db::schema::orders as order_rows;

use crate::helpers::{CARD_OK, TestApp, form_value, pay};

pub const PASSWORD: &str = "Plum-Kettle-Orbit-42";

/// A staff account, as `storefront admin create` makes it.
pub async fn create_staff(app: &TestApp, email: &str) {
    accounts::create(&mut app.db().await, email, PASSWORD.to_owned())
        .await
        .expect("creating a staff account");
}

/// A staff member's browser: cookies on, redirects off.
pub struct Staff {
    pub client: reqwest::Client,
    address: String,
}

impl Staff {
    pub fn new(app: &TestApp) -> Staff {
        Staff::at(&app.address)
    }

    /// A browser for the back office at `address` (one node of several).
    pub fn at(address: &str) -> Staff {
        Staff {
            client: reqwest::Client::builder()
                .cookie_store(true)
                .redirect(Policy::none())
                .build()
                .unwrap(),
            address: address.to_owned(),
        }
    }

    /// A new account, signed in.
    pub async fn signed_in(app: &TestApp, email: &str) -> Staff {
        create_staff(app, email).await;
        let staff = Staff::new(app);
        let response = staff.sign_in(email, PASSWORD).await;
        assert_eq!(
            response.status(),
            StatusCode::SEE_OTHER,
            "{}",
            response.text().await.unwrap()
        );
        staff
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.unwrap()
    }

    pub async fn page(&self, path: &str) -> (StatusCode, String) {
        let response = self.get(path).await;
        (response.status(), response.text().await.unwrap())
    }

    pub async fn sign_in(&self, email: &str, password: &str) -> reqwest::Response {
        let (_, page) = self.page("/admin/login").await;
        let token = form_value(&page, "csrf_token").expect("a sign-in form");
        self.client
            .post(self.url("/admin/login"))
            .form(&[
                ("email", email),
                ("password", password),
                ("csrf_token", &token),
                ("next", ""),
            ])
            .send()
            .await
            .unwrap()
    }

    /// The session's CSRF token, from a page's form.
    pub async fn csrf(&self) -> String {
        let (status, page) = self.page("/admin/products").await;
        assert_eq!(status, StatusCode::OK);
        form_value(&page, "csrf_token").expect("a csrf_token field")
    }

    /// POSTs a form with the session's CSRF token.
    pub async fn post(&self, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        let token = self.csrf().await;
        let mut all = fields.to_vec();
        all.push(("csrf_token", &token));
        self.client
            .post(self.url(path))
            .form(&all)
            .send()
            .await
            .unwrap()
    }
}

/// An order paid on the simulator: (order id, public number as shown).
pub async fn paid_order(app: &TestApp, slug: &str, quantity: &str) -> (i64, String) {
    let shopper = app.new_browser();
    let response = shopper
        .post_form("/cart/items", &[("product", slug), ("quantity", quantity)])
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let response = shopper.post_form("/checkout", &[]).await;
    assert_eq!(
        response.status(),
        StatusCode::SEE_OTHER,
        "{}",
        response.text().await.unwrap()
    );
    let payment_url = response.headers()["location"].to_str().unwrap().to_owned();
    let paid = pay(&payment_url, CARD_OK).await;
    let success = paid.headers()["location"].to_str().unwrap().to_owned();
    let back = shopper.client.get(success).send().await.unwrap();
    assert_eq!(back.status(), StatusCode::SEE_OTHER);
    let (id, number): (i64, String) = order_rows::table
        .order_by(order_rows::id.desc())
        .select((order_rows::id, order_rows::number))
        .first(&mut app.db().await)
        .await
        .unwrap();
    (id, format!("{}-{}", &number[..4], &number[4..]))
}
