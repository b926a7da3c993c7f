-- Monthly revenue trend.
-- Revenue, returns, net revenue and orders per calendar month (gold.fact_sales ⋈ gold.dim_date),
-- with the change against the previous month in percent.
WITH monthly AS (
    SELECT d.year_month,
           sum(CAST(round(f.amount * 100) AS BIGINT)) AS cents,
           sum(CAST(round(f.returned_amount * 100) AS BIGINT)) AS returned_cents,
           count(DISTINCT f.order_id) AS orders
    FROM gold_fact_sales AS f
    JOIN gold_dim_date AS d ON d.date_key = f.date_key
    GROUP BY d.year_month
)
SELECT
    year_month,
    cents / 100 AS revenue,
    returned_cents / 100 AS returns,
    (cents - returned_cents) / 100 AS net_revenue,
    orders,
    round(100 * (cents - lag(cents) OVER (ORDER BY year_month)) / lag(cents) OVER (ORDER BY year_month), 2)
        AS revenue_change_pct
FROM monthly
ORDER BY year_month
