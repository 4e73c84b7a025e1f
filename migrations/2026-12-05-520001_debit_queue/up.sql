-- Asynchronous debits (`"confirm": "async"`): a debit is recorded `queued`
-- (never sent to Stripe yet) and answered at once; a worker on every node
-- takes it from `debit_queue` and charges it.
ALTER TABLE payments DROP CONSTRAINT payments_status_check;
ALTER TABLE payments ADD CONSTRAINT payments_status_check CHECK (status IN
    ('queued', 'processing', 'succeeded', 'failed', 'requires_action'));

-- The debits waiting for a worker, one row each until its outcome is
-- recorded. A worker claims due rows (FOR UPDATE SKIP LOCKED, oldest first)
-- and moves `run_at` past its lease: if its node dies mid-charge, another
-- node takes the row once the lease is over and asks Stripe again with the
-- same idempotency key (derived from the payment id), which cannot charge
-- twice. A charge whose outcome is unknown (Stripe unreachable) waits until
-- `run_at` for its next try.
CREATE TABLE debit_queue (
    payment_id  TEXT PRIMARY KEY REFERENCES payments (id) ON DELETE CASCADE,
    -- What Stripe is sent as the description, fixed at the request: every
    -- try must send Stripe the same parameters, whatever a PATCH changes.
    description TEXT CHECK (length(description) <= 1000),
    queued_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    run_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    attempts    INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0)
);

CREATE INDEX debit_queue_oldest_idx ON debit_queue (queued_at, payment_id);

-- Wakes every node's worker when debits are queued (once per statement;
-- the workers also look every few seconds, should a notification be lost).
CREATE FUNCTION notify_debits_queued() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('debits_queued', '');
    RETURN NULL;
END;
$$;

CREATE TRIGGER debit_queue_notify AFTER INSERT ON debit_queue
    FOR EACH STATEMENT EXECUTE FUNCTION notify_debits_queued();
