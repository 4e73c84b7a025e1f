//! The pages that more than one feature renders: the product page (shown,
//! and shown again with a message by Add to cart and Buy now) and the cart
//! page (shown, and shown again by cart changes and checkout).

use std::sync::Arc;

use actix_web::http::StatusCode;
use askama::Template;
use askama_web::WebTemplate;
use serde::Deserialize;
use uuid::Uuid;

use super::{AppError, FormResponse, Layout, PageMeta, TypedSession, json_ld, rerender};
use crate::cart::domain::{CartLine, CartSummary};
use crate::cart::store as cart_store;
use crate::catalog::cache::Catalog;
use crate::catalog::domain::{Availability, Product};
use crate::db::{DbPool, Reads};
use crate::ids::{CartItemId, ProductSlug};
use crate::money::Money;
use crate::shop_settings::domain::{ShippingOutlook, TaxNote};
use crate::shop_settings::store as settings_store;

/// Shown when a cart holds products priced in different currencies (one was
/// repriced after it was added, or two adds raced): it cannot be paid as one.
pub const MIXED_CURRENCIES: &str = "Your cart has items priced in different currencies, which \
     can't be paid together. Please remove the ones you don't want to buy now.";

/// How a product's availability reads on its badge.
pub fn availability_label(availability: Availability) -> String {
    match availability {
        Availability::Unlimited | Availability::InStock(_) => "In stock".into(),
        Availability::LowStock(n) => format!("Only {n} left"),
        Availability::SoldOut => "Sold out".into(),
    }
}

/// The badge's style in the stylesheet.
pub fn availability_class(availability: Availability) -> &'static str {
    match availability {
        Availability::Unlimited | Availability::InStock(_) => "in-stock",
        Availability::LowStock(_) => "low-stock",
        Availability::SoldOut => "sold-out",
    }
}

pub fn product_not_found() -> AppError {
    AppError::NotFound("That product doesn't exist or is no longer available.".into())
}

#[derive(Template, WebTemplate)]
#[template(path = "catalog/product.html")]
pub struct ProductPage {
    pub layout: Layout,
    pub meta: PageMeta,
    pub product: Arc<Product>,
    /// A problem with the submitted add-to-cart form, shown next to it.
    pub error: Option<String>,
    pub quantity: String,
}

impl ProductPage {
    /// The page of the product on sale with `slug` (404 otherwise), from the
    /// catalog in memory.
    pub async fn load(
        catalog: &Catalog,
        db: &Reads,
        layout: Layout,
        slug: &str,
    ) -> Result<ProductPage, AppError> {
        let slug = ProductSlug::parse(slug).ok_or_else(product_not_found)?;
        let product = catalog
            .product(db, &slug)
            .await?
            .ok_or_else(product_not_found)?;
        Ok(ProductPage {
            layout,
            meta: product_meta(&product, catalog.base_url()),
            product,
            error: None,
            quantity: "1".into(),
        })
    }
}

/// The product page's title, description, preview and schema.org `Product`
/// (price as an exact decimal string, currency, availability).
fn product_meta(product: &Product, base_url: &str) -> PageMeta {
    let url = format!("{base_url}{}", product.path());
    let image = format!("{base_url}{}", product.image_url());
    let availability = if product.sold_out() {
        "https://schema.org/OutOfStock"
    } else {
        "https://schema.org/InStock"
    };
    let price = product.price();
    let data = serde_json::json!({
        "@context": "https://schema.org",
        "@type": "Product",
        "name": product.name,
        "description": product.description,
        "sku": product.slug,
        "image": image,
        "url": url,
        "offers": {
            "@type": "Offer",
            "url": url,
            "price": price.decimal(),
            "priceCurrency": price.currency().code(),
            "availability": availability,
        },
    });
    PageMeta {
        image: Some(image),
        og_type: "product",
        json_ld: Some(json_ld(&data)),
        ..PageMeta::new(&product.name, &product.description, url)
    }
}

/// The product page's buy form as submitted: "Add to cart" and "Buy now"
/// share these fields.
#[derive(Deserialize)]
pub struct ProductForm {
    #[serde(default)]
    pub product: String,
    #[serde(default)]
    pub quantity: String,
}

impl ProductForm {
    /// The product page again, with the submitted quantity and what was wrong with it.
    pub async fn rerender(
        &self,
        catalog: &Catalog,
        db: &Reads,
        layout: Layout,
        message: String,
        status: StatusCode,
    ) -> FormResponse<ProductPage> {
        let mut page = ProductPage::load(catalog, db, layout, &self.product).await?;
        page.error = Some(message);
        page.quantity = self.quantity.clone();
        rerender(page, status)
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "cart/show.html")]
pub struct CartPage {
    layout: Layout,
    cart: CartSummary,
    /// A problem with a submitted line form: (cart item id, message).
    error: Option<(CartItemId, String)>,
    /// A problem with the whole cart (checkout could not start).
    alert: Option<String>,
    /// What checkout will add, as far as it is known before the address:
    /// none when nothing can be checked out.
    terms: Option<CheckoutTerms>,
}

