-- Average order value by country.
-- Per customer country (the golden record's; 'unknown' for orders no person is known for): orders,
-- revenue and AOV = revenue / orders, from gold.fact_sales ⋈ gold.dim_customer.
WITH orders AS (
    SELECT f.order_id, coalesce(c.country, 'unknown') AS country,
           sum(CAST(round(f.amount * 100) AS BIGINT)) AS cents
    FROM gold_fact_sales AS f
    LEFT JOIN gold_dim_customer AS c ON c.person_id = f.person_id
    GROUP BY f.order_id, coalesce(c.country, 'unknown')
)
SELECT
    country,
    count(*) AS orders,
    sum(cents) / 100 AS revenue,
    round(sum(cents) / count(*)) / 100 AS avg_order_value
FROM orders
GROUP BY country
ORDER BY avg_order_value DESC, country
