-- gold.dim_date: every calendar day from the first to the last order. The ISO day of the week is
-- counted from a known Monday: engines disagree on dayofweek's numbering (DuckDB 0 = Sunday,
-- Spark 1 = Sunday) and a transpiled isodow is off by one on Spark.
WITH bounds AS (
    SELECT min(order_date) AS lo, max(order_date) AS hi FROM silver_orders
),
days AS (
    SELECT CAST(unnest(generate_series(lo, hi, INTERVAL 1 DAY)) AS DATE) AS d FROM bounds WHERE lo IS NOT NULL
),
numbered AS (
    SELECT d, (date_diff('day', DATE '2024-01-01', d) % 7 + 7) % 7 + 1 AS dow FROM days
)
SELECT
    year(d) * 10000 + month(d) * 100 + day(d) AS date_key,
    d AS date,
    year(d) AS year,
    quarter(d) AS quarter,
    month(d) AS month,
    day(d) AS day,
    dow AS day_of_week,
    dow >= 6 AS is_weekend,
    strftime(d, '%Y-%m') AS year_month
FROM numbered
