-- gold.sentiment: the VADER sentiment of every feedback comment, survey comment and social
-- comment event, with the person who wrote it. Labels use VADER's cut-offs (±0.05).
WITH texts AS (
    SELECT 'feedback' AS source, feedback_id AS source_id, customer_id, CAST(NULL AS VARCHAR) AS cookie_id,
           submitted_at AS occurred_at, comment AS text, rating
    FROM silver_feedback WHERE comment IS NOT NULL AND trim(comment) <> ''
    UNION ALL
    SELECT 'survey', survey_id, customer_id, NULL, responded_at, comment, nps
    FROM silver_surveys WHERE comment IS NOT NULL AND trim(comment) <> ''
    UNION ALL
    SELECT 'social', event_id, customer_id, cookie_id, event_ts, text, NULL
    FROM silver_web_events WHERE event_type = 'comment' AND text IS NOT NULL AND trim(text) <> ''
),
scored AS (
    SELECT t.*, round(c360_sentiment(t.text), 4) AS compound,
           coalesce(c.person_id, w.person_id) AS person_id
    FROM texts AS t
    LEFT JOIN {{ persons_by(crm) }} AS c ON c.customer_id = t.customer_id
    LEFT JOIN {{ persons_by(web) }} AS w ON w.cookie_id = t.cookie_id
)
SELECT
    source, source_id, person_id, occurred_at, text, rating, compound,
    CASE WHEN compound >= 0.05 THEN 'positive' WHEN compound <= -0.05 THEN 'negative' ELSE 'neutral' END
        AS sentiment
FROM scored
