DROP TABLE search_terms;
DROP FUNCTION add_search_terms() CASCADE;
DROP TABLE collection_products;
DROP TABLE collections;
ALTER TABLE products DROP COLUMN search;
DROP INDEX products_active_price_idx;
DROP INDEX products_active_newest_idx;

CREATE OR REPLACE FUNCTION notify_catalog_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('catalog_changed', '');
    RETURN NULL;
END;
$$;
