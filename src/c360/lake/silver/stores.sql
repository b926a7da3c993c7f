-- silver.stores: the CRM stores, one row per store, ISO country codes.
SELECT
    {{ clean_code(store_id) }} AS store_id,
    trim(name) AS name,
    {{ clean_place(city) }} AS city,
    {{ country_iso2(country) }} AS country,
    {{ parse_date(opened_date) }} AS opened_date,
    _deleted_at IS NOT NULL AS is_deleted
FROM {{ latest_rows(bronze_crm_stores, store_id, _ingested_at DESC) }} AS l
