ALTER TABLE api_idempotency DROP COLUMN refund_id;
DELETE FROM refunds WHERE order_id IS NULL;
DROP INDEX refunds_payment_intent_idx;
ALTER TABLE refunds DROP COLUMN source, DROP COLUMN public_id, DROP COLUMN payment_intent_id,
    ALTER COLUMN order_id SET NOT NULL;
