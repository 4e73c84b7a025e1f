-- What Stripe has refunded of a payment (charge.refunded webhooks), in
-- minor units: the payments API shows it.
ALTER TABLE payments ADD COLUMN amount_refunded_minor BIGINT NOT NULL DEFAULT 0
    CHECK (amount_refunded_minor BETWEEN 0 AND amount_minor);
