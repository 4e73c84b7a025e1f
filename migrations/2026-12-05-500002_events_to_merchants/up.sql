-- Events to merchants: webhook endpoints registered through the payments
-- API, the events (written in the transaction of the change they tell of),
-- one delivery per event and endpoint (the outbox the senders of every node
-- claim from), and a log line per delivery attempt.

CREATE TABLE webhook_endpoints (
    id             TEXT PRIMARY KEY CHECK (id ~ '^we_[A-Za-z0-9]{16,64}$'),
    url            TEXT NOT NULL CHECK (length(url) BETWEEN 1 AND 2048),
    -- Event types, or '*' for all of them.
    enabled_events TEXT[] NOT NULL CHECK (cardinality(enabled_events) >= 1),
    -- Signs every delivery (shown once, when the endpoint is created).
    secret         TEXT NOT NULL,
    description    TEXT CHECK (length(description) <= 1000),
    disabled       BOOLEAN NOT NULL DEFAULT false,
    created_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at     TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE api_events (
    id         TEXT PRIMARY KEY CHECK (id ~ '^evt_[A-Za-z0-9]{16,64}$'),
    type       TEXT NOT NULL,
    -- {"object": ...}: the payment or order as the change left it.
    data       JSONB NOT NULL,
    livemode   BOOLEAN NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- GET /api/v1/events, newest first.
CREATE INDEX api_events_created_idx ON api_events (created_at DESC, id DESC);

CREATE TABLE api_event_deliveries (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id        TEXT NOT NULL REFERENCES api_events (id) ON DELETE CASCADE,
    endpoint_id     TEXT NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    status          TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed')),
    -- Tries so far; a sender's claim is fenced by it.
    attempts        INTEGER NOT NULL DEFAULT 0,
    -- When a sender may claim it next (a claim pushes it past its lease).
    next_attempt_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    delivered_at    TIMESTAMPTZ
);

-- What the senders claim: due pending deliveries, oldest first.
CREATE INDEX api_event_deliveries_due_idx ON api_event_deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX api_event_deliveries_event_idx ON api_event_deliveries (event_id);
CREATE INDEX api_event_deliveries_endpoint_idx ON api_event_deliveries (endpoint_id, id DESC);

CREATE TABLE api_delivery_attempts (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    delivery_id   BIGINT NOT NULL REFERENCES api_event_deliveries (id) ON DELETE CASCADE,
    attempt       INTEGER NOT NULL,
    attempted_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- The endpoint's HTTP status; NULL when it gave none (refused, timed out).
    response_status SMALLINT,
    duration_ms   INTEGER NOT NULL,
    error         TEXT CHECK (length(error) <= 1000)
);

CREATE INDEX api_delivery_attempts_delivery_idx ON api_delivery_attempts (delivery_id, attempt);
