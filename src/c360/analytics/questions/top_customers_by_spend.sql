-- Top 10 customers by spend.
-- The ten persons with the highest spend net of returns (gold.customer_360), with their gross
-- spend, orders and AOV; ties broken by person id so the list is stable.
SELECT
    person_id,
    first_name,
    last_name,
    country,
    net_spend,
    total_spend,
    order_count,
    avg_order_value,
    segment
FROM gold_customer_360
WHERE order_count > 0
ORDER BY net_spend DESC, person_id
LIMIT 10
