//! Who may keep a copy of a response. Every page carries the session's CSRF
//! token and cart count, so no shared cache may keep one (`private`); pages
//! with personal data (the cart, checkout, orders, the payments API) are not
//! kept at all (`no-store`). A handler that sets its own `Cache-Control`
//! (static files, the back office) keeps it.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{CACHE_CONTROL, HeaderValue};
use actix_web::middleware::Next;

/// Path prefixes whose pages show personal data.
const PERSONAL: [&str; 4] = ["/cart", "/checkout", "/orders", "/api/"];

fn is_personal(path: &str) -> bool {
    PERSONAL.iter().any(|prefix| path.starts_with(prefix))
}

/// Middleware: the default `Cache-Control` of every response.
pub async fn default_cache_control(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let personal = is_personal(req.path());
    let mut response = next.call(req).await?;
    if !response.headers().contains_key(CACHE_CONTROL) {
        response.headers_mut().insert(
            CACHE_CONTROL,
            HeaderValue::from_static(if personal {
                "private, no-store"
            } else {
                "private, no-cache"
            }),
        );
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cart_checkout_orders_and_the_api_are_personal() {
        for path in [
            "/cart",
            "/cart/items/3",
            "/checkout/success",
            "/orders",
            "/orders/x",
            "/api/v1/payments",
        ] {
            assert!(is_personal(path), "{path}");
        }
        for path in ["/", "/products/mug", "/static/css/app.css", "/apiary"] {
            assert!(!is_personal(path), "{path}");
        }
    }
}
