//! `GET /search?q=…`: the search page and its results.

use std::sync::Arc;

use actix_web::{HttpRequest, web};
use askama::Template;
use askama_web::WebTemplate;

use super::ProductGrid;
use crate::catalog::domain::Collection;
use crate::catalog::query::{SearchQuery, url_encode};
use crate::catalog::search::SearchResults;
use crate::state::AppState;
use crate::web::{AppError, Layout, PageMeta, TypedSession};

#[derive(Template, WebTemplate)]
#[template(path = "catalog/search.html")]
pub struct SearchPage {
    layout: Layout,
    meta: PageMeta,
    query: SearchQuery,
    /// The search text, encoded for a link.
    query_param: String,
    results: SearchResults,
    grid: Arc<str>,
    next: Option<String>,
    /// Suggested when nothing matched.
    collections: Arc<[Collection]>,
}

pub async fn search(
    state: web::Data<AppState>,
    session: TypedSession,
    request: HttpRequest,
) -> Result<SearchPage, AppError> {
    let query = SearchQuery::parse(request.query_string())?;
    let results = state.catalog.search(&state.reads, &query).await?;
    let collections = if results.products.is_empty() {
        state.catalog.collections(&state.reads).await?
    } else {
        Arc::from([])
    };
    let query_param = url_encode(&query.text);
    let next = results
        .next
        .map(|cursor| format!("/search{}", query.next_link(cursor)));
    let base_url = state.catalog.base_url();
    let title = if query.text.is_empty() {
        "Search".to_owned()
    } else {
        format!("Search: {}", query.text)
    };
    let meta = PageMeta {
        noindex: true,
        next: next.as_ref().map(|next| format!("{base_url}{next}")),
        ..PageMeta::new(
            &title,
            "Search Storefront's products.",
            format!("{base_url}/search?q={query_param}"),
        )
    };
    Ok(SearchPage {
        layout: Layout::new(&session, state.test_mode())?,
        meta,
        query,
        query_param,
        grid: results.cards(|products| ProductGrid { products }.html())?,
        results,
        next,
        collections,
    })
}
