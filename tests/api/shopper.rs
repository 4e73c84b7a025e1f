//! The shopper's side of the tests: a browser with cookies, paying on the
//! simulator's hosted page, and reading what pages say.

use reqwest::StatusCode;
use reqwest::redirect::Policy;
use scraper::{Html, Selector};

/// A shopper's browser (cookies on, redirects off) on the app at `address`
/// (a node, or a load balancer in front of several).
pub struct Browser {
    pub client: reqwest::Client,
    address: String,
}

impl Browser {
    pub fn at(address: &str) -> Browser {
        Browser {
            client: reqwest::Client::builder()
                .cookie_store(true)
                .redirect(Policy::none())
                .build()
                .unwrap(),
            address: address.to_owned(),
        }
    }

    /// The body of a page.
    pub async fn page(&self, path: &str) -> String {
        self.client
            .get(format!("{}{path}", self.address))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    pub async fn csrf_token(&self) -> String {
        let page = self.page("/products/aurora-ceramic-mug").await;
        form_value(&page, "csrf_token").unwrap()
    }

    pub async fn post_form(&self, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        let token = self.csrf_token().await;
        let mut all = fields.to_vec();
        all.push(("csrf_token", &token));
        self.client
            .post(format!("{}{}", self.address, path))
            .form(&all)
            .send()
            .await
            .unwrap()
    }
}

/// Pays on the simulator's hosted page like a shopper: loads the page, then
/// submits its form with `card`. Returns the simulator's answer.
pub async fn pay(payment_url: &str, card: &str) -> reqwest::Response {
    let browser = reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .unwrap();
    let page = browser.get(payment_url).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK, "the payment page loads");
    let page = page.text().await.unwrap();
    let html = Html::parse_document(&page);
    let form = html
        .select(&Selector::parse("form").unwrap())
        .next()
        .expect("a payment form");
    let action = form
        .value()
        .attr("action")
        .unwrap_or(payment_url)
        .to_owned();
    browser
        .post(action)
        .form(&[
            ("email", "shopper@example.com"),
            ("card_number", card),
            ("exp_month", "12"),
            ("exp_year", "34"),
            ("cvc", "123"),
            ("name", "Sam Shopper"),
        ])
        .send()
        .await
        .unwrap()
}

pub const CARD_OK: &str = "4242 4242 4242 4242";
pub const CARD_DECLINED: &str = "4000 0000 0000 0002";

/// The ids of the cart lines on a cart page, in order.
pub fn cart_item_ids(page: &str) -> Vec<String> {
    let html = Html::parse_document(page);
    let rows = Selector::parse("tbody tr").unwrap();
    html.select(&rows)
        .filter_map(|row| row.value().id()?.strip_prefix("item-").map(str::to_owned))
        .collect()
}

pub fn form_value(page: &str, name: &str) -> Option<String> {
    let html = Html::parse_document(page);
    let selector = Selector::parse(&format!("input[name=\"{name}\"]")).unwrap();
    html.select(&selector)
        .next()
        .and_then(|input| input.value().attr("value").map(str::to_owned))
}

/// Text of every element matching `selector`, whitespace-collapsed.
pub fn texts(page: &str, selector: &str) -> Vec<String> {
    let html = Html::parse_document(page);
    let selector = Selector::parse(selector).unwrap();
    html.select(&selector)
        .map(|e| {
            e.text()
                .collect::<Vec<_>>()
                .join(" ")
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect()
}

/// How many of `statuses` are `status`.
pub fn count(statuses: &[StatusCode], status: StatusCode) -> usize {
    statuses.iter().filter(|s| **s == status).count()
}

/// Asserts the answer's status and that its body mentions `needle`.
pub async fn assert_answer_mentions(response: reqwest::Response, status: StatusCode, needle: &str) {
    assert_eq!(response.status(), status);
    let body = response.text().await.unwrap();
    assert!(body.contains(needle), "no {needle:?} in {body}");
}

pub fn assert_redirect_to(response: &reqwest::Response, location: &str) {
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(response.headers()["location"], location);
}
