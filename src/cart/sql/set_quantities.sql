WITH line AS MATERIALIZED (
    SELECT cart_items.id, input.quantity, input.n
    FROM cart_items JOIN unnest($1::uuid[], $2::bigint[], $3::int[])
        WITH ORDINALITY AS input (cart_id, item_id, quantity, n)
        ON cart_items.id = input.item_id AND cart_items.cart_id = input.cart_id
    WHERE cart_items.id = ANY($2)
    ORDER BY cart_items.cart_id
    FOR UPDATE OF cart_items
)
UPDATE cart_items SET quantity = line.quantity, updated_at = now()
FROM line, products p
WHERE cart_items.id = ANY($2) AND cart_items.id = line.id AND p.id = cart_items.product_id
  AND (line.quantity <= cart_items.quantity
       OR (p.active AND line.quantity <= COALESCE(p.stock, line.quantity)))
RETURNING line.n, p.name AS product_name
