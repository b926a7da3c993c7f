-- gold.customer_360: one row per current customer with purchases, feedback and web activity.
-- Money is summed in integer cents: float sums depend on the order rows are added in, which
-- differs between engines and runs, and would make rounded figures (AOV) flip by a cent.
WITH orders AS (
    SELECT
        customer_id,
        sum(CAST(round(amount * 100) AS BIGINT)) AS spend_cents,
        count(DISTINCT order_id) AS order_count,
        min(order_ts) AS first_order_at,
        max(order_ts) AS last_order_at
    FROM silver_orders
    GROUP BY customer_id
),
feedback AS (
    SELECT customer_id, count(*) AS feedback_count, avg(rating) AS avg_rating
    FROM silver_feedback
    GROUP BY customer_id
),
web AS (
    SELECT customer_id, count(*) AS web_events, count(DISTINCT session_id) AS sessions
    FROM silver_web_events
    WHERE customer_id IS NOT NULL
    GROUP BY customer_id
)
SELECT
    c.customer_id,
    c.first_name,
    c.last_name,
    c.email,
    c.phone,
    c.country,
    c.loyalty_tier,
    coalesce(o.spend_cents, 0) / 100 AS total_spend,
    coalesce(o.order_count, 0) AS order_count,
    -- Cents / orders is one IEEE division on both engines, rounded half away from zero.
    -- CAST keeps both branches DOUBLE: Sail types CASE WHEN ... THEN 0 as an integer.
    CASE WHEN coalesce(o.order_count, 0) = 0 THEN CAST(0 AS DOUBLE)
         ELSE round(o.spend_cents / o.order_count) / 100 END AS avg_order_value,
    o.first_order_at,
    o.last_order_at,
    coalesce(f.feedback_count, 0) AS feedback_count,
    round(f.avg_rating, 3) AS avg_rating,
    coalesce(w.web_events, 0) AS web_events,
    coalesce(w.sessions, 0) AS sessions
FROM silver_customers AS c
LEFT JOIN orders AS o ON o.customer_id = c.customer_id
LEFT JOIN feedback AS f ON f.customer_id = c.customer_id
LEFT JOIN web AS w ON w.customer_id = c.customer_id
