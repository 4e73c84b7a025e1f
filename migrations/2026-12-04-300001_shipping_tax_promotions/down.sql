ALTER TABLE payments DROP CONSTRAINT payments_lines_check,
    DROP COLUMN amount_subtotal_minor, DROP COLUMN amount_discount_minor,
    DROP COLUMN amount_shipping_minor, DROP COLUMN amount_tax_minor;
DELETE FROM order_issues WHERE kind = 'totals_mismatch';
ALTER TABLE order_issues DROP CONSTRAINT order_issues_kind_check,
    ADD CONSTRAINT order_issues_kind_check CHECK (kind IN
        ('amount_mismatch', 'paid_after_close', 'refund_failed'));
DROP TABLE order_shipping_options;
DROP TABLE order_checkouts;
ALTER TABLE orders DROP CONSTRAINT orders_refund_check,
    DROP CONSTRAINT orders_charged_when_completed_check,
    DROP COLUMN prices_include_tax, DROP COLUMN completed_at, DROP COLUMN amount_charged_minor;
-- Refunds of shipping or tax may exceed the items total: cap them there again.
UPDATE orders SET amount_refunded_minor = amount_total_minor
WHERE amount_refunded_minor > amount_total_minor;
ALTER TABLE orders ADD CONSTRAINT orders_check CHECK (amount_refunded_minor <= amount_total_minor);
ALTER TABLE products DROP COLUMN requires_shipping;
DROP TABLE shipping_rate_prices;
DROP TABLE shipping_rates;
DROP TABLE shop_settings;
