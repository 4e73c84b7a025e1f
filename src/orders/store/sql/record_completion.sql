WITH previous AS (
    SELECT id, completed_at IS NULL AS first_time FROM orders
    WHERE id = $1 AND status = $2
    FOR UPDATE
), completed AS (
    UPDATE orders SET completed_at = COALESCE(completed_at, now()), amount_charged_minor = $3,
                      checkout_url = NULL, updated_at = now()
    FROM previous WHERE orders.id = previous.id
    RETURNING orders.id, orders.cart_id, previous.first_time
), checkout AS (
    -- A completed session's figures do not change: the first report stays.
    INSERT INTO order_checkouts (order_id, amount_subtotal_minor, amount_discount_minor,
                                 amount_shipping_minor, amount_tax_minor, promotion_code,
                                 shipping_name, shipping_line1, shipping_line2, shipping_city,
                                 shipping_state, shipping_postal_code, shipping_country)
    SELECT id, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15 FROM completed
    ON CONFLICT (order_id) DO NOTHING
), chosen AS (
    UPDATE order_shipping_options SET chosen = (position = $16)
    WHERE order_id IN (SELECT id FROM completed) AND $16 IS NOT NULL
)
SELECT id, cart_id, first_time FROM completed
