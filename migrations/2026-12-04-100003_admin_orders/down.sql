DROP INDEX orders_paid_at_idx;
DROP INDEX orders_email_idx;
DROP INDEX orders_status_created_idx;
DROP INDEX orders_created_idx;
DROP INDEX order_events_staff_id_idx;
ALTER TABLE order_events DROP COLUMN staff_id, DROP CONSTRAINT order_events_kind_check,
    ADD CONSTRAINT order_events_kind_check CHECK (kind IN
        ('created', 'paid', 'expired', 'cancelled', 'failed', 'refunded'));
DROP TABLE shipments;
ALTER TABLE order_items DROP COLUMN restocked_quantity;
DROP TABLE refunds;
