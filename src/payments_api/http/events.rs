//! `/api/v1/events`: the events sent to merchants' endpoints (30 days of
//! them), one with its deliveries and their log, and sending one again.

use actix_web::{HttpResponse, web};

use super::dto::{
    DeliveryObject, EventList, EventListQuery, EventObject, ReplayAnswer, ReplayQuery,
};
use super::error::{ApiError, ErrorBody};
use super::validate::page_limit;
use crate::events::domain::{Event, EventType};
use crate::events::store as events;
use crate::ids::{EventId, WebhookEndpointId};
use crate::state::AppState;

fn event_missing(id: &str) -> ApiError {
    ApiError::not_found("event", id, Some("id"))
}

async fn find(state: &AppState, id: &str) -> Result<(EventId, Event), ApiError> {
    let parsed = EventId::parse(id).ok_or_else(|| event_missing(id))?;
    let event = events::find_event(&mut *state.db.get().await?, &parsed)
        .await?
        .ok_or_else(|| event_missing(id))?;
    Ok((parsed, event))
}

/// `GET /api/v1/events`.
#[utoipa::path(
    get,
    path = "/api/v1/events",
    tag = "events",
    params(EventListQuery),
    responses(
        (status = 200, description = "A page of events, newest first.", body = EventList),
        (status = 400, description = "Invalid `limit`, `starting_after` or `type`.", body = ErrorBody),
        (status = 401, description = "No valid API key.", body = ErrorBody),
        (status = 503, description = "The database is unavailable.", body = ErrorBody),
    )
)]
pub async fn list_events(
    state: web::Data<AppState>,
    query: web::Query<EventListQuery>,
) -> Result<web::Json<EventList>, ApiError> {
    let query = query.into_inner();
    let limit = page_limit(query.limit)?;
    let kind = query
        .kind
        .map(|kind| {
            EventType::parse(&kind).ok_or_else(|| {
                ApiError::invalid("type", "parameter_invalid", "type must be an event type.")
            })
        })
        .transpose()?;
    let cursor =
        match query.starting_after.as_deref() {
            None => None,
            Some(after) => Some(find(&state, after).await.map(|(_, event)| event).map_err(
                |_| {
                    ApiError::invalid(
                        "starting_after",
                        "resource_missing",
                        "starting_after must be the id of an event of the previous page.",
                    )
                },
            )?),
        };
    let (rows, has_more) =
        events::events(&mut *state.db.get().await?, kind, cursor.as_ref(), limit).await?;
    Ok(web::Json(EventList {
        object: "list".into(),
        url: "/api/v1/events".into(),
        data: rows
            .iter()
            .map(|event| EventObject::from_event(event, None))
            .collect(),
        has_more,
    }))
}

/// `GET /api/v1/events/{id}`.
#[utoipa::path(
    get,
    path = "/api/v1/events/{id}",
    tag = "events",
    params(("id" = String, Path, description = "The event id, `evt_…`.")),
    responses(
        (status = 200, description = "The event, with its deliveries and every try of each.", body = EventObject),
        (status = 401, description = "No valid API key.", body = ErrorBody),
        (status = 404, description = "No such event.", body = ErrorBody),
        (status = 503, description = "The database is unavailable.", body = ErrorBody),
    )
)]
pub async fn get_event(
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<web::Json<EventObject>, ApiError> {
    let (id, event) = find(&state, &id).await?;
    let log = events::deliveries_of_event(&mut *state.db.get().await?, &id).await?;
    let deliveries = log
        .iter()
        .map(|(delivery, attempts)| DeliveryObject::from_delivery(delivery, attempts))
        .collect();
    Ok(web::Json(EventObject::from_event(&event, Some(deliveries))))
}

/// `POST /api/v1/events/{id}/replay`.
#[utoipa::path(
    post,
    path = "/api/v1/events/{id}/replay",
    tag = "events",
    params(
        ("id" = String, Path, description = "The event id, `evt_…`."),
        ReplayQuery,
    ),
    responses(
        (status = 202, description = "New deliveries of the event, sent as soon as a sender is free (the same event id: receivers that have it drop it).", body = ReplayAnswer),
        (status = 400, description = "Invalid `endpoint_id`.", body = ErrorBody),
        (status = 401, description = "No valid API key.", body = ErrorBody),
        (status = 404, description = "No such event, or no such endpoint.", body = ErrorBody),
        (status = 503, description = "The database is unavailable.", body = ErrorBody),
    )
)]
pub async fn replay_event(
    state: web::Data<AppState>,
    id: web::Path<String>,
    query: web::Query<ReplayQuery>,
) -> Result<HttpResponse, ApiError> {
    let endpoint = match query.into_inner().endpoint_id {
        None => None,
        Some(endpoint) => {
            let parsed = WebhookEndpointId::parse(&endpoint).ok_or_else(|| {
                ApiError::not_found("webhook endpoint", &endpoint, Some("endpoint_id"))
            })?;
            let mut conn = state.db.get().await?;
            if events::find_endpoint(&mut conn, &parsed).await?.is_none() {
                return Err(ApiError::not_found(
                    "webhook endpoint",
                    &endpoint,
                    Some("endpoint_id"),
                ));
            }
            Some(parsed)
        }
    };
    let event = EventId::parse(&id).ok_or_else(|| event_missing(&id))?;
    let deliveries = events::replay(&mut *state.db.get().await?, &event, endpoint.as_ref())
        .await?
        .ok_or_else(|| event_missing(&id))?;
    Ok(HttpResponse::Accepted().json(ReplayAnswer {
        object: "list".into(),
        event_id: event.as_str().to_owned(),
        data: deliveries
            .iter()
            .map(|delivery| DeliveryObject::from_delivery(delivery, &[]))
            .collect(),
    }))
}
