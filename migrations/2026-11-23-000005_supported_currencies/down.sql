ALTER TABLE products DROP CONSTRAINT products_currency_check,
    ADD CONSTRAINT products_currency_check CHECK (currency ~ '^[A-Z]{3}$');
