-- Order emails. A message is written here in the same transaction as the
-- transition that causes it (an order paid, refunded, shipped), so one
-- event makes exactly one message; a sender on every node claims due rows
-- and sends them.
CREATE TABLE mail_outbox (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind            TEXT NOT NULL CHECK (kind IN
                        ('order_confirmation', 'refund_notice', 'shipment_notice', 'orders_link')),
    -- The order it is about; NULL for a link to an address's orders.
    order_id        BIGINT REFERENCES orders (id) ON DELETE CASCADE,
    -- As given (the email typed on Stripe's page, or in our form); NULL
    -- when there was none. Only a valid address is ever sent to.
    recipient       TEXT CHECK (length(recipient) <= 1000),
    -- What the message says beyond its order (amounts refunded, tracking),
    -- with its kind: the domain's `Message`.
    details         JSONB NOT NULL CHECK (details ->> 'kind' = kind),
    -- pending: to send (or being sent); sent; failed: given up, with
    -- last_error; skipped: nothing to send (no valid address, no orders).
    status          TEXT NOT NULL DEFAULT 'pending'
                        CHECK (status IN ('pending', 'sent', 'failed', 'skipped')),
    -- Tries so far. Each claim adds one, and only the claim that holds the
    -- current count may record the outcome.
    attempts        INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    -- When a pending message may be claimed: now, after a backoff, or when
    -- the lease of the node sending it runs out.
    next_attempt_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_error      TEXT,
    -- The Message-ID's unique part: the same for every try, so that a
    -- message sent again after a crash can be recognised downstream.
    message_id      UUID NOT NULL DEFAULT gen_random_uuid() UNIQUE,
    -- "Send again" makes a new message (a new Message-ID) naming the original.
    resend_of       BIGINT REFERENCES mail_outbox (id) ON DELETE SET NULL,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    sent_at         TIMESTAMPTZ,
    CHECK ((status = 'sent') = (sent_at IS NOT NULL))
);

-- The sender's work: due pending messages, oldest first.
CREATE INDEX mail_outbox_due_idx ON mail_outbox (next_attempt_at, id) WHERE status = 'pending';
CREATE INDEX mail_outbox_order_id_idx ON mail_outbox (order_id) WHERE order_id IS NOT NULL;
CREATE INDEX mail_outbox_resend_of_idx ON mail_outbox (resend_of) WHERE resend_of IS NOT NULL;
-- Links to an address's orders are forgotten a week after they expire.
CREATE INDEX mail_outbox_links_idx ON mail_outbox (created_at) WHERE kind = 'orders_link';
-- One confirmation per order, whatever happens (resends aside).
CREATE UNIQUE INDEX mail_outbox_one_confirmation_idx ON mail_outbox (order_id)
    WHERE kind = 'order_confirmation' AND resend_of IS NULL;

-- "Email me my orders": the requests of the last hours, counted per client
-- address and per email address on every node for the limits.
CREATE TABLE orders_link_requests (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- The client's address as the rate limits count it (an IPv6 client by its /64).
    client     TEXT NOT NULL,
    -- Lowercased.
    email      TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE INDEX orders_link_requests_client_idx ON orders_link_requests (client, created_at);
CREATE INDEX orders_link_requests_email_idx ON orders_link_requests (email, created_at);
CREATE INDEX orders_link_requests_created_idx ON orders_link_requests (created_at);

-- The orders of an email address, whatever its case.
CREATE INDEX orders_email_lower_idx ON orders (lower(email));
