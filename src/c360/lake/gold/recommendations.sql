-- gold.recommendations: next-best products per buyer, by item-item co-occurrence.
-- Two products are similar when they are bought in the same orders: cosine similarity of their
-- order sets, n(p and q) / sqrt(n(p) × n(q)); each product keeps its 10 nearest. A buyer's
-- candidates are the neighbours of their 3 most recently bought products, scored by summed
-- similarity; products they already bought are never recommended. (20 neighbours of 5 products
-- hit 0.52 instead of 0.45 at XS but took 79 s instead of 28 s at M: decision 0013.) Co-occurrence within orders
-- (not within a buyer's whole history) keeps the pair count linear in orders.
-- The heavy steps (~100M candidate rows at M) work on integer numbers for persons and products
-- (strings are mapped back at the end), and the product that contributes most is picked with
-- max_by over a unique integer key (similarity in millionths, then the product number).
WITH lines AS (
    SELECT DISTINCT order_id, person_id, product_id, order_ts
    FROM gold_fact_sales
    WHERE person_id IS NOT NULL AND product_known
),
products AS (
    SELECT product_id, row_number() OVER (ORDER BY product_id) AS pn, count(*) AS n
    FROM lines GROUP BY product_id
),
persons AS (
    SELECT person_id, row_number() OVER (ORDER BY person_id) AS cn FROM (SELECT DISTINCT person_id FROM lines) AS p
),
numbered AS (
    SELECT l.order_id, c.cn, p.pn, l.order_ts
    FROM lines AS l
    JOIN products AS p ON p.product_id = l.product_id
    JOIN persons AS c ON c.person_id = l.person_id
),
pairs AS (
    SELECT a.pn AS p, b.pn AS q, count(*) AS n
    FROM numbered AS a
    JOIN numbered AS b ON a.order_id = b.order_id AND a.pn <> b.pn
    GROUP BY a.pn, b.pn
),
neighbours AS (
    SELECT p, q, sim FROM (
        SELECT x.p, x.q, x.n / sqrt(CAST(ip.n AS DOUBLE) * iq.n) AS sim,
               row_number() OVER (PARTITION BY x.p ORDER BY x.n / sqrt(CAST(ip.n AS DOUBLE) * iq.n) DESC, x.q) AS rn
        FROM pairs AS x
        JOIN products AS ip ON ip.pn = x.p
        JOIN products AS iq ON iq.pn = x.q
    ) AS ranked
    WHERE rn <= 10
),
owned AS (
    SELECT cn, pn, max(order_ts) AS last_bought FROM numbered GROUP BY cn, pn
),
recent AS (
    SELECT cn, pn FROM (
        SELECT *, row_number() OVER (PARTITION BY cn ORDER BY last_bought DESC, pn) AS rn FROM owned
    ) AS r
    WHERE rn <= 3
),
candidates AS (
    SELECT r.cn, s.q AS pn, sum(s.sim) AS score,
           max_by(s.p, CAST(round(s.sim * 1000000) AS BIGINT) * 100000000 + s.p) AS because_of
    FROM recent AS r
    JOIN neighbours AS s ON s.p = r.pn
    GROUP BY r.cn, s.q
),
ranked AS (
    SELECT c.cn, c.pn, c.score, c.because_of,
           row_number() OVER (PARTITION BY c.cn ORDER BY c.score DESC, c.pn) AS rank
    FROM candidates AS c
    LEFT JOIN owned AS o ON o.cn = c.cn AND o.pn = c.pn
    WHERE o.pn IS NULL
)
SELECT c.person_id, r.rank, p.product_id, round(r.score, 6) AS score, b.product_id AS because_of
FROM ranked AS r
JOIN persons AS c ON c.cn = r.cn
JOIN products AS p ON p.pn = r.pn
JOIN products AS b ON b.pn = r.because_of
WHERE r.rank <= (SELECT recommendations FROM c360_params)
