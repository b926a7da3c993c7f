-- silver.orders: order lines deduplicated on (order_id, line_no), typed.
SELECT
    order_id,
    line_no,
    customer_id,
    {{ parse_ts(order_ts) }} AS order_ts,
    CAST({{ parse_ts(order_ts) }} AS DATE) AS order_date,
    upper(trim(product_id)) AS product_id,
    quantity,
    unit_price,
    round(amount, 2) AS amount,
    upper(trim(currency)) AS currency,
    lower(trim(channel)) AS channel
FROM bronze_purchases
QUALIFY row_number() OVER (PARTITION BY order_id, line_no ORDER BY _ingested_at DESC, _source_file DESC) = 1
