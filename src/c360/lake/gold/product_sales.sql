-- gold.product_sales: what each catalog product sold, for the dashboard's top products and the
-- serving database. Money is summed in whole cents (exact), like the other marts; a product that
-- never sold has zero orders. category_rank: 1 = the category's best seller by revenue (ties: units,
-- then product id).
WITH sold AS (
    SELECT
        product_id,
        count(DISTINCT order_id) AS orders,
        sum(quantity) AS units,
        count(DISTINCT person_id) AS customers,
        sum(CAST(round(amount * 100) AS BIGINT)) AS cents,
        sum(CAST(round(returned_amount * 100) AS BIGINT)) AS returned_cents
    FROM gold_fact_sales
    GROUP BY product_id
),
joined AS (
    SELECT
        p.product_id, p.name, p.category,
        coalesce(s.orders, 0) AS orders,
        coalesce(s.units, 0) AS units,
        coalesce(s.customers, 0) AS customers,
        coalesce(s.cents, 0) AS cents,
        coalesce(s.returned_cents, 0) AS returned_cents
    FROM gold_dim_product AS p
    LEFT JOIN sold AS s ON s.product_id = p.product_id
)
SELECT
    product_id, name, category, orders, units, customers,
    cents / 100 AS revenue,
    returned_cents / 100 AS returned,
    (cents - returned_cents) / 100 AS net_revenue,
    CAST(row_number() OVER (PARTITION BY category ORDER BY cents DESC, units DESC, product_id) AS INTEGER)
        AS category_rank
FROM joined
