-- gold.customer_rfm: recency, frequency and monetary value of every buyer, scored 1-5 by quintile,
-- and the named segment of the (recency, frequency) scores.
-- Scores are ceil(5 × cume_dist): buyers with equal values share a score (NTILE would split ties
-- arbitrarily, differently per engine). Recency is days before the last order day in the data
-- (a fixed point: re-running on the same data gives the same scores); fewer days score higher.
WITH per_person AS (
    -- every buyer's orders, first and last order day and net spend, as gold.customer_purchases
    -- summed them (no second pass over the orders)
    SELECT person_id, first_order_date, last_order_date, order_count AS frequency, net_spend AS monetary
    FROM gold_customer_purchases
),
as_of AS (
    SELECT max(order_date) AS as_of FROM gold_fact_orders
),
measured AS (
    SELECT p.person_id, p.first_order_date, p.last_order_date,
           date_diff('day', p.last_order_date, a.as_of) AS recency_days,
           p.frequency, p.monetary
    FROM per_person AS p CROSS JOIN as_of AS a
),
scored AS (
    SELECT *,
        CAST(ceil(5 * cume_dist() OVER (ORDER BY recency_days DESC)) AS INTEGER) AS r_score,
        CAST(ceil(5 * cume_dist() OVER (ORDER BY frequency)) AS INTEGER) AS f_score,
        CAST(ceil(5 * cume_dist() OVER (ORDER BY monetary)) AS INTEGER) AS m_score
    FROM measured
)
SELECT
    person_id, first_order_date, last_order_date, recency_days, frequency, monetary, r_score, f_score, m_score,
    CAST(r_score AS VARCHAR) || CAST(f_score AS VARCHAR) || CAST(m_score AS VARCHAR) AS rfm_cell,
    -- the classic RFM grid on recency (rows) and frequency (columns)
    CASE
        WHEN r_score = 5 AND f_score >= 4 THEN 'Champions'
        WHEN r_score >= 3 AND f_score >= 4 THEN 'Loyal'
        WHEN r_score >= 4 AND f_score >= 2 THEN 'Potential Loyalist'
        WHEN r_score = 5 AND f_score = 1 THEN 'New Customers'
        WHEN r_score = 4 AND f_score = 1 THEN 'Promising'
        WHEN r_score = 3 AND f_score = 3 THEN 'Need Attention'
        WHEN r_score = 3 AND f_score <= 2 THEN 'About To Sleep'
        WHEN r_score <= 2 AND f_score = 5 THEN 'Cannot Lose Them'
        WHEN r_score <= 2 AND f_score >= 3 THEN 'At Risk'
        WHEN r_score = 2 THEN 'Hibernating'
        ELSE 'Lost'
    END AS segment
FROM scored
