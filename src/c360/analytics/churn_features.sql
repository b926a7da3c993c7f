-- Churn features of every buyer as of each cutoff day (c360_cutoff: one row per cutoff, with the
-- horizon), and the label: churned = no order in the horizon days after the cutoff. Only what was
-- known on the cutoff day is used (orders, returns, sessions, feedback up to it), so a model
-- trained on an earlier cutoff is tested honestly on a later one.
-- One pass for all cutoffs: each source is first reduced to the grain the features need (a
-- person's orders, returns, sessions per day, ratings), then joined to the few cutoffs; the
-- orders, the largest source, in one GROUP BY person (c360_churn_buyers).
WITH buyers AS (
    -- every buyer's order figures as of each cutoff: the view c360_churn_buyers (churn.py), one
    -- pass over the orders with one set of aggregates per cutoff
    SELECT * FROM c360_churn_buyers
),
returned AS (
    SELECT k.cutoff, f.person_id, count(*) AS returns
    FROM silver_returns AS r
    JOIN gold_fact_sales AS f ON f.order_id = r.order_id AND f.line_no = r.line_no
    CROSS JOIN c360_cutoff AS k
    -- only returned lines can match a return: filtered before the join (18M lines -> 0.5M at M)
    WHERE f.is_returned AND f.person_id IS NOT NULL AND f.order_date <= k.cutoff
      AND CAST(r.returned_at AS DATE) <= k.cutoff
    GROUP BY k.cutoff, f.person_id
),
session_days AS (
    SELECT DISTINCT coalesce(c.person_id, w.person_id) AS person_id, e.session_id, CAST(e.event_ts AS DATE) AS day
    FROM silver_web_events AS e
    LEFT JOIN {{ persons_by(crm) }} AS c ON c.customer_id = e.customer_id
    LEFT JOIN {{ persons_by(web) }} AS w ON w.cookie_id = e.cookie_id
),
web AS (
    SELECT k.cutoff, s.person_id, count(DISTINCT s.session_id) AS sessions
    FROM session_days AS s CROSS JOIN c360_cutoff AS k
    WHERE s.person_id IS NOT NULL AND s.day <= k.cutoff AND date_diff('day', s.day, k.cutoff) < 90
    GROUP BY k.cutoff, s.person_id
),
rated AS (
    SELECT k.cutoff, i.person_id, avg(f.rating) AS avg_rating
    FROM silver_feedback AS f
    JOIN {{ persons_by(crm) }} AS i ON i.customer_id = f.customer_id
    CROSS JOIN c360_cutoff AS k
    WHERE CAST(f.submitted_at AS DATE) <= k.cutoff
    GROUP BY k.cutoff, i.person_id
)
SELECT
    b.cutoff,
    b.person_id,
    date_diff('day', b.last_date, b.cutoff) AS recency_days,
    b.frequency,
    b.monetary,
    date_diff('day', b.first_date, b.cutoff) AS tenure_days,
    coalesce(w.sessions, 0) AS sessions_90d,
    coalesce(r.returns, 0) AS returns,
    rt.avg_rating,
    b.future_orders = 0 AS churned
FROM buyers AS b
LEFT JOIN returned AS r ON r.cutoff = b.cutoff AND r.person_id = b.person_id
LEFT JOIN web AS w ON w.cutoff = b.cutoff AND w.person_id = b.person_id
LEFT JOIN rated AS rt ON rt.cutoff = b.cutoff AND rt.person_id = b.person_id
WHERE b.frequency > 0
-- in person order per cutoff: the fit must not depend on the order an engine returns rows in
ORDER BY b.cutoff, b.person_id
