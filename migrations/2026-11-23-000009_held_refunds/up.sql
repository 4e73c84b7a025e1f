-- A charge's refunded total that arrived (charge.refunded) before we knew
-- its PaymentIntent: Stripe does not order events, and a refund can come
-- before the order is seen paid. Applied, and deleted, when it is.
CREATE TABLE held_refunds (
    payment_intent_id     TEXT PRIMARY KEY,
    amount_refunded_minor BIGINT NOT NULL CHECK (amount_refunded_minor > 0),
    created_at            TIMESTAMPTZ NOT NULL DEFAULT now()
);
