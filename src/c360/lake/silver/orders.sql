-- silver.orders: order lines deduplicated on (order_id, line_no) (latest delivery wins), typed.
-- customer_known says whether the CRM has (or had) the order's customer id. email_key, the
-- contact's mailbox, is kept where identity resolution needs it: on orders without a known
-- customer (guests, orphans), whose contact email is all that says who bought.
WITH latest AS (
    SELECT *, {{ clean_email(email) }} AS contact_email, {{ parse_ts(order_ts) }} AS ts
    FROM {{ latest_rows(bronze_purchases, order_id+line_no, _ingested_at DESC+_source_file DESC) }} AS l
),
known AS (
    SELECT DISTINCT customer_id FROM bronze_crm_customers
),
joined AS (
    SELECT o.*, k.customer_id IS NOT NULL AS customer_known
    FROM latest AS o
    LEFT JOIN known AS k ON k.customer_id = o.customer_id
)
SELECT
    order_id,
    line_no,
    customer_id,
    contact_email AS email,
    CASE WHEN NOT customer_known THEN {{ email_key(contact_email) }} END AS email_key,
    ts AS order_ts,
    CAST(ts AS DATE) AS order_date,
    {{ clean_code(product_id) }} AS product_id,
    quantity,
    unit_price,
    {{ clean_amount(amount) }} AS amount,
    {{ clean_currency(currency) }} AS currency,
    {{ clean_label(channel) }} AS channel,
    {{ clean_code(store_id) }} AS store_id,
    {{ clean_code(salesperson_id) }} AS salesperson_id,
    customer_known
FROM joined
