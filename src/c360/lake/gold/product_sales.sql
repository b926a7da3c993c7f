-- gold.product_sales: what each catalog product sold, for the dashboard's top products and the
-- serving database. One pass over the lines grouped by (product, buyer) gives the buyers as a
-- plain count, where count(DISTINCT person_id) — and count(DISTINCT order_id) — per product each
-- cost DuckDB a hash of 18M (product, key) pairs at M (16 CPU-s for both instead of ~5; lines
-- stand in for orders, which would need a second such pass). Orphan lines (no known buyer) are
-- one group per product, counted in lines, units and money but not as a buyer. Money is summed in
-- whole cents (exact); a product that never sold has zeros. category_rank: 1 = the category's
-- best seller by revenue (ties: units, then product id).
WITH per_buyer AS (
    SELECT
        product_id,
        person_id,
        count(*) AS lines,
        sum(quantity) AS units,
        sum(CAST(round(amount * 100) AS BIGINT)) AS cents,
        sum(CAST(round(returned_amount * 100) AS BIGINT)) AS returned_cents
    FROM gold_fact_sales
    GROUP BY product_id, person_id
),
sold AS (
    SELECT product_id, sum(lines) AS lines, sum(units) AS units, count(person_id) AS customers,
           sum(cents) AS cents, sum(returned_cents) AS returned_cents
    FROM per_buyer
    GROUP BY product_id
),
joined AS (
    SELECT
        p.product_id, p.name, p.category,
        coalesce(s.lines, 0) AS lines,
        coalesce(s.units, 0) AS units,
        coalesce(s.customers, 0) AS customers,
        coalesce(s.cents, 0) AS cents,
        coalesce(s.returned_cents, 0) AS returned_cents
    FROM gold_dim_product AS p
    LEFT JOIN sold AS s ON s.product_id = p.product_id
)
SELECT
    product_id, name, category, lines, units, customers,
    cents / 100 AS revenue,
    returned_cents / 100 AS returned,
    (cents - returned_cents) / 100 AS net_revenue,
    CAST(row_number() OVER (PARTITION BY category ORDER BY cents DESC, units DESC, product_id) AS INTEGER)
        AS category_rank
FROM joined
