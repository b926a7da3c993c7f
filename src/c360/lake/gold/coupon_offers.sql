-- gold.coupon_offers: one offer per buyer from their RFM segment, five points more (at most 30 %)
-- when the churn model rates them high risk, naming their top recommendation as the product and
-- saying why. can_contact: the customer's latest marketing consent (unknown = no).
WITH offers AS (
    SELECT r.person_id, r.segment, c.churn_risk,
        CASE r.segment
            WHEN 'Champions' THEN 'vip_early_access' WHEN 'Loyal' THEN 'loyalty_points'
            WHEN 'Potential Loyalist' THEN 'membership_upgrade' WHEN 'New Customers' THEN 'welcome_second_order'
            WHEN 'Promising' THEN 'free_shipping' WHEN 'Need Attention' THEN 'limited_time_offer'
            WHEN 'About To Sleep' THEN 'reactivation' WHEN 'At Risk' THEN 'win_back'
            WHEN 'Cannot Lose Them' THEN 'win_back_premium' WHEN 'Hibernating' THEN 'reactivation'
            ELSE 'last_chance' END AS offer,
        CASE r.segment
            WHEN 'Champions' THEN 0 WHEN 'Loyal' THEN 5 WHEN 'Potential Loyalist' THEN 10
            WHEN 'New Customers' THEN 10 WHEN 'Promising' THEN 5 WHEN 'Need Attention' THEN 10
            WHEN 'About To Sleep' THEN 15 WHEN 'At Risk' THEN 20 WHEN 'Cannot Lose Them' THEN 25
            WHEN 'Hibernating' THEN 15 ELSE 20 END AS base_pct,
        'segment ' || r.segment || ' (RFM ' || r.rfm_cell || ', last order ' || CAST(r.recency_days AS VARCHAR)
            || ' days ago, ' || CAST(r.frequency AS VARCHAR) || ' orders)' AS why
    FROM gold_customer_rfm AS r
    LEFT JOIN gold_churn_risk AS c ON c.person_id = r.person_id
)
SELECT
    o.person_id, o.segment, o.churn_risk, o.offer,
    CAST(least(30, o.base_pct + CASE WHEN o.churn_risk = 'high' THEN 5 ELSE 0 END) AS INTEGER) AS discount_pct,
    rec.product_id,
    o.why || CASE WHEN o.churn_risk = 'high' THEN '; high churn risk: +5 points' ELSE '' END
        || CASE WHEN rec.product_id IS NOT NULL THEN '; suggested ' || rec.product_id || ' (bought with '
                || rec.because_of || ')' ELSE '' END AS reason,
    coalesce(d.marketing_consent, false) AS can_contact
FROM offers AS o
LEFT JOIN gold_dim_customer AS d ON d.person_id = o.person_id
LEFT JOIN gold_recommendations AS rec ON rec.person_id = o.person_id AND rec.rank = 1
