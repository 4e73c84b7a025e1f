-- The back office's orders: refunds asked for by staff (and those Stripe
-- tells us of), shipments, items returned to stock, who moved an order, and
-- the indexes of the order list, its export and the dashboard.

-- A refund, from the moment staff ask for it: the row (with its
-- idempotency key) exists before Stripe is called, so a double click or a
-- retried POST refunds once. Refunds made in Stripe's dashboard are added
-- from their events, without staff. The order's refunded total still
-- follows charge.refunded (orders.amount_refunded_minor).
CREATE TABLE refunds (
    id               BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    order_id         BIGINT NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    -- In the order's currency's minor units.
    amount_minor     BIGINT NOT NULL CHECK (amount_minor > 0),
    -- Stripe's reason, if given: duplicate, fraudulent, requested_by_customer.
    reason           TEXT CHECK (reason IN ('duplicate', 'fraudulent', 'requested_by_customer')),
    note             TEXT CHECK (length(note) <= 500),
    -- requested: saved, Stripe not yet answered; refused: Stripe said no
    -- (nothing refunded); the rest are Stripe's refund statuses.
    status           TEXT NOT NULL CHECK (status IN
                         ('requested', 'refused', 'pending', 'requires_action', 'succeeded', 'failed', 'canceled')),
    -- The form's key: the same key is the same refund.
    idempotency_key  TEXT UNIQUE CHECK (length(idempotency_key) BETWEEN 16 AND 64),
    stripe_refund_id TEXT UNIQUE,
    -- Why Stripe refused or failed it.
    failure_reason   TEXT,
    -- Order items to return to stock: [{"order_item_id": 1, "quantity": 2}].
    restock          JSONB NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(restock) = 'array'),
    -- When they were returned (once Stripe took the refund).
    restocked_at     TIMESTAMPTZ,
    -- Who asked; NULL for refunds made at Stripe.
    staff_id         BIGINT REFERENCES staff (id),
    created_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    CHECK ((staff_id IS NULL) = (idempotency_key IS NULL))
);

CREATE INDEX refunds_order_id_idx ON refunds (order_id, id);
CREATE INDEX refunds_staff_id_idx ON refunds (staff_id);

-- How many of an item were returned to stock by refunds.
ALTER TABLE order_items ADD COLUMN restocked_quantity INTEGER NOT NULL DEFAULT 0
    CHECK (restocked_quantity BETWEEN 0 AND quantity);

-- An order sent on its way, with its carrier and tracking link if known.
CREATE TABLE shipments (
    order_id     BIGINT PRIMARY KEY REFERENCES orders (id) ON DELETE CASCADE,
    carrier      TEXT CHECK (length(carrier) BETWEEN 1 AND 100),
    tracking_url TEXT CHECK (tracking_url ~ '^https?://' AND length(tracking_url) <= 2000),
    staff_id     BIGINT NOT NULL REFERENCES staff (id),
    shipped_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE INDEX shipments_staff_id_idx ON shipments (staff_id);

-- Transitions staff make (shipped) name the staff member.
ALTER TABLE order_events DROP CONSTRAINT order_events_kind_check,
    ADD CONSTRAINT order_events_kind_check CHECK (kind IN
        ('created', 'paid', 'expired', 'cancelled', 'failed', 'refunded', 'shipped')),
    ADD COLUMN staff_id BIGINT REFERENCES staff (id);

CREATE INDEX order_events_staff_id_idx ON order_events (staff_id) WHERE staff_id IS NOT NULL;

-- The order list, newest first (keyset pagination), by status, searched by
-- email anywhere in it; the dashboard's paid orders by day.
CREATE INDEX orders_created_idx ON orders (created_at DESC, id DESC);
CREATE INDEX orders_status_created_idx ON orders (status, created_at DESC, id DESC);
CREATE INDEX orders_email_idx ON orders USING gin (lower(email) gin_trgm_ops);
CREATE INDEX orders_paid_at_idx ON orders (paid_at) WHERE paid_at IS NOT NULL;
