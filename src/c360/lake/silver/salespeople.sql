-- silver.salespeople: the sales team, one row per salesperson, with their store.
SELECT
    {{ clean_code(salesperson_id) }} AS salesperson_id,
    {{ clean_code(store_id) }} AS store_id,
    {{ proper_name(first_name) }} AS first_name,
    {{ proper_name(last_name) }} AS last_name,
    {{ clean_email(email) }} AS email,
    {{ parse_date(hired_date) }} AS hired_date,
    _deleted_at IS NOT NULL AS is_deleted
FROM {{ latest_rows(bronze_crm_salespeople, salesperson_id, _ingested_at DESC) }} AS l
