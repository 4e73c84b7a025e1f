-- Orders: a snapshot of what was bought at which price, and where its payment stands.
CREATE TABLE orders (
    id                         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- Public, unguessable id for the confirmation page URL.
    token                      TEXT NOT NULL UNIQUE CHECK (length(token) >= 32),
    -- The browser that placed it (from the session), for "your orders".
    browser_id                 UUID NOT NULL,
    -- The cart it came from (NULL for express checkout); emptied when paid.
    cart_id                    UUID REFERENCES carts (id) ON DELETE SET NULL,
    status                     TEXT NOT NULL DEFAULT 'pending' CHECK (status IN
                                   ('pending', 'paid', 'expired', 'cancelled', 'failed', 'refunded', 'partially_refunded')),
    currency                   TEXT NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    amount_total_minor         BIGINT NOT NULL CHECK (amount_total_minor >= 0),
    amount_refunded_minor      BIGINT NOT NULL DEFAULT 0 CHECK (amount_refunded_minor >= 0),
    email                      TEXT,
    stripe_session_id          TEXT UNIQUE,
    stripe_payment_intent_id   TEXT UNIQUE,
    checkout_url               TEXT,
    paid_at                    TIMESTAMPTZ,
    created_at                 TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at                 TIMESTAMPTZ NOT NULL DEFAULT now(),
    CHECK (amount_refunded_minor <= amount_total_minor),
    CHECK ((status IN ('paid', 'refunded', 'partially_refunded')) = (paid_at IS NOT NULL))
);

CREATE INDEX orders_browser_id_idx ON orders (browser_id, created_at DESC);
CREATE INDEX orders_cart_id_idx ON orders (cart_id);
-- The reconciler scans only pending orders.
CREATE INDEX orders_pending_idx ON orders (created_at) WHERE status = 'pending';

CREATE TABLE order_items (
    id               BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    order_id         BIGINT NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    product_id       BIGINT NOT NULL REFERENCES products (id),
    product_name     TEXT NOT NULL,
    unit_price_minor BIGINT NOT NULL CHECK (unit_price_minor >= 0),
    quantity         INTEGER NOT NULL CHECK (quantity BETWEEN 1 AND 99),
    UNIQUE (order_id, product_id)
);

CREATE INDEX order_items_product_id_idx ON order_items (product_id);

-- Append-only history of order transitions, written in the same transaction
-- as the transition. At most one 'paid' per order: fulfilment happens once.
CREATE TABLE order_events (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    order_id   BIGINT NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    kind       TEXT NOT NULL CHECK (kind IN ('created', 'paid', 'expired', 'cancelled', 'failed', 'refunded')),
    source     TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE INDEX order_events_order_id_idx ON order_events (order_id);
CREATE UNIQUE INDEX order_events_one_paid_idx ON order_events (order_id) WHERE kind = 'paid';

-- Stripe events already processed, for deduplication of webhook deliveries.
CREATE TABLE stripe_events (
    id           TEXT PRIMARY KEY,
    type         TEXT NOT NULL,
    processed_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
