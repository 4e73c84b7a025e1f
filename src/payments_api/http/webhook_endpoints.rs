//! `/api/v1/webhook_endpoints`: merchants register where their events go
//! (the signing secret is shown once, at creation), list, change and delete
//! endpoints, and read each endpoint's delivery log.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};

use super::dto::{
    CreateWebhookEndpoint, DeletedObject, DeliveryList, DeliveryObject, ListQuery,
    UpdateWebhookEndpoint, WebhookEndpointList, WebhookEndpointObject,
};
use super::error::{ApiError, ErrorBody};
use super::validate::{page_limit, parse_description};
use crate::events::domain::{EnabledEvents, Endpoint, EndpointUrl};
use crate::events::store::{self as events, EndpointChanges, MAX_ENDPOINTS};
use crate::ids::WebhookEndpointId;
use crate::state::AppState;

fn endpoint_missing(id: &str) -> ApiError {
    ApiError::not_found("webhook endpoint", id, Some("id"))
}

fn parse_url(url: &str, state: &AppState) -> Result<EndpointUrl, ApiError> {
    EndpointUrl::parse(url, state.test_mode())
        .map_err(|message| ApiError::invalid("url", "url_invalid", message))
}

fn parse_events(names: &[String]) -> Result<EnabledEvents, ApiError> {
    EnabledEvents::parse(names)
        .map_err(|message| ApiError::invalid("enabled_events", "parameter_invalid", message))
}

async fn find(state: &AppState, id: &str) -> Result<Endpoint, ApiError> {
    let parsed = WebhookEndpointId::parse(id).ok_or_else(|| endpoint_missing(id))?;
    events::find_endpoint(&mut *state.db.get().await?, &parsed)
        .await?
        .ok_or_else(|| endpoint_missing(id))
}

/// `POST /api/v1/webhook_endpoints`.
#[utoipa::path(
    post,
    path = "/api/v1/webhook_endpoints",
    tag = "events",
    request_body = CreateWebhookEndpoint,
    responses(
        (status = 201, description = "The endpoint, with its signing secret (shown only here).", body = WebhookEndpointObject),
        (status = 400, description = "Invalid url (`url_invalid`), event types or body.", body = ErrorBody),
        (status = 401, description = "No valid API key.", body = ErrorBody),
        (status = 413, description = "Body larger than 16 KiB.", body = ErrorBody),
        (status = 415, description = "Body is not JSON.", body = ErrorBody),
        (status = 422, description = "The shop has 16 endpoints already (`too_many_endpoints`).", body = ErrorBody),
        (status = 503, description = "The database is unavailable.", body = ErrorBody),
    )
)]
pub async fn create_endpoint(
    state: web::Data<AppState>,
    body: web::Json<CreateWebhookEndpoint>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let url = parse_url(&body.url, &state)?;
    let enabled = parse_events(&body.enabled_events)?;
    let description = parse_description(body.description)?;
    let created = events::create_endpoint(
        &mut *state.db.get().await?,
        &url,
        &enabled,
        description.as_deref(),
    )
    .await?
    .ok_or_else(|| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_request_error",
            "too_many_endpoints",
            format!("A shop can have at most {MAX_ENDPOINTS} webhook endpoints: delete one first."),
        )
    })?;
    let mut object = WebhookEndpointObject::from_endpoint(&created);
    object.secret = Some(created.secret.clone());
    Ok(HttpResponse::Created().json(object))
}

/// `GET /api/v1/webhook_endpoints`.
#[utoipa::path(
    get,
    path = "/api/v1/webhook_endpoints",
    tag = "events",
    responses(
        (status = 200, description = "Every endpoint (16 at most), newest first, without secrets.", body = WebhookEndpointList),
        (status = 401, description = "No valid API key.", body = ErrorBody),
        (status = 503, description = "The database is unavailable.", body = ErrorBody),
    )
)]
pub async fn list_endpoints(
    state: web::Data<AppState>,
) -> Result<web::Json<WebhookEndpointList>, ApiError> {
    let endpoints = events::endpoints(&mut *state.db.get().await?).await?;
    Ok(web::Json(WebhookEndpointList {
        object: "list".into(),
        url: "/api/v1/webhook_endpoints".into(),
        data: endpoints
            .iter()
            .map(WebhookEndpointObject::from_endpoint)
            .collect(),
        has_more: false,
    }))
}

