DROP INDEX carts_created_at_idx;
ALTER TABLE carts ADD COLUMN updated_at TIMESTAMPTZ NOT NULL DEFAULT now();
UPDATE carts SET updated_at = greatest(created_at, (SELECT max(updated_at) FROM cart_items WHERE cart_id = carts.id));
ALTER TABLE cart_items DROP COLUMN updated_at;
