-- One table for every refund of a Stripe PaymentIntent: asked for by staff
-- on an order, by a merchant's system through the payments API on a
-- payment, or made in Stripe's dashboard. A refund is tied to its
-- PaymentIntent, which finds both its order and its payment.
ALTER TABLE refunds ADD COLUMN payment_intent_id TEXT;
UPDATE refunds SET payment_intent_id = orders.stripe_payment_intent_id
FROM orders WHERE orders.id = refunds.order_id;
ALTER TABLE refunds ALTER COLUMN payment_intent_id SET NOT NULL,
    -- NULL for a refund of an API debit, which has no order.
    ALTER COLUMN order_id DROP NOT NULL,
    -- The id the payments API shows (rf_...), unguessable like a payment's.
    ADD COLUMN public_id TEXT NOT NULL UNIQUE
        DEFAULT ('rf_' || replace(gen_random_uuid()::text, '-', ''))
        CHECK (public_id ~ '^rf_[A-Za-z0-9]{16,64}$'),
    -- Who asked: staff (the back office), api (the payments API) or stripe
    -- (anywhere else, learnt from its events).
    ADD COLUMN source TEXT NOT NULL DEFAULT 'stripe' CHECK (source IN ('staff', 'api', 'stripe'));
UPDATE refunds SET source = 'staff' WHERE staff_id IS NOT NULL;
ALTER TABLE refunds ALTER COLUMN source DROP DEFAULT,
    ADD CHECK ((source = 'staff') = (staff_id IS NOT NULL));

-- A payment's refunds, oldest first.
CREATE INDEX refunds_payment_intent_idx ON refunds (payment_intent_id, id);

-- An Idempotency-Key of the payments API names a debit (its payment) or a
-- refund of that payment: one namespace per API key, as at Stripe.
ALTER TABLE api_idempotency ADD COLUMN refund_id BIGINT REFERENCES refunds (id);
CREATE INDEX api_idempotency_refund_idx ON api_idempotency (refund_id) WHERE refund_id IS NOT NULL;
