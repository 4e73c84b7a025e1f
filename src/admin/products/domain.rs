//! Products as the back office edits them: the rules of a product's
//! fields, its status (active, draft, archived), the list's filters, and
//! stock adjustments.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde_json::{Value, json};

use crate::catalog::domain::image_url;
use crate::db::schema::products;
use crate::ids::ProductSlug;
use crate::money::{Currency, Money, MoneyError};

/// Most units a product's stock may hold.
pub const MAX_STOCK: i32 = 1_000_000;
/// Highest price, in minor units: Stripe's largest charge (99,999,999).
pub const MAX_PRICE_MINOR: i64 = 99_999_999;
/// Longest description.
pub const MAX_DESCRIPTION_CHARS: usize = 5000;
/// Where a product without an uploaded image points.
pub const PLACEHOLDER_IMAGE: &str = "img/products/placeholder.svg";

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = products, check_for_backend(diesel::pg::Pg))]
pub struct AdminProduct {
    pub id: i64,
    pub slug: String,
    pub name: String,
    pub description: String,
    price_minor: i64,
    currency: Currency,
    pub image_path: String,
    /// `None`: unlimited.
    pub stock: Option<i32>,
    pub active: bool,
    pub archived_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
}

/// Where a product stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProductStatus {
    /// On sale.
    Active,
    /// Not on sale yet (or for now).
    Draft,
    /// Off sale for good; kept because orders name it.
    Archived,
}

impl ProductStatus {
    pub fn label(self) -> &'static str {
        match self {
            ProductStatus::Active => "Active",
            ProductStatus::Draft => "Draft",
            ProductStatus::Archived => "Archived",
        }
    }

    pub fn css(self) -> &'static str {
        match self {
            ProductStatus::Active => "active",
            ProductStatus::Draft => "draft",
            ProductStatus::Archived => "archived",
        }
    }
}

impl AdminProduct {
    pub fn price(&self) -> Money {
        Money::new(self.price_minor, self.currency).unwrap_or_else(|_| Money::zero(self.currency))
    }

    pub fn currency(&self) -> Currency {
        self.currency
    }

    pub fn status(&self) -> ProductStatus {
        match (self.active, self.archived_at) {
            (_, Some(_)) => ProductStatus::Archived,
            (true, None) => ProductStatus::Active,
            (false, None) => ProductStatus::Draft,
        }
    }

    pub fn image_url(&self) -> String {
        image_url(&self.image_path)
    }

    pub fn stock_label(&self) -> String {
        match self.stock {
            None => "Unlimited".to_owned(),
            Some(0) => "Out of stock".to_owned(),
            Some(n) => format!("{n} in stock"),
        }
    }

    /// What the audit log records of it.
    pub fn snapshot(&self) -> Value {
        json!({
            "name": self.name,
            "slug": self.slug,
            "description": self.description,
            "price": self.price().decimal(),
            "currency": self.currency.code(),
            "stock": self.stock,
            "active": self.active,
            "archived": self.archived_at.is_some(),
            "image": self.image_path,
        })
    }
}

/// The product list's tabs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ProductFilter {
    /// Everything but the archive.
    #[default]
    All,
    Active,
    Draft,
    Archived,
    /// Tracked stock at zero.
    OutOfStock,
}

impl ProductFilter {
    pub const ALL: [ProductFilter; 5] = [
        ProductFilter::All,
        ProductFilter::Active,
        ProductFilter::Draft,
        ProductFilter::Archived,
        ProductFilter::OutOfStock,
    ];

    pub fn parse(raw: &str) -> Option<ProductFilter> {
        ProductFilter::ALL.into_iter().find(|f| f.as_str() == raw)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ProductFilter::All => "",
            ProductFilter::Active => "active",
            ProductFilter::Draft => "draft",
            ProductFilter::Archived => "archived",
            ProductFilter::OutOfStock => "out_of_stock",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            ProductFilter::All => "All",
            ProductFilter::Active => "Active",
            ProductFilter::Draft => "Drafts",
            ProductFilter::Archived => "Archived",
            ProductFilter::OutOfStock => "Out of stock",
        }
    }
}

/// A product's fields as typed into its form.
#[derive(Debug, Clone, Default)]
pub struct ProductInput {
    pub name: String,
    pub slug: String,
    pub description: String,
    pub price: String,
    pub currency: String,
    /// Only when creating: the starting stock, unless unlimited.
    pub stock: String,
    pub unlimited: bool,
    pub active: bool,
}

/// A product's fields, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductDraft {
    pub name: String,
    /// `None`: made from the name.
    pub slug: Option<ProductSlug>,
    pub description: String,
    pub price: Money,
    pub active: bool,
}

