-- Churn features of every buyer as of a cutoff day (c360_cutoff: cutoff, horizon), and the label:
-- churned = no order in the horizon days after the cutoff. Only what was known on the cutoff day
-- is used (orders, returns, sessions, feedback up to it), so a model trained on an earlier cutoff
-- is tested honestly on a later one.
WITH k AS (
    SELECT cutoff, horizon FROM c360_cutoff
),
hist AS (
    SELECT f.* FROM gold_fact_sales AS f CROSS JOIN k
    WHERE f.person_id IS NOT NULL AND f.order_date <= k.cutoff
),
buyers AS (
    SELECT person_id, min(order_date) AS first_date, max(order_date) AS last_date,
           count(DISTINCT order_id) AS frequency,
           sum(CAST(round(amount * 100) AS BIGINT)) / 100 AS monetary
    FROM hist GROUP BY person_id
),
returned AS (
    SELECT h.person_id, count(*) AS returns
    FROM silver_returns AS r
    JOIN hist AS h ON h.order_id = r.order_id AND h.line_no = r.line_no
    CROSS JOIN k
    WHERE CAST(r.returned_at AS DATE) <= k.cutoff
    GROUP BY h.person_id
),
future AS (
    SELECT DISTINCT f.person_id FROM gold_fact_sales AS f CROSS JOIN k
    WHERE f.person_id IS NOT NULL AND f.order_date > k.cutoff
      AND date_diff('day', k.cutoff, f.order_date) <= k.horizon
),
web AS (
    SELECT coalesce(c.person_id, w.person_id) AS person_id, count(DISTINCT e.session_id) AS sessions
    FROM silver_web_events AS e
    CROSS JOIN k
    LEFT JOIN {{ persons_by(crm) }} AS c ON c.customer_id = e.customer_id
    LEFT JOIN {{ persons_by(web) }} AS w ON w.cookie_id = e.cookie_id
    WHERE CAST(e.event_ts AS DATE) <= k.cutoff AND date_diff('day', CAST(e.event_ts AS DATE), k.cutoff) < 90
    GROUP BY coalesce(c.person_id, w.person_id)
),
rated AS (
    SELECT i.person_id, avg(f.rating) AS avg_rating
    FROM silver_feedback AS f
    JOIN {{ persons_by(crm) }} AS i ON i.customer_id = f.customer_id
    CROSS JOIN k
    WHERE CAST(f.submitted_at AS DATE) <= k.cutoff
    GROUP BY i.person_id
)
SELECT
    b.person_id,
    date_diff('day', b.last_date, k.cutoff) AS recency_days,
    b.frequency,
    b.monetary,
    date_diff('day', b.first_date, k.cutoff) AS tenure_days,
    coalesce(w.sessions, 0) AS sessions_90d,
    coalesce(r.returns, 0) AS returns,
    rt.avg_rating,
    u.person_id IS NULL AS churned
FROM buyers AS b
CROSS JOIN k
LEFT JOIN returned AS r ON r.person_id = b.person_id
LEFT JOIN future AS u ON u.person_id = b.person_id
LEFT JOIN web AS w ON w.person_id = b.person_id
LEFT JOIN rated AS rt ON rt.person_id = b.person_id

