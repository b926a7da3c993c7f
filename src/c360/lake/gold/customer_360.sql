-- gold.customer_360: the golden customer profile, one row per person: the golden record
-- (dim_customer), purchases (gold.customer_purchases), engagement (gold.customer_engagement),
-- feedback, CLV, RFM segment, churn risk and next-best products. A person who never ordered has
-- zero orders and spend.
-- Days are counted to the last order day in the data, like RFM and CLV.
WITH as_of AS (
    SELECT max(order_date) AS as_of FROM gold_fact_orders
),
feedback AS (
    SELECT i.person_id, count(*) AS feedback_count, avg(f.rating) AS avg_rating
    FROM silver_feedback AS f
    JOIN {{ persons_by(crm) }} AS i ON i.customer_id = f.customer_id
    GROUP BY i.person_id
),
sentiment AS (
    -- VADER's compound has 4 decimals: averaged in whole ten-thousandths, so the rounded mean does
    -- not depend on the order rows are added in (a float avg flipped ~80 of 994k at M between runs)
    SELECT person_id, sum(CAST(round(compound * 10000) AS BIGINT)) / count(*) / 10000 AS avg_sentiment
    FROM gold_sentiment WHERE person_id IS NOT NULL AND compound IS NOT NULL GROUP BY person_id
),
last_survey AS (
    SELECT person_id, nps FROM (
        SELECT i.person_id, s.nps,
               row_number() OVER (PARTITION BY i.person_id ORDER BY s.responded_at DESC, s.survey_id DESC) AS rn
        FROM silver_surveys AS s
        JOIN {{ persons_by(crm) }} AS i ON i.customer_id = s.customer_id
    ) AS s WHERE rn = 1
),
next_best AS (
    SELECT person_id,
        max(CASE WHEN rank = 1 THEN product_id END)
        || coalesce(',' || max(CASE WHEN rank = 2 THEN product_id END), '')
        || coalesce(',' || max(CASE WHEN rank = 3 THEN product_id END), '') AS products
    FROM gold_recommendations WHERE rank <= 3 GROUP BY person_id
)
SELECT
    d.person_id, d.first_name, d.last_name, d.email, d.phone, d.street, d.city, d.postcode, d.country,
    d.date_of_birth,
    -- whole years lived on the as-of day
    CAST(CASE WHEN d.date_of_birth IS NOT NULL AND a.as_of IS NOT NULL THEN
        year(a.as_of) - year(d.date_of_birth)
        - CASE WHEN month(a.as_of) * 100 + day(a.as_of) < month(d.date_of_birth) * 100 + day(d.date_of_birth)
               THEN 1 ELSE 0 END END AS INTEGER) AS age,
    d.gender, d.signup_date, d.loyalty_tier, d.marketing_consent, d.preferred_channel, d.preferred_categories,
    d.crm_customer_ids, d.profile_ids,
    -- CASTs keep the results DOUBLE: Sail types coalesce(x, 0) by the literal
    coalesce(p.total_spend, CAST(0 AS DOUBLE)) AS total_spend,
    coalesce(p.net_spend, CAST(0 AS DOUBLE)) AS net_spend,
    coalesce(p.order_count, 0) AS order_count,
    coalesce(p.avg_order_value, CAST(0 AS DOUBLE)) AS avg_order_value,
    p.first_order_at,
    p.last_order_at,
    date_diff('day', p.last_order_date, a.as_of) AS recency_days,
    date_diff('day', coalesce(least(d.signup_date, p.first_order_date), d.signup_date, p.first_order_date), a.as_of)
        AS tenure_days,
    p.favourite_category,
    p.favourite_channel,
    coalesce(p.returned_lines, 0) AS returned_lines,
    coalesce(p.returned_amount, CAST(0 AS DOUBLE)) AS returned_amount,
    coalesce(e.sessions, 0) AS sessions,
    coalesce(e.page_views, 0) AS page_views,
    coalesce(e.product_views, 0) AS product_views,
    coalesce(e.cart_adds, 0) AS cart_adds,
    e.cart_abandonment_rate,
    coalesce(e.social_interactions, 0) AS social_interactions,
    coalesce(f.feedback_count, 0) AS feedback_count,
    round(f.avg_rating, 3) AS avg_rating,
    round(s.avg_sentiment, 4) AS avg_sentiment,
    ls.nps AS last_nps,
    CASE WHEN ls.nps >= 9 THEN 'promoter' WHEN ls.nps >= 7 THEN 'passive' WHEN ls.nps >= 0 THEN 'detractor' END
        AS nps_class,
    clv.predicted_clv,
    clv.p_alive,
    r.segment,
    ch.churn_probability,
    ch.churn_risk,
    nb.products AS next_best_products
FROM gold_dim_customer AS d
CROSS JOIN as_of AS a
LEFT JOIN gold_customer_purchases AS p ON p.person_id = d.person_id
LEFT JOIN gold_customer_engagement AS e ON e.person_id = d.person_id
LEFT JOIN feedback AS f ON f.person_id = d.person_id
LEFT JOIN sentiment AS s ON s.person_id = d.person_id
LEFT JOIN last_survey AS ls ON ls.person_id = d.person_id
LEFT JOIN gold_customer_clv AS clv ON clv.person_id = d.person_id
LEFT JOIN gold_customer_rfm AS r ON r.person_id = d.person_id
LEFT JOIN gold_churn_risk AS ch ON ch.person_id = d.person_id
LEFT JOIN next_best AS nb ON nb.person_id = d.person_id
