WITH product AS (
    SELECT id, name, price_minor, currency, stock, requires_shipping FROM products
    WHERE id = $1 AND active
), reserved AS (
    UPDATE products SET stock = products.stock - $2, updated_at = now()
    FROM product WHERE products.id = product.id AND product.stock IS NOT NULL
      AND products.stock >= $2
    RETURNING products.id
)
SELECT name, price_minor, currency, requires_shipping FROM product
WHERE product.stock IS NULL OR EXISTS (SELECT 1 FROM reserved)