/// A message per field the form shows next to it.
pub type FieldErrors = BTreeMap<&'static str, String>;

impl ProductInput {
    /// The fields, or what is wrong with each.
    pub fn check(&self) -> Result<ProductDraft, FieldErrors> {
        let mut errors = FieldErrors::new();
        let name = self.name.trim().to_owned();
        if name.is_empty() {
            errors.insert("name", "Give the product a name.".into());
        } else if name.chars().count() > 200 {
            errors.insert("name", "Names have at most 200 characters.".into());
        }
        let slug = match self.slug.trim() {
            "" => None,
            raw => match ProductSlug::parse(raw).filter(|s| valid_slug(s.as_str())) {
                Some(slug) => Some(slug),
                None => {
                    errors.insert(
                        "slug",
                        "Use lowercase letters, digits and single hyphens between them (at most 100).".into(),
                    );
                    None
                }
            },
        };
        let description = self.description.trim().to_owned();
        if description.chars().count() > MAX_DESCRIPTION_CHARS {
            errors.insert(
                "description",
                format!("Descriptions have at most {MAX_DESCRIPTION_CHARS} characters."),
            );
        }
        let price = match self.currency.parse::<Currency>() {
            Err(_) => {
                errors.insert("currency", "Choose USD, EUR, GBP or JPY.".into());
                None
            }
            Ok(currency) => match parse_price(&self.price, currency) {
                Ok(price) => Some(price),
                Err(message) => {
                    errors.insert("price", message);
                    None
                }
            },
        };
        match (errors.is_empty(), price) {
            (true, Some(price)) => Ok(ProductDraft {
                name,
                slug,
                description,
                price,
                active: self.active,
            }),
            _ => Err(errors),
        }
    }

    /// The starting stock of a new product: `None` for unlimited.
    pub fn starting_stock(&self) -> Result<Option<i32>, String> {
        if self.unlimited {
            return Ok(None);
        }
        parse_stock(&self.stock).map(Some)
    }
}

fn parse_price(raw: &str, currency: Currency) -> Result<Money, String> {
    let highest = Money::new(MAX_PRICE_MINOR, currency).unwrap_or_else(|_| Money::zero(currency));
    match Money::parse_decimal(raw, currency) {
        Ok(price) if price.minor() == 0 => Err("Prices start above zero.".into()),
        Ok(price) if price.minor() > MAX_PRICE_MINOR => Err(format!("Prices go up to {highest}.")),
        Ok(price) => Ok(price),
        Err(MoneyError::TooPrecise {
            currency,
            exponent: 0,
        }) => Err(format!(
            "{currency} prices are whole numbers, without decimals."
        )),
        Err(MoneyError::TooPrecise { currency, exponent }) => Err(format!(
            "{currency} prices have at most {exponent} decimal places."
        )),
        Err(MoneyError::Negative) => Err("Prices can't be negative.".into()),
        Err(MoneyError::Overflow) => Err(format!("Prices go up to {highest}.")),
        Err(_) if raw.trim().is_empty() => Err("Enter a price, like 24.00.".into()),
        Err(_) => Err("Enter a price as a number, like 24.00.".into()),
    }
}

/// A stock quantity: a whole number from 0 to `MAX_STOCK`.
pub fn parse_stock(raw: &str) -> Result<i32, String> {
    let raw = raw.trim();
    if raw.starts_with('-') {
        return Err("Stock can't be negative.".into());
    }
    match raw.parse::<i64>() {
        Ok(n) if (0..=i64::from(MAX_STOCK)).contains(&n) => Ok(n as i32),
        Ok(_) => Err(format!("Stock goes up to {MAX_STOCK}.")),
        Err(_) if raw.chars().all(|c| c.is_ascii_digit()) && !raw.is_empty() => {
            Err(format!("Stock goes up to {MAX_STOCK}."))
        }
        Err(_) => Err("Enter the stock as a whole number.".into()),
    }
}

/// A change of stock as typed: by how many units (+ or -), and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StockChange {
    pub delta: i32,
}

/// Parses "+5", "5" or "-3": a non-zero change of at most `MAX_STOCK` units.
pub fn parse_change(raw: &str) -> Result<StockChange, String> {
    let raw = raw.trim();
    let digits = raw.strip_prefix('+').unwrap_or(raw);
    match digits.parse::<i64>() {
        Ok(0) => Err("Enter how many units to add (like 5) or remove (like -3).".into()),
        Ok(n) if n.abs() <= i64::from(MAX_STOCK) => Ok(StockChange { delta: n as i32 }),
        Ok(_) => Err(format!(
            "Change the stock by at most {MAX_STOCK} units at a time."
        )),
        Err(_) => Err("Enter a whole number of units, like 5 or -3.".into()),
    }
}

