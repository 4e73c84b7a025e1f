//! The catalog's pages: the front page (collections and all products),
//! collection pages, product pages, search, and what search engines read.

pub mod search;
pub mod seo;

use std::sync::Arc;

use actix_web::{HttpRequest, web};
use askama::Template;
use askama_web::WebTemplate;

use super::domain::{Collection, Product, Scope, Sort};
use super::paging::{Listing, Position};
use super::query::{BadQuery, ListingQuery};
use crate::state::AppState;
use crate::web::{AppError, Layout, PageMeta, ProductPage, TypedSession};

impl From<BadQuery> for AppError {
    fn from(error: BadQuery) -> Self {
        AppError::BadRequest(error.to_string())
    }
}

/// The cards of a page of products.
#[derive(Template)]
#[template(path = "catalog/grid.html")]
pub struct ProductGrid<'a> {
    pub products: &'a [Arc<Product>],
}

impl ProductGrid<'_> {
    pub fn html(&self) -> Result<Arc<str>, AppError> {
        self.render()
            .map(Arc::from)
            .map_err(|e| AppError::Unexpected(e.into()))
    }
}

/// A listing's cards, rendered once per cached page: a listing page then
/// costs about what a product page does, however many cards it has.
fn grid(listing: &Listing) -> Result<Arc<str>, AppError> {
    if let Some(html) = listing.rendered.get() {
        return Ok(html.clone());
    }
    let html = ProductGrid {
        products: &listing.products,
    }
    .html()?;
    Ok(listing.rendered.get_or_init(|| html).clone())
}

/// A sort choice above a listing.
pub struct SortLink {
    pub label: &'static str,
    pub href: String,
    pub current: bool,
}

/// The links around a listing: its sorts and its neighbouring pages.
pub struct ListingNav {
    pub path: String,
    pub sorts: Vec<SortLink>,
    pub prev: Option<String>,
    pub next: Option<String>,
}

impl ListingNav {
    fn new(path: &str, listing: &Listing) -> ListingNav {
        let link = |position| format!("{path}{}", ListingQuery::link(listing.sort, position));
        ListingNav {
            path: path.to_owned(),
            sorts: Sort::ALL
                .into_iter()
                .map(|sort| SortLink {
                    label: sort.label(),
                    href: format!("{path}{}", ListingQuery::link(sort, Position::First)),
                    current: sort == listing.sort,
                })
                .collect(),
            prev: listing.prev.map(|cursor| link(Position::Before(cursor))),
            next: listing.next.map(|cursor| link(Position::After(cursor))),
        }
    }

    /// The page's canonical URL, title suffix and neighbours, under `base_url`.
    fn meta(
        &self,
        base_url: &str,
        query: &ListingQuery,
        title: &str,
        description: &str,
    ) -> PageMeta {
        // A page with none before it is the first page, however it was reached.
        let position = if self.prev.is_some() {
            query.position
        } else {
            Position::First
        };
        let here = format!("{}{}", self.path, ListingQuery::link(query.sort, position));
        PageMeta {
            prev: self.prev.as_ref().map(|prev| format!("{base_url}{prev}")),
            next: self.next.as_ref().map(|next| format!("{base_url}{next}")),
            ..PageMeta::new(title, description, format!("{base_url}{here}"))
        }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "catalog/index.html")]
pub struct CatalogPage {
    layout: Layout,
    meta: PageMeta,
    collections: Arc<[Collection]>,
    listing: Arc<Listing>,
    grid: Arc<str>,
    nav: ListingNav,
}

/// `GET /?sort=…&after=…`: the collections, and the products on sale a page at a time.
pub async fn index(
    state: web::Data<AppState>,
    session: TypedSession,
    request: HttpRequest,
) -> Result<CatalogPage, AppError> {
    let query = ListingQuery::parse(request.query_string())?;
    let catalog = &state.catalog;
    let listing = catalog
        .listing(&state.reads, Scope::All, query.sort, query.position)
        .await?;
    let nav = ListingNav::new("/", &listing);
    Ok(CatalogPage {
        meta: nav.meta(
            catalog.base_url(),
            &query,
            "Shop",
            "Thoughtfully made goods: small-batch pieces for the desk, the kitchen and the trail.",
        ),
        collections: catalog.collections(&state.reads).await?,
        layout: Layout::new(&session, state.test_mode())?,
        grid: grid(&listing)?,
        listing,
        nav,
    })
}

#[derive(Template, WebTemplate)]
#[template(path = "catalog/collection.html")]
pub struct CollectionPage {
    layout: Layout,
    meta: PageMeta,
    collection: Collection,
    listing: Arc<Listing>,
    grid: Arc<str>,
    nav: ListingNav,
}

fn collection_not_found() -> AppError {
    AppError::NotFound("That collection doesn't exist.".into())
}

/// `GET /collections/{slug}?sort=…&after=…`.
pub async fn collection(
    state: web::Data<AppState>,
    session: TypedSession,
    slug: web::Path<String>,
    request: HttpRequest,
) -> Result<CollectionPage, AppError> {
    let query = ListingQuery::parse(request.query_string())?;
    let catalog = &state.catalog;
    let collection = catalog
        .collections(&state.reads)
        .await?
        .iter()
        .find(|collection| collection.slug == *slug)
        .cloned()
        .ok_or_else(collection_not_found)?;
    let listing = catalog
        .listing(
            &state.reads,
            Scope::Collection(collection.id),
            query.sort,
            query.position,
        )
        .await?;
    let nav = ListingNav::new(&collection.path(), &listing);
    let description = if collection.description.is_empty() {
        format!("{} at Storefront.", collection.name)
    } else {
        collection.description.clone()
    };
    Ok(CollectionPage {
        meta: nav.meta(catalog.base_url(), &query, &collection.name, &description),
        layout: Layout::new(&session, state.test_mode())?,
        collection,
        grid: grid(&listing)?,
        listing,
        nav,
    })
}

/// `GET /products/{slug}`.
pub async fn show(
    state: web::Data<AppState>,
    session: TypedSession,
    slug: web::Path<String>,
) -> Result<ProductPage, AppError> {
    let layout = Layout::new(&session, state.test_mode())?;
    ProductPage::load(&state.catalog, &state.reads, layout, &slug).await
}
