//! The catalog's pages: the shop's front page and product pages.

use std::sync::Arc;

use actix_web::web;
use askama::Template;
use askama_web::WebTemplate;

use super::cache::Snapshot;
use crate::state::AppState;
use crate::web::{AppError, Layout, ProductPage, TypedSession};

#[derive(Template, WebTemplate)]
#[template(path = "catalog/index.html")]
pub struct CatalogPage {
    layout: Layout,
    catalog: Arc<Snapshot>,
}

/// `GET /`: every product on sale.
pub async fn index(
    state: web::Data<AppState>,
    session: TypedSession,
) -> Result<CatalogPage, AppError> {
    Ok(CatalogPage {
        catalog: state.catalog.snapshot(&state.db).await?,
        layout: Layout::new(&session, state.test_mode())?,
    })
}

/// `GET /products/{slug}`.
pub async fn show(
    state: web::Data<AppState>,
    session: TypedSession,
    slug: web::Path<String>,
) -> Result<ProductPage, AppError> {
    let layout = Layout::new(&session, state.test_mode())?;
    ProductPage::load(&state.catalog, &state.db, layout, &slug).await
}
