use actix_web::http::StatusCode;
use actix_web::{get, web};
use askama::Template;
use askama_web::WebTemplate;
use serde::Deserialize;

use std::sync::Arc;

use super::cache::Snapshot;
use super::models::Product;
use crate::error::AppError;
use crate::session::TypedSession;
use crate::startup::AppState;
use crate::web::{FormResponse, Layout, rerender};

#[derive(Template, WebTemplate)]
#[template(path = "catalog/index.html")]
pub struct CatalogPage {
    layout: Layout,
    catalog: Arc<Snapshot>,
}

#[get("/")]
pub async fn index(
    state: web::Data<AppState>,
    session: TypedSession,
) -> Result<CatalogPage, AppError> {
    Ok(CatalogPage {
        catalog: state.catalog.snapshot(&state.db).await?,
        layout: Layout::new(&state, &session)?,
    })
}

#[derive(Template, WebTemplate)]
#[template(path = "catalog/product.html")]
pub struct ProductPage {
    pub layout: Layout,
    pub product: Product,
    /// A problem with the submitted add-to-cart form, shown next to it.
    pub error: Option<String>,
    pub quantity: String,
}

impl ProductPage {
    pub async fn load(
        state: &AppState,
        session: &TypedSession,
        slug: &str,
    ) -> Result<ProductPage, AppError> {
        let product = state
            .catalog
            .snapshot(&state.db)
            .await?
            .find(slug)
            .cloned()
            .ok_or_else(product_not_found)?;
        Ok(ProductPage {
            layout: Layout::new(state, session)?,
            product,
            error: None,
            quantity: "1".into(),
        })
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
        state: &AppState,
        session: &TypedSession,
        message: String,
        status: StatusCode,
    ) -> FormResponse<ProductPage> {
        let mut page = ProductPage::load(state, session, &self.product).await?;
        page.error = Some(message);
        page.quantity = self.quantity.clone();
        rerender(page, status)
    }
}

pub fn product_not_found() -> AppError {
    AppError::NotFound("That product doesn't exist or is no longer available.".into())
}

#[get("/products/{slug}")]
pub async fn show(
    state: web::Data<AppState>,
    session: TypedSession,
    slug: web::Path<String>,
) -> Result<ProductPage, AppError> {
    ProductPage::load(&state, &session, &slug).await
}
