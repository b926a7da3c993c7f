-- gold.fact_orders: one row per order (the order header), summed from its lines in
-- gold.fact_sales. Models that count orders or sum spend per person or per day read this table:
-- no COUNT(DISTINCT order_id) over every line (at M, 10.2M orders instead of 18.2M lines).
-- An order's person, customer, time, channel, store and salesperson are the same on all its
-- lines (they come from the order); min() picks that value. Money in integer cents until the end.
SELECT
    order_id,
    min(person_id) AS person_id,
    min(customer_id) AS customer_id,
    min(order_ts) AS order_ts,
    min(order_date) AS order_date,
    min(date_key) AS date_key,
    min(channel) AS channel,
    min(store_id) AS store_id,
    min(salesperson_id) AS salesperson_id,
    count(*) AS lines,
    sum(quantity) AS units,
    sum(CAST(round(amount * 100) AS BIGINT)) / 100 AS amount,
    sum(CAST(round(returned_amount * 100) AS BIGINT)) / 100 AS returned_amount,
    count(CASE WHEN is_returned THEN 1 END) AS returned_lines
FROM gold_fact_sales
GROUP BY order_id
