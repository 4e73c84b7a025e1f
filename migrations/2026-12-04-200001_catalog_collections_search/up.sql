-- Collections (a product may be in several), full-text and typo-tolerant
-- search, the indexes of keyset-paginated listings, and catalog
-- notifications that name what changed.

CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE TABLE collections (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    slug        TEXT NOT NULL UNIQUE
                CHECK (slug ~ '^[a-z0-9]+(-[a-z0-9]+)*$' AND length(slug) <= 100),
    name        TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    description TEXT NOT NULL DEFAULT '',
    -- Collections are listed by position, then name.
    position    INTEGER NOT NULL DEFAULT 0,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE collection_products (
    collection_id BIGINT NOT NULL REFERENCES collections (id) ON DELETE CASCADE,
    product_id    BIGINT NOT NULL REFERENCES products (id) ON DELETE CASCADE,
    PRIMARY KEY (collection_id, product_id)
);
CREATE INDEX collection_products_product_id_idx ON collection_products (product_id);

-- Listings: newest first and by price, on sale only, the id breaking ties
-- (keyset pagination reads an index range from the cursor on).
CREATE INDEX products_active_newest_idx ON products (created_at DESC, id DESC) WHERE active;
CREATE INDEX products_active_price_idx ON products (price_minor, id) WHERE active;

-- Search. The `simple` configuration (no stemming, no stop words): names are
-- proper nouns and made-up words that a stemmer mangles, and prefix matching
-- of the word being typed needs the stored word as typed ('cerami' must
-- reach 'ceramic', which english stems to 'ceram'). Typos are left to
-- trigram similarity with the words of names (search_terms, below). The
-- name weighs A, the description B. Without fastupdate, a new row goes into
-- the index at once, not to a pending list that every search scans until
-- vacuum merges it: products change rarely, searches come all the time.
ALTER TABLE products ADD COLUMN search tsvector GENERATED ALWAYS AS (
    setweight(to_tsvector('simple', name), 'A') || setweight(to_tsvector('simple', description), 'B')
) STORED;
CREATE INDEX products_search_idx ON products USING GIN (search) WITH (fastupdate = off);

-- Every node keeps parts of the catalog in memory (src/catalog/cache.rs).
-- A change to a product names it, so that a node refreshes that product
-- and the cached listings it is or would be in, never everything: the
-- payload is the product's id; 'collections' when collections themselves
-- change; empty (TRUNCATE) for everything.
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
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER collections_changed AFTER INSERT OR UPDATE OR DELETE ON collections
    FOR EACH ROW EXECUTE FUNCTION notify_catalog_changed();
CREATE TRIGGER collections_truncated AFTER TRUNCATE ON collections
    FOR EACH STATEMENT EXECUTE FUNCTION notify_catalog_changed();
CREATE TRIGGER collection_products_changed AFTER INSERT OR UPDATE OR DELETE ON collection_products
    FOR EACH ROW EXECUTE FUNCTION notify_catalog_changed();
CREATE TRIGGER collection_products_truncated AFTER TRUNCATE ON collection_products
    FOR EACH STATEMENT EXECUTE FUNCTION notify_catalog_changed();

-- The words of product names, for typo tolerance: a query word found in no
-- name is matched by trigram similarity against these few thousand words
-- (not against every product, which costs a similarity per row), and the
-- close ones join the full-text query. A word whose products are gone stays:
-- it then simply finds nothing.
CREATE TABLE search_terms (
    term TEXT PRIMARY KEY CHECK (length(term) BETWEEN 2 AND 100)
);
CREATE INDEX search_terms_trgm_idx ON search_terms USING GIN (term gin_trgm_ops) WITH (fastupdate = off);
-- Which words a word being typed begins (`^@`).
CREATE INDEX search_terms_prefix_idx ON search_terms USING SPGIST (term);

CREATE FUNCTION add_search_terms() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO search_terms (term)
        SELECT DISTINCT word FROM regexp_split_to_table(lower(NEW.name), '[^[:alnum:]]+') AS word
        WHERE length(word) BETWEEN 2 AND 100
        ON CONFLICT DO NOTHING;
    RETURN NULL;
END;
$$;

CREATE TRIGGER products_search_terms AFTER INSERT OR UPDATE OF name ON products
    FOR EACH ROW EXECUTE FUNCTION add_search_terms();
INSERT INTO search_terms (term)
    SELECT DISTINCT word FROM products, regexp_split_to_table(lower(name), '[^[:alnum:]]+') AS word
    WHERE length(word) BETWEEN 2 AND 100
    ON CONFLICT DO NOTHING;
