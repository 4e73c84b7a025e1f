//! Events and the webhook endpoints they are delivered to.

use serde_json::{Map, Value, json};

use super::API_VERSION;

#[derive(Debug, Clone)]
pub struct Event {
    pub id: String,
    pub created: i64,
    pub kind: String,
    /// `data.object` as compact JSON: events are the most numerous objects,
    /// and text takes a fraction of the memory of a `Value` tree.
    pub object: Box<str>,
    /// `data.previous_attributes` of `*.updated` events, as compact JSON.
    pub previous_attributes: Option<Box<str>>,
    pub request_id: Option<String>,
    pub idempotency_key: Option<String>,
    pub pending_webhooks: i64,
}

impl Event {
    pub fn to_json(&self) -> Value {
        let parse = |text: &str| serde_json::from_str::<Value>(text).unwrap_or_default();
        let mut data = json!({ "object": parse(&self.object) });
        if let Some(previous) = &self.previous_attributes {
            data["previous_attributes"] = parse(previous);
        }
        json!({
            "id": self.id,
            "object": "event",
            "api_version": API_VERSION,
            "created": self.created,
            "data": data,
            "livemode": false,
            "pending_webhooks": self.pending_webhooks,
            "request": { "id": self.request_id, "idempotency_key": self.idempotency_key },
            "type": self.kind,
        })
    }
}

#[derive(Debug, Clone)]
pub struct WebhookEndpoint {
    pub id: String,
    pub created: i64,
    pub url: String,
    pub enabled_events: Vec<String>,
    pub secret: String,
    pub description: Option<String>,
    pub metadata: Map<String, Value>,
    pub api_version: Option<String>,
}

impl WebhookEndpoint {
    pub fn matches(&self, event_type: &str) -> bool {
        self.enabled_events
            .iter()
            .any(|e| e == "*" || e == event_type)
    }

    /// Stripe reveals the secret only in the response that creates the endpoint.
    pub fn to_json(&self, with_secret: bool) -> Value {
        let mut value = json!({
            "id": self.id,
            "object": "webhook_endpoint",
            "api_version": self.api_version,
            "application": null,
            "created": self.created,
            "description": self.description,
            "enabled_events": self.enabled_events,
            "livemode": false,
            "metadata": self.metadata,
            "status": "enabled",
            "url": self.url,
        });
        if with_secret {
            value["secret"] = json!(self.secret);
        }
        value
    }
}
