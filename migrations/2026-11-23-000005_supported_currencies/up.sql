-- Only currencies the app can price and charge (money::Currency): a product
-- in any other would fail to load and take the catalog down with it.
ALTER TABLE products DROP CONSTRAINT products_currency_check,
    ADD CONSTRAINT products_currency_check CHECK (currency IN ('USD', 'EUR', 'GBP', 'JPY'));
