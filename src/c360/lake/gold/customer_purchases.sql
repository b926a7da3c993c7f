-- gold.customer_purchases: what every buyer bought, one row per person with an order: orders,
-- spend (gross, returned, net), average order value, first and last order, returned lines, and the
-- favourite category (most spent) and channel (most orders). It is built from the facts beside
-- recommendations and churn; customer_360, customer_rfm and customer_clv read it instead of each
-- summing the orders again (at M three passes over 10.2M orders and one over 18.2M lines less at
-- the end of the layer). Money is summed in integer cents: float sums depend on the order rows
-- are added in, which differs between engines and runs, and would make rounded figures (AOV)
-- flip by a cent.
WITH per_person AS (
    SELECT
        person_id,
        sum(CAST(round(amount * 100) AS BIGINT)) AS spend_cents,
        sum(CAST(round(returned_amount * 100) AS BIGINT)) AS returned_cents,
        count(*) AS order_count,
        min(order_ts) AS first_order_at,
        max(order_ts) AS last_order_at,
        min(order_date) AS first_order_date,
        max(order_date) AS last_order_date,
        sum(returned_lines) AS returned_lines
    FROM gold_fact_orders
    WHERE person_id IS NOT NULL
    GROUP BY person_id
),
category_spend AS (
    SELECT f.person_id, p.category, sum(CAST(round(f.amount * 100) AS BIGINT)) AS cents
    FROM gold_fact_sales AS f
    JOIN gold_dim_product AS p ON p.product_id = f.product_id
    WHERE f.person_id IS NOT NULL AND p.category IS NOT NULL
    GROUP BY f.person_id, p.category
),
-- a person's favourite: the most spent (most orders), ties to the first name; arg_min over that
-- order as a struct is one aggregate pass where a window sorted every person's rows (4 s at M)
favourite_category AS (
    SELECT person_id, arg_min(category, {'cents': -cents, 'category': category}) AS category
    FROM category_spend GROUP BY person_id
),
channel_orders AS (
    SELECT person_id, channel, count(*) AS orders
    FROM gold_fact_orders WHERE person_id IS NOT NULL AND channel IS NOT NULL
    GROUP BY person_id, channel
),
favourite_channel AS (
    SELECT person_id, arg_min(channel, {'orders': -orders, 'channel': channel}) AS channel
    FROM channel_orders GROUP BY person_id
)
SELECT
    p.person_id,
    p.order_count,
    p.spend_cents / 100 AS total_spend,
    p.returned_cents / 100 AS returned_amount,
    (p.spend_cents - p.returned_cents) / 100 AS net_spend,
    -- cents / orders is one IEEE division on both engines, rounded half away from zero
    round(p.spend_cents / p.order_count) / 100 AS avg_order_value,
    p.first_order_at,
    p.last_order_at,
    p.first_order_date,
    p.last_order_date,
    p.returned_lines,
    fc.category AS favourite_category,
    fch.channel AS favourite_channel
FROM per_person AS p
LEFT JOIN favourite_category AS fc ON fc.person_id = p.person_id
LEFT JOIN favourite_channel AS fch ON fch.person_id = p.person_id
