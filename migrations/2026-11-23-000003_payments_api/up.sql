-- Payments API: accounts (ours, mapped to Stripe customers), API keys (only
-- their hash), payments (browser checkouts and off-session debits) and the
-- API's idempotency records.

-- An account is ours (acct_...) and maps to a Stripe customer (cus_...):
-- two ids on purpose, so the API never exposes or depends on Stripe's.
CREATE TABLE accounts (
    id                 TEXT PRIMARY KEY CHECK (id ~ '^acct_[A-Za-z0-9]{16,64}$'),
    -- NULL until the shopper pays with "save my card" (no customer yet).
    stripe_customer_id TEXT UNIQUE,
    email              TEXT CHECK (length(email) <= 320),
    created_at         TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at         TIMESTAMPTZ NOT NULL DEFAULT now(),
    CHECK (stripe_customer_id IS NOT NULL OR email IS NOT NULL)
);

-- Shoppers are matched by email, case-insensitively.
CREATE UNIQUE INDEX accounts_email_idx ON accounts (lower(email));

-- Keys are shown once at creation; only their SHA-256 is kept.
CREATE TABLE api_keys (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name         TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    -- The first characters of the key, to recognise it in a list.
    prefix       TEXT NOT NULL,
    key_hash     BYTEA NOT NULL UNIQUE CHECK (length(key_hash) = 32),
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_used_at TIMESTAMPTZ,
    revoked_at   TIMESTAMPTZ
);

CREATE TABLE payments (
    id                       TEXT PRIMARY KEY CHECK (id ~ '^pay_[A-Za-z0-9]{16,64}$'),
    account_id               TEXT NOT NULL REFERENCES accounts (id),
    -- The order a browser checkout paid; NULL for API debits.
    order_id                 BIGINT UNIQUE REFERENCES orders (id),
    stripe_payment_intent_id TEXT UNIQUE,
    -- The customer and saved card an API debit charges, fixed before Stripe
    -- is called so that a retried request sends Stripe the same parameters.
    stripe_customer_id       TEXT,
    stripe_payment_method_id TEXT,
    -- Integer minor units, like every amount in Storefront.
    amount_minor             BIGINT NOT NULL CHECK (amount_minor >= 0),
    currency                 TEXT NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    status                   TEXT NOT NULL CHECK (status IN
                                 ('processing', 'succeeded', 'failed', 'requires_action')),
    failure_code             TEXT,
    decline_code             TEXT,
    failure_message          TEXT,
    description              TEXT CHECK (length(description) <= 1000),
    metadata                 JSONB NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(metadata) = 'object'),
    -- Optimistic concurrency for PATCH: every update increments it.
    version                  INTEGER NOT NULL DEFAULT 1 CHECK (version >= 1),
    created_at               TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at               TIMESTAMPTZ NOT NULL DEFAULT now(),
    CHECK ((order_id IS NULL) OR status = 'succeeded')
);

-- An account's history, newest first, paged by (created_at, id).
CREATE INDEX payments_account_history_idx ON payments (account_id, created_at DESC, id DESC);

-- POST /api/v1/payments idempotency: the first request with a key owns it;
-- its answer is stored and replayed for the same key and request.
CREATE TABLE api_idempotency (
    api_key_id      BIGINT NOT NULL REFERENCES api_keys (id) ON DELETE CASCADE,
    key             TEXT NOT NULL CHECK (length(key) BETWEEN 1 AND 255),
    -- SHA-256 of the request as parsed, to tell a replay from a reuse.
    request_hash    BYTEA NOT NULL,
    payment_id      TEXT NOT NULL REFERENCES payments (id) DEFERRABLE INITIALLY DEFERRED,
    -- NULL while the request is in flight.
    response_status SMALLINT,
    response_body   JSONB,
    -- Held by the request in flight; a lock older than a minute belongs to a
    -- request that died, and a retry may take over.
    locked_at       TIMESTAMPTZ,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (api_key_id, key),
    CHECK ((response_status IS NULL) = (response_body IS NULL))
);

CREATE INDEX api_idempotency_payment_id_idx ON api_idempotency (payment_id);
