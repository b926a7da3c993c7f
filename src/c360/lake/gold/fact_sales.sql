-- gold.fact_sales: one row per order line, keyed to every dimension. The buyer is the person of
-- the order's CRM customer, or, for an order without a known customer (a guest), the person of
-- its contact email (identity resolution keys that as order:md5(email_key)). The contact email is
-- the order's, not the line's: a line that lost it (a mess the sources have) still belongs to the
-- buyer of its order, so every line of an order has the same person (gold.fact_orders relies on it).
WITH contacts AS (
    SELECT record_id, person_id FROM silver_identity_map WHERE source = 'order'
),
order_contacts AS (
    SELECT order_id, min(email_key) AS email_key FROM silver_orders WHERE email_key IS NOT NULL GROUP BY order_id
),
guests AS (
    -- the person of each order's contact email, joined before the lines: one join of the 18M
    -- lines on the order instead of two (the order's contact, then its person)
    SELECT oc.order_id, g.person_id FROM order_contacts AS oc JOIN contacts AS g ON g.record_id = md5(oc.email_key)
),
returned AS (
    SELECT order_id, line_no, sum(amount) AS returned_amount
    FROM silver_returns
    GROUP BY order_id, line_no
),
products AS (
    SELECT product_id FROM silver_products
)
SELECT
    o.order_id,
    o.line_no,
    coalesce(c.person_id, g.person_id) AS person_id,
    o.customer_id,
    o.product_id,
    o.store_id,
    o.salesperson_id,
    year(o.order_date) * 10000 + month(o.order_date) * 100 + day(o.order_date) AS date_key,
    o.order_ts,
    o.order_date,
    o.channel,
    o.quantity,
    o.unit_price,
    o.amount,
    o.currency,
    -- a return is never worth more than the line it returns
    least(coalesce(r.returned_amount, 0), o.amount) AS returned_amount,
    r.order_id IS NOT NULL AS is_returned,
    p.product_id IS NOT NULL AS product_known
FROM silver_orders AS o
LEFT JOIN {{ persons_by(crm) }} AS c ON o.customer_known AND c.customer_id = o.customer_id
LEFT JOIN guests AS g ON g.order_id = o.order_id
LEFT JOIN returned AS r ON r.order_id = o.order_id AND r.line_no = o.line_no
LEFT JOIN products AS p ON p.product_id = o.product_id
