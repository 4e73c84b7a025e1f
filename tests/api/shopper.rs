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

/// What a shopper fills in on the simulator's hosted page. `Default` (or
/// `PageForm::card(..)`) pays by card and ships to San Francisco, CA with the
/// first shipping option; the fields a page does not ask for are ignored.
#[derive(Debug, Clone, Copy)]
pub struct PageForm<'a> {
    pub card: &'a str,
    pub country: &'a str,
    pub state: &'a str,
    pub postal_code: &'a str,
    pub city: &'a str,
    /// The shipping option whose label starts with this (`"Express"`);
    /// `None` leaves the first one checked.
    pub shipping: Option<&'a str>,
    pub promotion_code: Option<&'a str>,
    /// A test bank account instead of the card.
    pub bank: Option<Bank<'a>>,
}

/// The simulator's test bank debits: they settle later.
#[derive(Debug, Clone, Copy)]
pub enum Bank<'a> {
    /// ACH Direct Debit (usd): routing 110000000 and this account.
    Ach(&'a str),
    /// SEPA Direct Debit (eur): this IBAN.
    Sepa(&'a str),
}

/// ACH test accounts: settles, then fails.
pub const ACH_SUCCEEDS: &str = "000123456789";
pub const ACH_FAILS: &str = "000111111116";
/// A SEPA test IBAN that fails.
pub const IBAN_FAILS: &str = "DE62370400440532013001";

impl Default for PageForm<'_> {
    fn default() -> Self {
        PageForm {
            card: CARD_OK,
            country: "US",
            state: "CA",
            postal_code: "94105",
            city: "San Francisco",
            shipping: None,
            promotion_code: None,
            bank: None,
        }
    }
}

impl<'a> PageForm<'a> {
    pub fn card(card: &'a str) -> PageForm<'a> {
        PageForm {
            card,
            ..PageForm::default()
        }
    }

    /// Ships to `country` (a state or region, and a postal code that suits it).
    pub fn to(country: &'a str, state: &'a str, postal_code: &'a str) -> PageForm<'a> {
        PageForm {
            country,
            state,
            postal_code,
            city: "Townsville",
            ..PageForm::default()
        }
    }
}

/// The hosted page's form as loaded: where it posts, its shipping options
/// (value and label) and whether it asks for an address.
pub struct HostedPage {
    pub action: String,
    pub shipping_options: Vec<(String, String)>,
    pub asks_address: bool,
    /// The "Pay $36.00" heading's total, as shown.
    pub total: String,
}

impl HostedPage {
    pub fn parse(page: &str, payment_url: &str) -> HostedPage {
        let html = Html::parse_document(page);
        let select = |css: &str| Selector::parse(css).unwrap();
        let form = html.select(&select("form")).next().expect("a payment form");
        let shipping_options = html
            .select(&select("input[name=shipping_rate]"))
            .map(|input| {
                let id = input.value().id().unwrap_or_default();
                let label = html
                    .select(&select(&format!("label[for=\"{id}\"]")))
                    .next()
                    .map(|l| l.text().collect::<String>())
                    .unwrap_or_default();
                let value = input.value().attr("value").unwrap_or_default();
                (value.to_owned(), label.trim().to_owned())
            })
            .collect();
        HostedPage {
            action: form
                .value()
                .attr("action")
                .unwrap_or(payment_url)
                .to_owned(),
            shipping_options,
            asks_address: html.select(&select("#shipping_line1")).next().is_some(),
            total: texts(page, "h1 .total").concat(),
        }
    }
}

/// Loads the hosted page at `payment_url`.
pub async fn hosted_page(payment_url: &str) -> HostedPage {
    let page = reqwest::get(payment_url).await.unwrap();
    assert_eq!(page.status(), StatusCode::OK, "the payment page loads");
    HostedPage::parse(&page.text().await.unwrap(), payment_url)
}

/// Pays on the simulator's hosted page like a shopper: loads the page, then
/// submits its form with `card`, shipped to the default address. Returns
/// the simulator's answer.
pub async fn pay(payment_url: &str, card: &str) -> reqwest::Response {
    pay_as(payment_url, &PageForm::card(card)).await
}

/// Pays on the hosted page with what `form` says (as API tests post it,
/// without `shown_total`: the page charges what the choices come to).
pub async fn pay_as(payment_url: &str, form: &PageForm<'_>) -> reqwest::Response {
    submit(payment_url, form, "pay").await
}

/// Submits the hosted page's form: `step` is `pay`, or `update` (the
/// promotion code's Apply: the page again with the new totals).
pub async fn submit(payment_url: &str, form: &PageForm<'_>, step: &str) -> reqwest::Response {
    let page = hosted_page(payment_url).await;
    let mut fields: Vec<(&str, String)> = vec![
        ("email", "shopper@example.com".into()),
        ("shipping_name", "Sam Shopper".into()),
        ("shipping_line1", "1 Market St".into()),
        ("shipping_city", form.city.into()),
        ("shipping_state", form.state.into()),
        ("shipping_postal_code", form.postal_code.into()),
        ("shipping_country", form.country.into()),
        ("billing_country", form.country.into()),
        ("billing_state", form.state.into()),
        ("billing_postal_code", form.postal_code.into()),
        ("step", step.into()),
    ];
    if let Some(wanted) = form.shipping {
        let (value, _) = page
            .shipping_options
            .iter()
            .find(|(_, label)| label.starts_with(wanted))
            .unwrap_or_else(|| panic!("no {wanted:?} option in {:?}", page.shipping_options));
        fields.push(("shipping_rate", value.clone()));
    }
    if let Some(code) = form.promotion_code {
        fields.push(("promotion_code", code.into()));
    }
    match form.bank {
        None => fields.extend([
            ("card_number", form.card.into()),
            ("exp_month", "12".into()),
            ("exp_year", "34".into()),
            ("cvc", "123".into()),
            ("name", "Sam Shopper".into()),
        ]),
        Some(Bank::Ach(account)) => fields.extend([
            ("payment_method", "us_bank_account".into()),
            ("routing_number", "110000000".into()),
            ("account_number", account.into()),
        ]),
        Some(Bank::Sepa(iban)) => fields.extend([
            ("payment_method", "sepa_debit".into()),
            ("iban", iban.into()),
        ]),
    }
    reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .unwrap()
        .post(page.action)
        .form(&fields)
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
