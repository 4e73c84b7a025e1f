//! What search engines read besides the pages: `/robots.txt` and the
//! sitemaps. Up to 50,000 URLs (the sitemap protocol's limit per file)
//! `/sitemap.xml` lists them all; beyond, it is a sitemap index of
//! `/sitemaps/pages.xml` (the front page and collections) and
//! `/sitemaps/products-N.xml`, 50,000 products each.

use std::fmt::Write;

use actix_web::http::header::ContentType;
use actix_web::{HttpResponse, web};

use crate::catalog::store;
use crate::state::AppState;
use crate::web::AppError;

/// URLs in one sitemap file, at most (the protocol's limit).
pub const SITEMAP_URLS: i64 = 50_000;

const XML_HEAD: &str = r#"<?xml version="1.0" encoding="UTF-8"?>"#;
const NAMESPACE: &str = "http://www.sitemaps.org/schemas/sitemap/0.9";

/// `GET /robots.txt`: the shop is open to crawlers; carts, checkout,
/// orders, the back office and the API are not.
pub async fn robots(state: web::Data<AppState>) -> HttpResponse {
    let base_url = state.catalog.base_url();
    let body = format!(
        "User-agent: *\nAllow: /\nDisallow: /cart\nDisallow: /checkout\nDisallow: /orders\n\
         Disallow: /admin\nDisallow: /api\n\nSitemap: {base_url}/sitemap.xml\n"
    );
    HttpResponse::Ok()
        .content_type(ContentType::plaintext())
        .body(body)
}

/// `GET /sitemap.xml`.
pub async fn sitemap(state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    let base_url = state.catalog.base_url();
    let collections = state.catalog.collections(&state.reads).await?;
    let mut conn = state.reads.get().await?;
    let products = store::active_count(&mut conn).await?;
    let pages = 1 + collections.len() as i64;
    if products + pages <= SITEMAP_URLS {
        let mut urls = page_urls(base_url, &collections);
        let slugs = store::active_slugs(&mut conn, 0, SITEMAP_URLS).await?;
        urls.extend(
            slugs
                .iter()
                .map(|slug| format!("{base_url}/products/{slug}")),
        );
        return Ok(xml(urlset(&urls)));
    }
    let files = (products + SITEMAP_URLS - 1) / SITEMAP_URLS;
    let mut body = format!("{XML_HEAD}\n<sitemapindex xmlns=\"{NAMESPACE}\">\n");
    let children =
        std::iter::once("pages".to_owned()).chain((1..=files).map(|n| format!("products-{n}")));
    for child in children {
        let _ = writeln!(
            body,
            "  <sitemap><loc>{}</loc></sitemap>",
            escape(&format!("{base_url}/sitemaps/{child}.xml"))
        );
    }
    body.push_str("</sitemapindex>\n");
    Ok(xml(body))
}

/// `GET /sitemaps/{file}`: a child of the sitemap index.
pub async fn child_sitemap(
    state: web::Data<AppState>,
    file: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let base_url = state.catalog.base_url();
    if file.as_str() == "pages.xml" {
        let collections = state.catalog.collections(&state.reads).await?;
        return Ok(xml(urlset(&page_urls(base_url, &collections))));
    }
    let number: i64 = file
        .strip_prefix("products-")
        .and_then(|rest| rest.strip_suffix(".xml"))
        .filter(|n| n.len() <= 6 && n.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|n| n.parse().ok())
        .filter(|n| *n >= 1)
        .ok_or_else(AppError::page_not_found)?;
    let mut conn = state.reads.get().await?;
    let slugs = store::active_slugs(&mut conn, (number - 1) * SITEMAP_URLS, SITEMAP_URLS).await?;
    if slugs.is_empty() {
        return Err(AppError::page_not_found());
    }
    let urls: Vec<String> = slugs
        .iter()
        .map(|slug| format!("{base_url}/products/{slug}"))
        .collect();
    Ok(xml(urlset(&urls)))
}

fn page_urls(base_url: &str, collections: &[crate::catalog::domain::Collection]) -> Vec<String> {
    std::iter::once(format!("{base_url}/"))
        .chain(
            collections
                .iter()
                .map(|c| format!("{base_url}{}", c.path())),
        )
        .collect()
}

fn urlset(urls: &[String]) -> String {
    let mut body = String::with_capacity(80 * urls.len() + 200);
    let _ = writeln!(body, "{XML_HEAD}\n<urlset xmlns=\"{NAMESPACE}\">");
    for url in urls {
        let _ = writeln!(body, "  <url><loc>{}</loc></url>", escape(url));
    }
    body.push_str("</urlset>\n");
    body
}

fn xml(body: String) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/xml; charset=utf-8")
        .body(body)
}

/// Text safe inside an XML element.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}