/// What the merchant's settings make of this cart at checkout.
struct CheckoutTerms {
    shipping: ShippingOutlook,
    tax: TaxNote,
    promotion_codes: bool,
}

impl CartPage {
    /// The session's cart as it is now; its item count is remembered for
    /// the header.
    pub async fn load(
        db: &DbPool,
        session: &TypedSession,
        test_mode: bool,
    ) -> Result<CartPage, AppError> {
        let lines = match session.cart_id() {
            Some(cart_id) => cart_lines(db, cart_id).await?,
            None => Vec::new(),
        };
        session.set_cart_count(lines.iter().map(|line| i64::from(line.quantity)).sum())?;
        let cart = CartSummary::new(lines).map_err(anyhow::Error::from)?;
        let terms = match cart.subtotal {
            Some(subtotal) => Some(checkout_terms(db, &cart, subtotal).await?),
            None => None,
        };
        Ok(CartPage {
            layout: Layout::new(session, test_mode)?,
            cart,
            error: None,
            alert: None,
            terms,
        })
    }

    /// "Shipping: from $5.00, free over $75.00 — calculated at checkout."
    fn shipping_note(&self) -> Option<String> {
        Some(match self.terms.as_ref()?.shipping {
            ShippingOutlook::NotNeeded => "Nothing in your cart needs shipping.".into(),
            ShippingOutlook::Free => "Shipping: free.".into(),
            ShippingOutlook::From {
                from,
                free_over: Some(free_over),
            } => format!("Shipping: from {from}, free over {free_over} — calculated at checkout."),
            ShippingOutlook::From {
                from,
                free_over: None,
            } => format!("Shipping: from {from}, calculated at checkout."),
        })
    }

    /// What the total will do with tax: never more than checkout does.
    fn tax_note(&self) -> Option<&'static str> {
        Some(match self.terms.as_ref()?.tax {
            TaxNote::Included => "Prices include tax.",
            TaxNote::AddedAtCheckout => "Taxes calculated at checkout.",
            TaxNote::NoneAdded => "No tax is added at checkout.",
        })
    }

    fn takes_promotion_codes(&self) -> bool {
        self.terms
            .as_ref()
            .is_some_and(|terms| terms.promotion_codes)
    }

    /// The error message for this cart line's form, if any.
    fn error_for(&self, item_id: &i64) -> Option<&str> {
        self.error
            .as_ref()
            .filter(|(id, _)| id.get() == *item_id)
            .map(|(_, message)| message.as_str())
    }

    /// The cart again, with a message next to one line's form.
    pub async fn with_error(
        db: &DbPool,
        session: &TypedSession,
        test_mode: bool,
        item_id: CartItemId,
        message: String,
        status: StatusCode,
    ) -> FormResponse<CartPage> {
        let mut page = CartPage::load(db, session, test_mode).await?;
        page.error = Some((item_id, message));
        rerender(page, status)
    }

    /// The cart again, with a message about the whole cart.
    pub async fn with_alert(
        db: &DbPool,
        session: &TypedSession,
        test_mode: bool,
        message: String,
        status: StatusCode,
    ) -> FormResponse<CartPage> {
        let mut page = CartPage::load(db, session, test_mode).await?;
        page.alert = Some(message);
        rerender(page, status)
    }
}

/// The merchant's settings for a cart whose purchasable items come to `subtotal`.
async fn checkout_terms(
    db: &DbPool,
    cart: &CartSummary,
    subtotal: Money,
) -> Result<CheckoutTerms, AppError> {
    let mut conn = db.get().await?;
    let settings = settings_store::settings(&mut conn).await?;
    let rates = settings_store::shipping_rates(&mut conn).await?;
    let needs_shipping = cart
        .lines
        .iter()
        .any(|priced| priced.line.purchasable() && priced.line.product.requires_shipping);
    Ok(CheckoutTerms {
        shipping: ShippingOutlook::of(&rates, subtotal, needs_shipping),
        tax: settings.tax_note(),
        promotion_codes: settings.promotion_codes,
    })
}

/// The cart's lines, read through `db`.
async fn cart_lines(db: &DbPool, cart_id: Uuid) -> Result<Vec<CartLine>, AppError> {
    Ok(cart_store::lines(&mut *db.get().await?, cart_id).await?)
}
