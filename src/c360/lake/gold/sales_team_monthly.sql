-- gold.sales_team_monthly: in-store sales per salesperson and month. The top seller of each store
-- and month (most sales; ties: the lower salesperson id) earns an incentive of 1 % of those sales.
-- From the order headers (gold.fact_orders: an order's store and salesperson are its lines'), so
-- orders are rows, not count(DISTINCT order_id) over every line.
WITH monthly AS (
    SELECT
        CAST(date_trunc('month', order_date) AS DATE) AS month,
        store_id,
        salesperson_id,
        count(*) AS orders,
        sum(CAST(round(amount * 100) AS BIGINT)) AS cents
    FROM gold_fact_orders
    WHERE salesperson_id IS NOT NULL AND store_id IS NOT NULL
    GROUP BY CAST(date_trunc('month', order_date) AS DATE), store_id, salesperson_id
),
ranked AS (
    SELECT *, row_number() OVER (PARTITION BY month, store_id ORDER BY cents DESC, salesperson_id) AS store_rank
    FROM monthly
)
SELECT
    month, store_id, salesperson_id, orders, cents / 100 AS sales, store_rank,
    store_rank = 1 AS is_top_seller,
    CASE WHEN store_rank = 1 THEN round(cents / 100) / 100 ELSE CAST(0 AS DOUBLE) END AS incentive
FROM ranked