/// `GET /api/v1/webhook_endpoints/{id}`.
#[utoipa::path(
    get,
    path = "/api/v1/webhook_endpoints/{id}",
    tag = "events",
    params(("id" = String, Path, description = "The endpoint id, `we_…`.")),
    responses(
        (status = 200, description = "The endpoint, without its secret.", body = WebhookEndpointObject),
        (status = 401, description = "No valid API key.", body = ErrorBody),
        (status = 404, description = "No such endpoint.", body = ErrorBody),
        (status = 503, description = "The database is unavailable.", body = ErrorBody),
    )
)]
pub async fn get_endpoint(
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<web::Json<WebhookEndpointObject>, ApiError> {
    let endpoint = find(&state, &id).await?;
    Ok(web::Json(WebhookEndpointObject::from_endpoint(&endpoint)))
}

/// `PATCH /api/v1/webhook_endpoints/{id}`.
#[utoipa::path(
    patch,
    path = "/api/v1/webhook_endpoints/{id}",
    tag = "events",
    params(("id" = String, Path, description = "The endpoint id, `we_…`.")),
    request_body = UpdateWebhookEndpoint,
    responses(
        (status = 200, description = "The endpoint as changed.", body = WebhookEndpointObject),
        (status = 400, description = "Invalid url, event types, description or body.", body = ErrorBody),
        (status = 401, description = "No valid API key.", body = ErrorBody),
        (status = 404, description = "No such endpoint.", body = ErrorBody),
        (status = 413, description = "Body larger than 16 KiB.", body = ErrorBody),
        (status = 415, description = "Body is not JSON.", body = ErrorBody),
        (status = 503, description = "The database is unavailable.", body = ErrorBody),
    )
)]
pub async fn update_endpoint(
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: web::Json<UpdateWebhookEndpoint>,
) -> Result<web::Json<WebhookEndpointObject>, ApiError> {
    let body = body.into_inner();
    let url = body
        .url
        .as_deref()
        .map(|url| parse_url(url, &state))
        .transpose()?;
    let enabled = body
        .enabled_events
        .as_deref()
        .map(parse_events)
        .transpose()?;
    let description = match body.description {
        None => None,
        Some(description) => Some(parse_description(Some(description))?),
    };
    let parsed = WebhookEndpointId::parse(&id).ok_or_else(|| endpoint_missing(&id))?;
    let changes = EndpointChanges {
        url: url.as_ref(),
        enabled_events: enabled.as_ref(),
        description: description.as_ref().map(Option::as_deref),
        disabled: body.disabled,
    };
    let updated = events::update_endpoint(&mut *state.db.get().await?, &parsed, &changes)
        .await?
        .ok_or_else(|| endpoint_missing(&id))?;
    Ok(web::Json(WebhookEndpointObject::from_endpoint(&updated)))
}

/// `DELETE /api/v1/webhook_endpoints/{id}`.
#[utoipa::path(
    delete,
    path = "/api/v1/webhook_endpoints/{id}",
    tag = "events",
    params(("id" = String, Path, description = "The endpoint id, `we_…`.")),
    responses(
        (status = 200, description = "Deleted, with its deliveries still to make.", body = DeletedObject),
        (status = 401, description = "No valid API key.", body = ErrorBody),
        (status = 404, description = "No such endpoint.", body = ErrorBody),
        (status = 503, description = "The database is unavailable.", body = ErrorBody),
    )
)]
pub async fn delete_endpoint(
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<web::Json<DeletedObject>, ApiError> {
    let parsed = WebhookEndpointId::parse(&id).ok_or_else(|| endpoint_missing(&id))?;
    if !events::delete_endpoint(&mut *state.db.get().await?, &parsed).await? {
        return Err(endpoint_missing(&id));
    }
    Ok(web::Json(DeletedObject {
        id: parsed.as_str().to_owned(),
        object: "webhook_endpoint".into(),
        deleted: true,
    }))
}

/// `GET /api/v1/webhook_endpoints/{id}/deliveries`: the delivery log.
#[utoipa::path(
    get,
    path = "/api/v1/webhook_endpoints/{id}/deliveries",
    tag = "events",
    params(
        ("id" = String, Path, description = "The endpoint id, `we_…`."),
        ListQuery,
    ),
    responses(
        (status = 200, description = "The endpoint's deliveries, newest first, each with every try (status, response code, duration, error).", body = DeliveryList),
        (status = 400, description = "Invalid `limit` or `starting_after` (a delivery id).", body = ErrorBody),
        (status = 401, description = "No valid API key.", body = ErrorBody),
        (status = 404, description = "No such endpoint.", body = ErrorBody),
        (status = 503, description = "The database is unavailable.", body = ErrorBody),
    )
)]
pub async fn list_deliveries(
    state: web::Data<AppState>,
    id: web::Path<String>,
    query: web::Query<ListQuery>,
) -> Result<web::Json<DeliveryList>, ApiError> {
    let query = query.into_inner();
    let limit = page_limit(query.limit)?;
    let before = query
        .starting_after
        .map(|after| {
            after.parse::<i64>().map_err(|_| {
                ApiError::invalid(
                    "starting_after",
                    "parameter_invalid",
                    "starting_after must be the id of a delivery of the previous page.",
                )
            })
        })
        .transpose()?;
    let endpoint = find(&state, &id).await?;
    let parsed = WebhookEndpointId::parse(&endpoint.id).ok_or_else(|| endpoint_missing(&id))?;
    let (log, has_more) =
        events::deliveries_of_endpoint(&mut *state.db.get().await?, &parsed, before, limit).await?;
    Ok(web::Json(DeliveryList {
        object: "list".into(),
        url: format!("/api/v1/webhook_endpoints/{}/deliveries", endpoint.id),
        data: log
            .iter()
            .map(|(delivery, attempts)| DeliveryObject::from_delivery(delivery, attempts))
            .collect(),
        has_more,
    }))
}
