-- Search results are kept per node (src/catalog/cache/searches.rs), and
-- search reads each relevance tier in one prepared statement
-- (src/catalog/sql/search.sql).

-- The words of names on their own: the names tier of a search reads its
-- matches here. In `search` the weights (name A, description B) are not in
-- the index, so a word common in descriptions and rare in names would be
-- read, and rechecked, everywhere it is.
CREATE INDEX products_name_search_idx ON products USING GIN (to_tsvector('simple', name))
    WITH (fastupdate = off) WHERE active;

-- A change to what search looks at (a product added or deleted, its name,
-- description, active flag or age) also sends 'search': every node then
-- drops the search results it keeps. A stock or price change does not:
-- it changes what a result shows, not which products match or their order.
-- Nor does a product's collections: search does not look at them. The
-- payload is the same for every product, so a bulk change sends it once per
-- transaction (PostgreSQL folds identical notifications).
CREATE OR REPLACE FUNCTION notify_catalog_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_LEVEL = 'STATEMENT' THEN
        PERFORM pg_notify('catalog_changed', '');
    ELSIF TG_TABLE_NAME = 'collections' THEN
        PERFORM pg_notify('catalog_changed', 'collections');
    ELSIF TG_TABLE_NAME = 'collection_products' THEN
        PERFORM pg_notify('catalog_changed', (CASE WHEN TG_OP = 'DELETE' THEN OLD.product_id ELSE NEW.product_id END)::text);
        IF TG_OP = 'UPDATE' AND OLD.product_id <> NEW.product_id THEN
            PERFORM pg_notify('catalog_changed', OLD.product_id::text);
        END IF;
    ELSE
        PERFORM pg_notify('catalog_changed', (CASE WHEN TG_OP = 'DELETE' THEN OLD.id ELSE NEW.id END)::text);
        IF TG_OP <> 'UPDATE' THEN
            PERFORM pg_notify('catalog_changed', 'search');
        ELSIF (OLD.name, OLD.description, OLD.active, OLD.created_at)
              IS DISTINCT FROM (NEW.name, NEW.description, NEW.active, NEW.created_at) THEN
            PERFORM pg_notify('catalog_changed', 'search');
        END IF;
    END IF;
    RETURN NULL;
END;
$$;
