-- gold.recommendations: next-best products per buyer, by item-item co-occurrence.
-- Two products are similar when they are bought in the same orders: cosine similarity of their
-- order sets, n(p and q) / sqrt(n(p) × n(q)); each product keeps its 20 nearest. A buyer's
-- candidates are the neighbours of their 5 most recently bought products, scored by summed
-- similarity; products they already bought are never recommended. Co-occurrence within orders
-- (not within a buyer's whole history) keeps the pair count linear in orders.
WITH lines AS (
    SELECT DISTINCT order_id, person_id, product_id
    FROM gold_fact_sales
    WHERE person_id IS NOT NULL AND product_known
),
item_orders AS (
    SELECT product_id, count(*) AS n FROM lines GROUP BY product_id
),
pairs AS (
    SELECT a.product_id AS p, b.product_id AS q, count(*) AS n
    FROM lines AS a
    JOIN lines AS b ON a.order_id = b.order_id AND a.product_id <> b.product_id
    GROUP BY a.product_id, b.product_id
),
neighbours AS (
    SELECT p, q, sim FROM (
        SELECT x.p, x.q, x.n / sqrt(CAST(ip.n AS DOUBLE) * iq.n) AS sim,
               row_number() OVER (PARTITION BY x.p ORDER BY x.n / sqrt(CAST(ip.n AS DOUBLE) * iq.n) DESC, x.q) AS rn
        FROM pairs AS x
        JOIN item_orders AS ip ON ip.product_id = x.p
        JOIN item_orders AS iq ON iq.product_id = x.q
    ) AS ranked
    WHERE rn <= 20
),
owned AS (
    SELECT person_id, product_id, max(o.order_ts) AS last_bought
    FROM lines AS l
    JOIN (SELECT DISTINCT order_id, order_ts FROM gold_fact_sales) AS o USING (order_id)
    GROUP BY person_id, product_id
),
recent AS (
    SELECT person_id, product_id FROM (
        SELECT *, row_number() OVER (PARTITION BY person_id ORDER BY last_bought DESC, product_id) AS rn FROM owned
    ) AS r
    WHERE rn <= 5
),
candidates AS (
    SELECT r.person_id, s.q AS product_id, sum(s.sim) AS score,
           -- the recent product contributing most (ties: the larger id), as one sortable string
           max(lpad(CAST(CAST(round(s.sim * 1000000) AS BIGINT) AS VARCHAR), 8, '0') || s.p) AS best
    FROM recent AS r
    JOIN neighbours AS s ON s.p = r.product_id
    GROUP BY r.person_id, s.q
),
fresh AS (
    SELECT c.* FROM candidates AS c
    LEFT JOIN owned AS o ON o.person_id = c.person_id AND o.product_id = c.product_id
    WHERE o.product_id IS NULL
),
ranked AS (
    SELECT person_id, product_id, score, substr(best, 9) AS because_of,
           row_number() OVER (PARTITION BY person_id ORDER BY score DESC, product_id) AS rank
    FROM fresh
)
SELECT person_id, rank, product_id, round(score, 6) AS score, because_of
FROM ranked
WHERE rank <= (SELECT recommendations FROM c360_params)
