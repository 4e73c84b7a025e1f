//! Every path and verb the shop serves, HTML and API, in one table. The
//! handlers live in each feature's `http` module; middleware and app data
//! are assembled in `server`.

use actix_files::Files;
use actix_web::middleware::from_fn;
use actix_web::web::{self, ServiceConfig, delete, get, patch, post};

use crate::admin::auth::http as staff;
use crate::admin::orders::http as admin_orders;
use crate::admin::products::http as products;
use crate::admin::{audit, dashboard, emails, settings};
use crate::payments_api::http::{self as api, auth, error as api_error, openapi};
use crate::web::{AppError, assets};
use crate::{cart, catalog, checkout, mail, media, ops, orders, webhooks};

/// The routes, registered on the app of each HTTP worker.
pub fn configure(cfg: &mut ServiceConfig) {
    cfg
        // Operations (the metrics have a listener of their own: `metrics`).
        .route("/healthz", get().to(ops::http::healthz))
        .route("/readyz", get().to(ops::http::readyz))
        // The catalog.
        .route("/", get().to(catalog::http::index))
        .route("/collections/{slug}", get().to(catalog::http::collection))
        .route("/products/{slug}", get().to(catalog::http::show))
        .route("/search", get().to(catalog::http::search::search))
        .route("/robots.txt", get().to(catalog::http::seo::robots))
        .route("/sitemap.xml", get().to(catalog::http::seo::sitemap))
        .route(
            "/sitemaps/{file}",
            get().to(catalog::http::seo::child_sitemap),
        )
        // The cart.
        .route("/cart", get().to(cart::http::show))
        .route("/cart/items", post().to(cart::http::add_item))
        .route("/cart/items/{id}", post().to(cart::http::update_item))
        .route(
            "/cart/items/{id}/delete",
            post().to(cart::http::remove_item),
        )
        // Checkout, and Stripe's return pages.
        .route("/checkout", post().to(checkout::http::checkout_cart))
        .route(
            "/checkout/express",
            post().to(checkout::http::checkout_express),
        )
        .route("/checkout/success", get().to(checkout::http::success))
        .route("/checkout/cancel", get().to(checkout::http::cancel))
        // The shopper's orders.
        .route("/orders", get().to(orders::http::index))
        .route("/orders/forget-card", post().to(orders::http::forget_card))
        .route("/orders/email-link", post().to(orders::http::email_link))
        .route("/orders/by-email/{token}", get().to(orders::http::by_email))
        .route("/orders/{token}", get().to(orders::http::show))
        // Test mode: the emails the shop wrote instead of sending them.
        .route("/test-mode/mail", get().to(mail::http::index))
        .route("/test-mode/mail/{name}", get().to(mail::http::show))
        .route("/test-mode/mail/{name}/html", get().to(mail::http::html))
        // Stripe's events, with a body limit of their own.
        .service(
            web::resource("/webhooks/stripe")
                .app_data(web::PayloadConfig::new(webhooks::http::WEBHOOK_BODY_LIMIT))
                .route(post().to(webhooks::http::receive)),
        )
        // The merchants' payments API, behind its API keys, answering JSON
        // even for unknown routes.
        .service(
            web::scope("/api/v1")
                .app_data(api_error::json_config())
                .app_data(api_error::query_config())
                .app_data(api_error::path_config())
                .route("/payments", post().to(api::create_payment))
                .route("/payments/{id}", get().to(api::get_payment))
                .route("/payments/{id}", patch().to(api::update_payment))
                .route(
                    "/payments/{id}/refunds",
                    post().to(api::refunds::create_refund),
                )
                .route(
                    "/payments/{id}/refunds",
                    get().to(api::refunds::list_refunds),
                )
                .route(
                    "/accounts/{account_id}/payments",
                    get().to(api::list_payments),
                )
                .route(
                    "/webhook_endpoints",
                    post().to(api::webhook_endpoints::create_endpoint),
                )
                .route(
                    "/webhook_endpoints",
                    get().to(api::webhook_endpoints::list_endpoints),
                )
                .route(
                    "/webhook_endpoints/{id}",
                    get().to(api::webhook_endpoints::get_endpoint),
                )
                .route(
                    "/webhook_endpoints/{id}",
                    patch().to(api::webhook_endpoints::update_endpoint),
                )
                .route(
                    "/webhook_endpoints/{id}",
                    delete().to(api::webhook_endpoints::delete_endpoint),
                )
                .route(
                    "/webhook_endpoints/{id}/deliveries",
                    get().to(api::webhook_endpoints::list_deliveries),
                )
                .route("/events", get().to(api::events::list_events))
                .route("/events/{id}", get().to(api::events::get_event))
                .route("/events/{id}/replay", post().to(api::events::replay_event))
                .route("/openapi.json", get().to(openapi::openapi_json))
                .default_service(web::to(api_error::route_not_found))
                .wrap(from_fn(auth::require_api_key)),
        )
        .service(
            web::scope("/api")
                .default_service(web::to(api_error::route_not_found))
                .wrap(from_fn(auth::require_api_key)),
        )
        // The back office: every page behind a staff sign-in (the guard),
        // every answer `no-store`.
        .service(
            web::scope("/admin")
                .app_data(
                    web::PathConfig::default()
                        .error_handler(|_, _| AppError::page_not_found().into()),
                )
                .route("", get().to(dashboard::http::show))
                .route("/", get().to(dashboard::http::show))
                .route("/login", get().to(staff::login_page))
                .route("/login", post().to(staff::login))
                .route("/logout", post().to(staff::logout))
                .route("/products", get().to(products::index))
                .route("/products", post().to(products::create))
                .route("/products/new", get().to(products::new_page))
                .route("/products/{id}", get().to(products::show))
                .route("/products/{id}", post().to(products::update))
                .route("/products/{id}/stock", post().to(products::change_stock))
                .route("/products/{id}/tracking", post().to(products::set_tracking))
                .route("/products/{id}/archive", post().to(products::archive))
                .route("/products/{id}/restore", post().to(products::restore))
                .route("/products/{id}/delete", post().to(products::delete))
                .route("/orders", get().to(admin_orders::index))
                .route("/orders/export.csv", get().to(admin_orders::export_csv))
                .route("/orders/{number}", get().to(admin_orders::show))
                .route("/orders/{number}/refunds", post().to(admin_orders::refund))
                .route("/orders/{number}/shipment", post().to(admin_orders::ship))
                .route("/attention", get().to(admin_orders::attention))
                .route(
                    "/attention/{id}/resolve",
                    post().to(admin_orders::resolve_issue),
                )
                .route("/emails", get().to(emails::http::index))
                .route(
                    "/emails/{id}/send-again",
                    post().to(emails::http::send_again),
                )
                .route("/settings", get().to(settings::http::show))
                .route("/settings", post().to(settings::http::save))
                .route(
                    "/settings/shipping-rates",
                    post().to(settings::http::create_rate),
                )
                .route(
                    "/settings/shipping-rates/{id}",
                    post().to(settings::http::update_rate),
                )
                .route("/audit", get().to(audit::http::index))
                .default_service(web::to(|| async {
                    Err::<String, _>(AppError::page_not_found())
                }))
                .wrap(from_fn(staff::guard)),
        )
        // Uploaded product images, named by their content's hash.
        .route("/uploads/{name}", get().to(media::http::serve))
        // Images and the stylesheet.
        .service(
            web::scope("/static")
                .wrap(from_fn(assets::cache_static))
                .service(Files::new("", assets::dir())),
        )
        .default_service(web::to(|| async {
            Err::<String, _>(AppError::page_not_found())
        }));
}

/// The metrics listener's one route (`METRICS_BIND`, apart from the shop's
/// port: the metrics tell sales volumes).
pub fn metrics(cfg: &mut ServiceConfig) {
    cfg.route("/metrics", get().to(ops::http::metrics));
}
