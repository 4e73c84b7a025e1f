-- The back office's catalog: archived products (kept because orders name
-- them, hidden everywhere but the archive), stock adjustments with their
-- reason, and the indexes of the product list.

-- An archived product is off sale for good (until restored as a draft).
ALTER TABLE products ADD COLUMN archived_at TIMESTAMPTZ,
    ADD CONSTRAINT products_archived_inactive CHECK (archived_at IS NULL OR NOT active);

-- Every change of a product's stock made by a person (or a refund that
-- returned items): who, when, by how much, why, and the stock after it
-- (NULL: unlimited from then on).
CREATE TABLE stock_adjustments (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    product_id  BIGINT NOT NULL REFERENCES products (id) ON DELETE CASCADE,
    staff_id    BIGINT NOT NULL REFERENCES staff (id),
    delta       INTEGER NOT NULL,
    reason      TEXT NOT NULL CHECK (length(reason) BETWEEN 1 AND 200),
    stock_after INTEGER CHECK (stock_after >= 0),
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE INDEX stock_adjustments_product_idx ON stock_adjustments (product_id, id DESC);
CREATE INDEX stock_adjustments_staff_idx ON stock_adjustments (staff_id);

-- The product list: by name (keyset pagination), searched by name or slug
-- anywhere in them (trigrams), filtered by status and stock.
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX products_name_idx ON products (name, id);
CREATE INDEX products_admin_search_idx ON products USING gin ((name || ' ' || slug) gin_trgm_ops);
CREATE INDEX products_sold_out_idx ON products (name, id) WHERE stock = 0;
-- The dashboard's low stock: products on sale, fewest units first.
CREATE INDEX products_low_stock_idx ON products (stock, name) WHERE active AND stock IS NOT NULL;
