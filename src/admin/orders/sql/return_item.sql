WITH item AS (
    SELECT id, product_id, LEAST($3, quantity - restocked_quantity) AS returned
    FROM order_items WHERE id = $1 AND order_id = $2 FOR UPDATE
)
UPDATE order_items SET restocked_quantity = restocked_quantity + item.returned
FROM item WHERE order_items.id = item.id AND item.returned > 0
RETURNING item.product_id, item.returned
