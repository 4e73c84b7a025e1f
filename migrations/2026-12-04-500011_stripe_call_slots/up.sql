-- The payments API's turns at Stripe, shared by every node (`take_turn`
-- in src/payments_api/debit.rs): per bucket (mode and kind of call), when
-- the next call may go. Each call takes the next slot and moves it on by
-- the budget's spacing, in one statement; so that a burst queues instead
-- of crossing Stripe's rate limit.
CREATE TABLE stripe_call_slots (
    bucket  TEXT PRIMARY KEY CHECK (bucket IN ('live:read', 'live:write', 'test:read', 'test:write')),
    next_at TIMESTAMPTZ NOT NULL
);
