WITH new_order AS (
    INSERT INTO orders (token, browser_id, cart_id, status, currency, amount_total_minor,
                        number, livemode, client_key, save_card, prices_include_tax)
    VALUES ($1, $2, $3, $4, $5, $6, $13, $14, $15, $16, $17) RETURNING id, created_at
), items AS (
    INSERT INTO order_items (order_id, product_id, product_name, unit_price_minor, quantity)
    SELECT new_order.id, line.* FROM new_order,
        unnest($7::bigint[], $8::text[], $9::bigint[], $10::integer[])
            AS line (product_id, product_name, unit_price_minor, quantity)
), shipping_options AS (
    INSERT INTO order_shipping_options (order_id, position, shipping_rate_id, display_name,
                                        amount_minor, min_business_days, max_business_days)
    SELECT new_order.id, option.* FROM new_order,
        unnest($18::smallint[], $19::bigint[], $20::text[], $21::bigint[], $22::integer[],
               $23::integer[])
            AS option (position, shipping_rate_id, display_name, amount_minor,
                       min_business_days, max_business_days)
), event AS (
    INSERT INTO order_events (order_id, kind, source)
    SELECT id, $11, $12 FROM new_order
)
SELECT id, created_at FROM new_order
