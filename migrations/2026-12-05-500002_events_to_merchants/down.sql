DROP TABLE api_delivery_attempts;
DROP TABLE api_event_deliveries;
DROP TABLE api_events;
DROP TABLE webhook_endpoints;
