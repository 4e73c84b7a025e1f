ALTER TABLE payments DROP COLUMN amount_refunded_minor;
