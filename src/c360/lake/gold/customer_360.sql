-- gold.customer_360: the golden customer profile, one row per person: the golden record
-- (dim_customer), purchases, engagement (gold.customer_engagement), feedback, CLV, RFM segment,
-- churn risk and next-best products. Money is summed in integer cents: float sums depend on the
-- order rows are added in, which differs between engines and runs, and would make rounded
-- figures (AOV) flip by a cent.
-- Days are counted to the last order day in the data, like RFM and CLV.
WITH as_of AS (
    SELECT max(order_date) AS as_of FROM gold_fact_orders
),
purchases AS (
    SELECT
        person_id,
        sum(CAST(round(amount * 100) AS BIGINT)) AS spend_cents,
        sum(CAST(round(returned_amount * 100) AS BIGINT)) AS returned_cents,
        count(*) AS order_count,
        min(order_ts) AS first_order_at,
        max(order_ts) AS last_order_at,
        min(order_date) AS first_order_date,
        max(order_date) AS last_order_date,
        sum(returned_lines) AS returned_lines
    FROM gold_fact_orders
    WHERE person_id IS NOT NULL
    GROUP BY person_id
),
category_spend AS (
    SELECT f.person_id, p.category, sum(CAST(round(f.amount * 100) AS BIGINT)) AS cents
    FROM gold_fact_sales AS f
    JOIN gold_dim_product AS p ON p.product_id = f.product_id
    WHERE f.person_id IS NOT NULL AND p.category IS NOT NULL
    GROUP BY f.person_id, p.category
),
-- a person's favourite: the most spent (most orders), ties to the first name; arg_min over that
-- order as a struct is one aggregate pass where a window sorted every person's rows (4 s at M)
favourite_category AS (
    SELECT person_id, arg_min(category, {'cents': -cents, 'category': category}) AS category
    FROM category_spend GROUP BY person_id
),
channel_orders AS (
    SELECT person_id, channel, count(*) AS orders
    FROM gold_fact_orders WHERE person_id IS NOT NULL AND channel IS NOT NULL
    GROUP BY person_id, channel
),
favourite_channel AS (
    SELECT person_id, arg_min(channel, {'orders': -orders, 'channel': channel}) AS channel
    FROM channel_orders GROUP BY person_id
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
    coalesce(p.spend_cents, 0) / 100 AS total_spend,
    (coalesce(p.spend_cents, 0) - coalesce(p.returned_cents, 0)) / 100 AS net_spend,
    coalesce(p.order_count, 0) AS order_count,
    -- cents / orders is one IEEE division on both engines, rounded half away from zero.
    -- CAST keeps both branches DOUBLE: Sail types CASE WHEN ... THEN 0 as an integer.
    CASE WHEN coalesce(p.order_count, 0) = 0 THEN CAST(0 AS DOUBLE)
         ELSE round(p.spend_cents / p.order_count) / 100 END AS avg_order_value,
    p.first_order_at,
    p.last_order_at,
    date_diff('day', p.last_order_date, a.as_of) AS recency_days,
    date_diff('day', coalesce(least(d.signup_date, p.first_order_date), d.signup_date, p.first_order_date), a.as_of)
        AS tenure_days,
    fc.category AS favourite_category,
    fch.channel AS favourite_channel,
    coalesce(p.returned_lines, 0) AS returned_lines,
    coalesce(p.returned_cents, 0) / 100 AS returned_amount,
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
LEFT JOIN purchases AS p ON p.person_id = d.person_id
LEFT JOIN favourite_category AS fc ON fc.person_id = d.person_id
LEFT JOIN favourite_channel AS fch ON fch.person_id = d.person_id
LEFT JOIN gold_customer_engagement AS e ON e.person_id = d.person_id
LEFT JOIN feedback AS f ON f.person_id = d.person_id
LEFT JOIN sentiment AS s ON s.person_id = d.person_id
LEFT JOIN last_survey AS ls ON ls.person_id = d.person_id
LEFT JOIN gold_customer_clv AS clv ON clv.person_id = d.person_id
LEFT JOIN gold_customer_rfm AS r ON r.person_id = d.person_id
LEFT JOIN gold_churn_risk AS ch ON ch.person_id = d.person_id
LEFT JOIN next_best AS nb ON nb.person_id = d.person_id
