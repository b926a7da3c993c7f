-- gold.daily_report: per day, sales (orders, buyers, first-time buyers, units, revenue, returns,
-- net revenue, AOV), web sessions and survey CX. Money in integer cents until the end.
-- Days come from every source, so a day with sessions but no orders still has its row.
WITH sales AS (
    SELECT order_date AS date, count(*) AS orders, count(DISTINCT person_id) AS customers,
           sum(units) AS units, sum(CAST(round(amount * 100) AS BIGINT)) AS cents,
           sum(CAST(round(returned_amount * 100) AS BIGINT)) AS returned_cents
    FROM gold_fact_orders GROUP BY order_date
),
firsts AS (
    -- every buyer's first order day is in customer_rfm (one row per buyer of fact_orders): no
    -- second per-person pass over the orders
    SELECT first_order_date AS date, count(*) AS new_customers FROM gold_customer_rfm GROUP BY first_order_date
),
web AS (
    SELECT CAST(event_ts AS DATE) AS date, count(DISTINCT session_id) AS sessions
    FROM silver_web_events GROUP BY CAST(event_ts AS DATE)
),
cx AS (
    SELECT CAST(responded_at AS DATE) AS date, count(*) AS responses, sum(csat) AS csat_sum,
           count(CASE WHEN nps >= 9 THEN 1 END) - count(CASE WHEN nps <= 6 THEN 1 END) AS net_promoters
    FROM silver_surveys GROUP BY CAST(responded_at AS DATE)
),
days AS (
    SELECT date FROM sales UNION SELECT date FROM web UNION SELECT date FROM cx
)
SELECT
    d.date,
    coalesce(s.orders, 0) AS orders,
    coalesce(s.customers, 0) AS customers,
    coalesce(f.new_customers, 0) AS new_customers,
    coalesce(s.units, 0) AS units,
    coalesce(s.cents, 0) / 100 AS revenue,
    coalesce(s.returned_cents, 0) / 100 AS returns,
    (coalesce(s.cents, 0) - coalesce(s.returned_cents, 0)) / 100 AS net_revenue,
    CASE WHEN coalesce(s.orders, 0) = 0 THEN CAST(0 AS DOUBLE) ELSE round(s.cents / s.orders) / 100 END
        AS avg_order_value,
    coalesce(w.sessions, 0) AS sessions,
    coalesce(c.responses, 0) AS responses,
    round(c.csat_sum / c.responses, 3) AS avg_csat,
    round(100 * c.net_promoters / c.responses, 2) AS nps
FROM days AS d
LEFT JOIN sales AS s ON s.date = d.date
LEFT JOIN firsts AS f ON f.date = d.date
LEFT JOIN web AS w ON w.date = d.date
LEFT JOIN cx AS c ON c.date = d.date
WHERE d.date IS NOT NULL
