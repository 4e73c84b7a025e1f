-- A short public order number for receipts, emails and support: random,
-- so that it does not count sales as the sequential id does. Eight
-- characters of Crockford's base32 (no I, L, O, U), shown as XXXX-XXXX.
ALTER TABLE orders ADD COLUMN number TEXT;
UPDATE orders SET number = (
    SELECT string_agg(substr('0123456789ABCDEFGHJKMNPQRSTVWXYZ', 1 + floor(random() * 32)::int, 1), '')
    FROM generate_series(1, 8 + 0 * orders.id)
);
ALTER TABLE orders ALTER COLUMN number SET NOT NULL,
    ADD CONSTRAINT orders_number_key UNIQUE (number),
    ADD CONSTRAINT orders_number_check CHECK (number ~ '^[0-9A-HJKMNP-TV-Z]{8}$');

-- Whether Stripe took the payment in live mode (real money) or test mode.
ALTER TABLE orders ADD COLUMN livemode BOOLEAN NOT NULL DEFAULT false;
ALTER TABLE payments ADD COLUMN livemode BOOLEAN NOT NULL DEFAULT false;

-- Orders that need a person: a payment whose amount or currency did not
-- match the order, a payment for an order already closed, a refund that
-- failed. Open until someone resolves it.
CREATE TABLE order_issues (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    order_id    BIGINT NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    kind        TEXT NOT NULL CHECK (kind IN ('amount_mismatch', 'paid_after_close', 'refund_failed')),
    -- What Stripe reported (amounts, currency, ids), for the person.
    details     JSONB NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(details) = 'object'),
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    resolved_at TIMESTAMPTZ,
    -- Who resolved it (a staff member's email), once the back office exists.
    resolved_by TEXT
);

CREATE INDEX order_issues_order_id_idx ON order_issues (order_id);
CREATE INDEX order_issues_open_idx ON order_issues (created_at) WHERE resolved_at IS NULL;
-- One open issue of a kind per order: a redelivered event does not add another.
CREATE UNIQUE INDEX order_issues_one_open_idx ON order_issues (order_id, kind) WHERE resolved_at IS NULL;
