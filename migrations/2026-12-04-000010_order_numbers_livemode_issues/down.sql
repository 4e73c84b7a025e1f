DROP TABLE order_issues;
ALTER TABLE payments DROP COLUMN livemode;
ALTER TABLE orders DROP COLUMN livemode, DROP COLUMN number;
