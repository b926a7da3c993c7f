-- silver.returns: returned order lines, one row per return, timestamps parsed.
SELECT
    return_id,
    order_id,
    line_no,
    customer_id,
    {{ parse_ts(returned_at) }} AS returned_at,
    {{ clean_label(reason) }} AS reason,
    {{ clean_amount(amount) }} AS amount
FROM {{ latest_rows(bronze_crm_returns, return_id, _ingested_at DESC) }} AS l
WHERE _deleted_at IS NULL
