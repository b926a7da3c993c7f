-- gold.customer_engagement: every known person's web behaviour — sessions, page and product
-- views, cart adds, abandoned carts and social interactions (likes, shares, comments).
-- Built from silver alone, so it runs beside gold.fact_sales instead of inside customer_360,
-- which only joins it (decision 0013).
WITH events AS (
    -- a logged-in event names its customer; an anonymous one only its cookie
    SELECT coalesce(c.person_id, w.person_id) AS person_id, e.session_id, e.event_type
    FROM silver_web_events AS e
    LEFT JOIN {{ persons_by(crm) }} AS c ON c.customer_id = e.customer_id
    LEFT JOIN {{ persons_by(web) }} AS w ON w.cookie_id = e.cookie_id
),
sessions AS (
    SELECT person_id, session_id,
        max(CASE WHEN event_type = 'add_to_cart' THEN 1 ELSE 0 END) AS carted,
        max(CASE WHEN event_type = 'checkout' THEN 1 ELSE 0 END) AS checked_out,
        count(CASE WHEN event_type = 'page_view' THEN 1 END) AS page_views,
        count(CASE WHEN event_type = 'product_view' THEN 1 END) AS product_views,
        count(CASE WHEN event_type = 'add_to_cart' THEN 1 END) AS cart_adds,
        count(CASE WHEN event_type IN ('like', 'share', 'comment') THEN 1 END) AS social
    FROM events
    WHERE person_id IS NOT NULL
    GROUP BY person_id, session_id
),
engagement AS (
    SELECT person_id,
        count(*) AS sessions,
        sum(page_views) AS page_views,
        sum(product_views) AS product_views,
        sum(cart_adds) AS cart_adds,
        sum(carted) AS carted_sessions,
        sum(CASE WHEN carted = 1 AND checked_out = 0 THEN 1 ELSE 0 END) AS abandoned_sessions,
        sum(social) AS social_interactions
    FROM sessions
    GROUP BY person_id
)
SELECT
    person_id, sessions, page_views, product_views, cart_adds, carted_sessions, abandoned_sessions,
    CASE WHEN carted_sessions = 0 THEN NULL ELSE round(abandoned_sessions / carted_sessions, 4) END
        AS cart_abandonment_rate,
    social_interactions
FROM engagement
