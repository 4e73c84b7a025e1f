WITH product AS (
    SELECT input.n, input.cart_id, input.quantity, p.id, p.name, p.currency, p.stock
    FROM unnest($1::uuid[], $2::text[], $3::int[])
        WITH ORDINALITY AS input (cart_id, slug, quantity, n)
    CROSS JOIN LATERAL (
        SELECT id, name, currency, stock FROM products
        WHERE slug = input.slug AND active LIMIT 1
    ) p
    ORDER BY input.cart_id
), line AS (
    INSERT INTO cart_items (cart_id, product_id, quantity)
    SELECT cart_id, id, quantity FROM product
    WHERE quantity <= COALESCE(stock, quantity)
      AND currency = ALL (
          SELECT (SELECT currency FROM products WHERE id = other.product_id)
          FROM cart_items other WHERE other.cart_id = product.cart_id)
    ON CONFLICT (cart_id, product_id) DO UPDATE
        SET quantity = cart_items.quantity + EXCLUDED.quantity, updated_at = now()
        WHERE cart_items.quantity + EXCLUDED.quantity <= LEAST($4, COALESCE(
            (SELECT stock FROM products WHERE id = EXCLUDED.product_id), $4))
    RETURNING cart_id, product_id
), cart AS (
    INSERT INTO carts (id) SELECT cart_id FROM line ON CONFLICT DO NOTHING
)
SELECT product.n, product.name AS product_name
FROM line JOIN product ON product.cart_id = line.cart_id AND product.id = line.product_id
