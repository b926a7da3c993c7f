-- gold.dim_store: the store dimension, with the size of each store's current sales team.
WITH team AS (
    SELECT store_id, count(*) AS salespeople FROM silver_salespeople WHERE NOT is_deleted GROUP BY store_id
)
SELECT s.store_id, s.name, s.city, s.country, s.opened_date, coalesce(t.salespeople, 0) AS salespeople
FROM silver_stores AS s
LEFT JOIN team AS t ON t.store_id = s.store_id
