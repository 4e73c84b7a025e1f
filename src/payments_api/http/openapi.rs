//! The payments API's OpenAPI 3.1 document, from the handlers' annotations,
//! served at `GET /api/v1/openapi.json`.

use std::sync::LazyLock;

use actix_web::HttpResponse;
use utoipa::OpenApi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};

use super::error::ErrorBody;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Storefront payments API",
        version = "1",
        description = "Debit accounts' saved cards off-session, refund payments, read their payment history, and receive signed events at webhook endpoints. \
            Amounts are exact decimal strings (and integer `amount_minor`), never floats. \
            Every request needs `Authorization: Bearer sk_store_…` (create a key with \
            `storefront api-key create --name NAME`). Errors: \
            `{\"error\": {\"type\", \"code\", \"message\", \"param\"}}`."
    ),
    paths(
        super::create_payment,
        super::get_payment,
        super::update_payment,
        super::list_payments,
        super::refunds::create_refund,
        super::refunds::list_refunds,
        super::webhook_endpoints::create_endpoint,
        super::webhook_endpoints::list_endpoints,
        super::webhook_endpoints::get_endpoint,
        super::webhook_endpoints::update_endpoint,
        super::webhook_endpoints::delete_endpoint,
        super::webhook_endpoints::list_deliveries,
        super::events::list_events,
        super::events::get_event,
        super::events::replay_event,
        openapi_json,
    ),
    tags(
        (name = "payments", description = "Payments and accounts"),
        (name = "refunds", description = "Refunds of payments, wherever they were made"),
        (name = "events", description = "Events sent to webhook endpoints, signed `Storefront-Signature: t=…,v1=…` (HMAC-SHA256 of `t.body` with the endpoint's secret), as Stripe signs its own")
    )
)]
struct ApiDoc;

/// The document as served, for the route, tests and tools.
pub fn document() -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    let components = doc
        .components
        .get_or_insert_with(utoipa::openapi::Components::new);
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

/// Rendered once, at the first request for it.
static DOCUMENT_JSON: LazyLock<String> =
    LazyLock::new(|| document().to_pretty_json().unwrap_or_else(|_| "{}".into()));

/// `GET /api/v1/openapi.json`: this API's OpenAPI 3.1 document.
#[utoipa::path(
    get,
    path = "/api/v1/openapi.json",
    tag = "payments",
    responses(
        (status = 200, description = "The OpenAPI document.", content_type = "application/json"),
        (status = 401, description = "No valid API key.", body = ErrorBody),
    )
)]
pub async fn openapi_json() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(DOCUMENT_JSON.as_str())
}
