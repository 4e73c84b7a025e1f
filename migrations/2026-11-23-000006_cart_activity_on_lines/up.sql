-- A cart's last activity is kept on its lines, the rows every cart change
-- writes anyway, so a change writes one row instead of two (the cart row was
-- rewritten on every add just to move its timestamp).
ALTER TABLE cart_items ADD COLUMN updated_at TIMESTAMPTZ NOT NULL DEFAULT now();
ALTER TABLE carts DROP COLUMN updated_at;
-- The purge of abandoned carts looks for old ones.
CREATE INDEX carts_created_at_idx ON carts (created_at);
