-- silver.orders: order lines deduplicated on (order_id, line_no) (latest delivery wins), typed.
-- The contact email (guest orders have nothing else) is standardised for identity resolution;
-- customer_known says whether the CRM has (or had) the order's customer id.
WITH latest AS (
    SELECT *, {{ clean_email(email) }} AS contact_email
    FROM bronze_purchases
    QUALIFY row_number() OVER (PARTITION BY order_id, line_no ORDER BY _ingested_at DESC, _source_file DESC) = 1
),
known AS (
    SELECT DISTINCT customer_id FROM bronze_crm_customers
)
SELECT
    o.order_id,
    o.line_no,
    o.customer_id,
    o.contact_email AS email,
    {{ email_key(o.contact_email) }} AS email_key,
    {{ parse_ts(o.order_ts) }} AS order_ts,
    CAST({{ parse_ts(o.order_ts) }} AS DATE) AS order_date,
    {{ clean_code(o.product_id) }} AS product_id,
    o.quantity,
    o.unit_price,
    {{ clean_amount(o.amount) }} AS amount,
    {{ clean_currency(o.currency) }} AS currency,
    {{ clean_label(o.channel) }} AS channel,
    {{ clean_code(o.store_id) }} AS store_id,
    {{ clean_code(o.salesperson_id) }} AS salesperson_id,
    k.customer_id IS NOT NULL AS customer_known
FROM latest AS o
LEFT JOIN known AS k ON k.customer_id = o.customer_id
