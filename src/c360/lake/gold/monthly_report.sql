-- gold.monthly_report: daily_report's figures per calendar month, counted per month (buyers and
-- sessions are distinct within the month, not sums of days; first-time buyers are the sum of
-- daily_report's), with revenue growth against the previous month that has a row.
WITH sales AS (
    SELECT CAST(date_trunc('month', order_date) AS DATE) AS month, count(*) AS orders,
           count(DISTINCT person_id) AS customers, sum(units) AS units,
           sum(CAST(round(amount * 100) AS BIGINT)) AS cents,
           sum(CAST(round(returned_amount * 100) AS BIGINT)) AS returned_cents
    FROM gold_fact_orders GROUP BY CAST(date_trunc('month', order_date) AS DATE)
),
firsts AS (
    -- a buyer's first order falls on one day, so in one month: the daily first-time buyers add up
    -- exactly (no second per-person pass over the orders)
    SELECT CAST(date_trunc('month', date) AS DATE) AS month, sum(new_customers) AS new_customers
    FROM gold_daily_report GROUP BY CAST(date_trunc('month', date) AS DATE)
),
web AS (
    SELECT CAST(date_trunc('month', CAST(event_ts AS DATE)) AS DATE) AS month, count(DISTINCT session_id) AS sessions
    FROM silver_web_events GROUP BY CAST(date_trunc('month', CAST(event_ts AS DATE)) AS DATE)
),
cx AS (
    SELECT CAST(date_trunc('month', CAST(responded_at AS DATE)) AS DATE) AS month, count(*) AS responses,
           sum(csat) AS csat_sum,
           count(CASE WHEN nps >= 9 THEN 1 END) - count(CASE WHEN nps <= 6 THEN 1 END) AS net_promoters
    FROM silver_surveys GROUP BY CAST(date_trunc('month', CAST(responded_at AS DATE)) AS DATE)
),
months AS (
    SELECT month FROM sales UNION SELECT month FROM web UNION SELECT month FROM cx
),
joined AS (
    SELECT m.month, coalesce(s.orders, 0) AS orders, coalesce(s.customers, 0) AS customers,
           coalesce(f.new_customers, 0) AS new_customers, coalesce(s.units, 0) AS units,
           coalesce(s.cents, 0) AS cents, coalesce(s.returned_cents, 0) AS returned_cents,
           coalesce(w.sessions, 0) AS sessions, coalesce(c.responses, 0) AS responses, c.csat_sum, c.net_promoters
    FROM months AS m
    LEFT JOIN sales AS s ON s.month = m.month
    LEFT JOIN firsts AS f ON f.month = m.month
    LEFT JOIN web AS w ON w.month = m.month
    LEFT JOIN cx AS c ON c.month = m.month
    WHERE m.month IS NOT NULL
)
SELECT
    month, orders, customers, new_customers, units,
    cents / 100 AS revenue,
    returned_cents / 100 AS returns,
    (cents - returned_cents) / 100 AS net_revenue,
    CASE WHEN orders = 0 THEN CAST(0 AS DOUBLE) ELSE round(cents / orders) / 100 END AS avg_order_value,
    round(100 * (cents - lag(cents) OVER (ORDER BY month)) / nullif(lag(cents) OVER (ORDER BY month), 0), 2)
        AS revenue_growth_pct,
    sessions, responses,
    round(csat_sum / responses, 3) AS avg_csat,
    round(100 * net_promoters / responses, 2) AS nps
FROM joined
