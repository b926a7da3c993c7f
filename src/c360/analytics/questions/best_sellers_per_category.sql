-- Best-selling products per category.
-- The three products of each category with the most units sold (gold.fact_sales ⋈ gold.dim_product),
-- with their revenue in euros; ties broken by revenue, then product id.
WITH sold AS (
    SELECT p.category, f.product_id, p.name, sum(f.quantity) AS units,
           sum(CAST(round(f.amount * 100) AS BIGINT)) / 100 AS revenue
    FROM gold_fact_sales AS f
    JOIN gold_dim_product AS p ON p.product_id = f.product_id
    GROUP BY p.category, f.product_id, p.name
),
ranked AS (
    SELECT *, row_number() OVER (PARTITION BY category ORDER BY units DESC, revenue DESC, product_id) AS rank
    FROM sold
)
SELECT category, rank, product_id, name, units, revenue
FROM ranked
WHERE rank <= 3
ORDER BY category, rank
