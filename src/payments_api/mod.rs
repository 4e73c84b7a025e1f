//! The merchants' payments API (JSON, `Authorization: Bearer` API keys):
//! off-session debits of an account's saved card, payment history and
//! updates. Accounts are ours (`acct_…`) and map to Stripe customers
//! (`cus_…`); browser checkouts appear in the history too.
//!
//! The route table below is also the OpenAPI document's source: every
//! handler is registered through utoipa-actix-web, which collects its
//! `#[utoipa::path]` operation under the same path it is served at.

pub mod auth;
pub mod error;
pub mod handlers;
pub mod models;

use actix_web::dev::{ServiceFactory, ServiceRequest};
use actix_web::middleware::from_fn;
use actix_web::{HttpResponse, get, web};
use utoipa::OpenApi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};

/// The served document, rendered once per worker at start.
struct OpenApiJson(String);

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Storefront payments API",
        version = "1",
        description = "Debit accounts' saved cards off-session and read their payment history. \
            Amounts are exact decimal strings (and integer `amount_minor`), never floats. \
            Every request needs `Authorization: Bearer sk_store_…` (create a key with \
            `storefront api-key create --name NAME`). Errors: \
            `{\"error\": {\"type\", \"code\", \"message\", \"param\"}}`."
    ),
    tags((name = "payments", description = "Payments and accounts"))
)]
struct ApiDoc;

/// `GET /api/v1/openapi.json`: this API's OpenAPI 3.1 document.
#[utoipa::path(
    tag = "payments",
    responses(
        (status = 200, description = "The OpenAPI document.", content_type = "application/json"),
        (status = 401, description = "No valid API key.", body = error::ErrorBody),
    )
)]
#[get("/openapi.json")]
async fn openapi_json(doc: web::Data<OpenApiJson>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(doc.0.clone())
}

/// Registers the API: `/api/v1/...` behind the API key check, with JSON
/// errors for extractor failures and unknown routes under `/api`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    let (json, query, path) = error::extractor_configs();
    let scope = routes(utoipa_actix_web::scope("/api/v1"));
    let doc = document(&scope);
    let json_doc = doc.to_pretty_json().unwrap_or_else(|_| "{}".into());
    cfg.service(
        scope
            .app_data(web::Data::new(OpenApiJson(json_doc)))
            .app_data(json.clone())
            .app_data(query.clone())
            .app_data(path.clone())
            .default_service(web::to(error::route_not_found))
            .wrap(from_fn(auth::require_api_key)),
    );
    // Anything else under /api: still JSON, still behind the key.
    cfg.service(
        web::scope("/api")
            .default_service(web::to(error::route_not_found))
            .wrap(from_fn(auth::require_api_key)),
    );
}

/// The route table: each handler is served, and documented, at its path.
fn routes<T>(scope: utoipa_actix_web::scope::Scope<T>) -> utoipa_actix_web::scope::Scope<T>
where
    T: ServiceFactory<ServiceRequest, Config = (), Error = actix_web::Error, InitError = ()>,
{
    scope
        .service(handlers::create_payment)
        .service(handlers::get_payment)
        .service(handlers::update_payment)
        .service(handlers::list_payments)
        .service(openapi_json)
}

/// The OpenAPI document of the routes registered on `scope`.
fn document<T>(scope: &utoipa_actix_web::scope::Scope<T>) -> utoipa::openapi::OpenApi {
    use utoipa_actix_web::OpenApiFactory;
    let mut doc = ApiDoc::openapi();
    doc.paths.merge(scope.paths());
    let mut schemas = Vec::new();
    scope.schemas(&mut schemas);
    let components = doc
        .components
        .get_or_insert_with(utoipa::openapi::Components::new);
    components.schemas.extend(schemas);
    components.add_security_scheme(
        "api_key",
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .description(Some("An API key, `sk_store_…`."))
                .build(),
        ),
    );
    doc.security = Some(vec![SecurityRequirement::new(
        "api_key",
        Vec::<String>::new(),
    )]);
    doc
}

/// The document as served, for tests and tools.
pub fn openapi() -> utoipa::openapi::OpenApi {
    document(&routes(utoipa_actix_web::scope("/api/v1")))
}