/// The reason recorded with a stock change: 1 to 200 characters.
pub fn parse_reason(raw: &str) -> Result<String, String> {
    let reason = raw.trim();
    match reason.chars().count() {
        0 => Err("Say why the stock changes (a delivery, a recount, breakage...).".into()),
        n if n > 200 => Err("Reasons have at most 200 characters.".into()),
        _ => Ok(reason.to_owned()),
    }
}

/// The `products.slug` CHECK: words of lowercase letters and digits joined
/// by single hyphens.
fn valid_slug(slug: &str) -> bool {
    !slug.is_empty() && slug.split('-').all(|word| !word.is_empty())
}

/// A slug made from a name: "Café Crème 2" → "cafe-creme-2". Letters with
/// accents lose them; other characters separate words. At most 90
/// characters, leaving room for a "-2" should the slug be taken.
pub fn slugify(name: &str) -> String {
    let mut slug = String::new();
    let mut pending_hyphen = false;
    for c in name.chars().flat_map(char::to_lowercase) {
        let plain = match c {
            'a'..='z' | '0'..='9' => Some(c),
            'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' => Some('a'),
            'ç' => Some('c'),
            'è' | 'é' | 'ê' | 'ë' => Some('e'),
            'ì' | 'í' | 'î' | 'ï' => Some('i'),
            'ñ' => Some('n'),
            'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' => Some('o'),
            'ù' | 'ú' | 'û' | 'ü' => Some('u'),
            'ý' | 'ÿ' => Some('y'),
            'ß' => Some('s'),
            _ => None,
        };
        match plain {
            Some(c) => {
                if pending_hyphen && !slug.is_empty() {
                    slug.push('-');
                }
                pending_hyphen = false;
                if slug.len() >= 90 {
                    break;
                }
                slug.push(c);
            }
            None => pending_hyphen = true,
        }
    }
    if slug.is_empty() {
        "product".to_owned()
    } else {
        slug
    }
}

/// A recorded change of stock.
#[derive(Debug, Clone, Queryable)]
pub struct StockAdjustment {
    pub delta: i32,
    pub reason: String,
    pub stock_after: Option<i32>,
    pub created_at: DateTime<Utc>,
    /// Who made it.
    pub staff_email: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(price: &str, currency: &str) -> ProductInput {
        ProductInput {
            name: "Mug".into(),
            price: price.into(),
            currency: currency.into(),
            ..ProductInput::default()
        }
    }

    #[test]
    fn prices_are_exact_and_bounded() {
        assert_eq!(input("24.50", "USD").check().unwrap().price.minor(), 2450);
        assert_eq!(input("4300", "JPY").check().unwrap().price.minor(), 4300);
        for (price, currency, field) in [
            ("24.999", "USD", "price"),
            ("1.5", "JPY", "price"),
            ("-1", "USD", "price"),
            ("0", "USD", "price"),
            ("1000000", "USD", "price"),
            ("abc", "USD", "price"),
            ("", "USD", "price"),
            ("1", "XXX", "currency"),
        ] {
            let errors = input(price, currency).check().unwrap_err();
            assert!(errors.contains_key(field), "{price} {currency}: {errors:?}");
        }
    }

    #[test]
    fn stock_is_a_bounded_whole_number() {
        assert_eq!(parse_stock("12"), Ok(12));
        assert_eq!(parse_stock("0"), Ok(0));
        for bad in ["-1", "1000001", "99999999999999999999", "1.5", "", "ten"] {
            assert!(parse_stock(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_change("+5"), Ok(StockChange { delta: 5 }));
        assert_eq!(parse_change("-3"), Ok(StockChange { delta: -3 }));
        for bad in ["0", "", "1.5", "2000000", "-2000000"] {
            assert!(parse_change(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn slugs_come_from_names() {
        assert_eq!(slugify("Café Crème 2"), "cafe-creme-2");
        assert_eq!(slugify("  Pour-Over -- Set!  "), "pour-over-set");
        assert_eq!(slugify("日本"), "product");
        assert!(slugify(&"long name ".repeat(40)).len() <= 90);
        let mut named = input("1", "USD");
        named.slug = "Bad Slug".into();
        assert!(named.check().unwrap_err().contains_key("slug"));
        named.slug = "double--hyphen".into();
        assert!(named.check().unwrap_err().contains_key("slug"));
        named.slug = "good-slug-2".into();
        assert_eq!(named.check().unwrap().slug.unwrap().as_str(), "good-slug-2");
    }
}
