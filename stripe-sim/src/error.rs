//! Stripe's error envelope: `{"error": {"type", "code", "message", "param", ...}}`.
//!
//! Stripe omits the fields that do not apply rather than sending `null` (the
//! spec's `api_errors` fields are not nullable), so this does the same.

use actix_web::http::StatusCode;
use serde_json::{Map, Value, json};

#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub kind: &'static str,
    pub code: Option<&'static str>,
    pub message: String,
    pub param: Option<String>,
    pub decline_code: Option<&'static str>,
    /// `charge`, `payment_intent` and `payment_method` of card errors (boxed to
    /// keep `Result<_, ApiError>` small).
    pub extra: Box<Map<String, Value>>,
    /// Parameter validation fails before the endpoint executes, so Stripe
    /// saves no idempotent result for it and a corrected retry may reuse the key.
    pub before_execution: bool,
}

impl ApiError {
    fn new(status: StatusCode, kind: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            kind,
            code: None,
            message: message.into(),
            param: None,
            decline_code: None,
            extra: Box::default(),
            before_execution: false,
        }
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request_error", message)
    }

    /// A parameter failed validation (HTTP 400, not saved for idempotency).
    pub fn invalid_param(param: &str, message: impl Into<String>) -> Self {
        let mut err = Self::invalid(message).with_param(param);
        err.before_execution = true;
        err
    }

    pub fn missing_param(param: &str) -> Self {
        Self::invalid_param(param, format!("Missing required param: {param}."))
            .with_code("parameter_missing")
    }

    pub fn unknown_param(param: &str) -> Self {
        Self::invalid_param(param, format!("Received unknown parameter: {param}"))
            .with_code("parameter_unknown")
    }

    pub fn empty_param(param: &str) -> Self {
        Self::invalid_param(
            param,
            format!(
                "You passed an empty string for '{param}'. We assume empty values are an attempt \
                 to unset a parameter; however '{param}' cannot be unset. You should remove \
                 '{param}' from your request or supply a non-empty value."
            ),
        )
        .with_code("parameter_invalid_empty")
    }

    /// An id that does not exist: 404 when it is in the path, 400 when it is a parameter.
    pub fn no_such(object: &str, id: &str, param: &str, in_path: bool) -> Self {
        let mut err = Self::invalid(format!("No such {object}: '{id}'"))
            .with_code("resource_missing")
            .with_param(param);
        if in_path {
            err.status = StatusCode::NOT_FOUND;
        }
        err
    }

    pub fn unrecognized_url(method: &str, path: &str) -> Self {
        let mut err = Self::invalid(format!(
            "Unrecognized request URL ({method}: {path}). Please see https://stripe.com/docs or \
             we can help at https://support.stripe.com/."
        ));
        err.status = StatusCode::NOT_FOUND;
        err
    }

    pub fn card(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::PAYMENT_REQUIRED, "card_error", message).with_code(code)
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "invalid_request_error", message)
    }

    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "api_error",
            "An unknown error occurred",
        )
    }

    pub fn rate_limited() -> Self {
        Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "invalid_request_error",
            "Request rate limit exceeded. Learn more about rate limits here \
             https://stripe.com/docs/rate-limits.",
        )
        .with_code("rate_limit")
    }

    pub fn idempotency_mismatch(key: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "idempotency_error",
            format!(
                "Keys for idempotent requests can only be used with the same parameters they \
                 were first used with. Try using a key other than '{key}' if you meant to \
                 execute a different request."
            ),
        )
    }

    pub fn idempotency_in_use(key: &str) -> Self {
        Self::new(
            StatusCode::CONFLICT,
            "idempotency_error",
            format!(
                "There is currently another in-progress request using this Idempotent Key \
                 (that probably means you submitted twice, and the other request is still going \
                 through): {key}. Please try again later."
            ),
        )
        .with_code("idempotency_key_in_use")
    }

    pub fn with_code(mut self, code: &'static str) -> Self {
        self.code = Some(code);
        self
    }

    pub fn with_param(mut self, param: &str) -> Self {
        self.param = Some(param.to_owned());
        self
    }

    pub fn with_decline_code(mut self, decline_code: Option<&'static str>) -> Self {
        self.decline_code = decline_code;
        self
    }

    pub fn with_extra(mut self, key: &str, value: Value) -> Self {
        self.extra.insert(key.to_owned(), value);
        self
    }

    /// The inner object, as also stored in a PaymentIntent's `last_payment_error`.
    pub fn error_object(&self) -> Value {
        let mut obj = Map::new();
        if let Some(code) = self.code {
            obj.insert("code".into(), json!(code));
            obj.insert(
                "doc_url".into(),
                json!(format!(
                    "https://stripe.com/docs/error-codes/{}",
                    code.replace('_', "-")
                )),
            );
        }
        if let Some(decline_code) = &self.decline_code {
            obj.insert("decline_code".into(), json!(decline_code));
        }
        obj.insert("message".into(), json!(self.message));
        if let Some(param) = &self.param {
            obj.insert("param".into(), json!(param));
        }
        obj.insert("type".into(), json!(self.kind));
        Value::Object(obj)
    }

    /// The full response body.
    pub fn body(&self, request_id: &str) -> Value {
        let mut inner = self.error_object();
        if let Value::Object(obj) = &mut inner {
            obj.extend(self.extra.as_ref().clone());
            obj.insert(
                "request_log_url".into(),
                json!(format!(
                    "https://dashboard.stripe.com/test/logs/{request_id}"
                )),
            );
        }
        json!({ "error": inner })
    }
}
