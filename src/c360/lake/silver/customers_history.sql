-- silver.customers_history (SCD Type 2): the new versions of CRM customers since the history's
-- watermark, c360_watermark (the latest bronze change the history holds). history.py compares
-- each with the key's current version and closes the versions they replace in one Delta MERGE.
-- Bronze holds one row per customer (latest wins), so each key has at most one new version.
WITH changed AS (
    SELECT *, greatest(_ingested_at, coalesce(_deleted_at, _ingested_at)) AS _seen
    FROM bronze_crm_customers
    WHERE greatest(_ingested_at, coalesce(_deleted_at, _ingested_at)) > (SELECT wm FROM c360_watermark)
),
clean AS (
    SELECT
        customer_id,
        {{ person_fields() }},
        {{ clean_gender(gender) }} AS gender,
        {{ parse_date(signup_date) }} AS signup_date,
        {{ clean_label(loyalty_tier) }} AS loyalty_tier,
        marketing_consent,
        {{ clean_label(preferred_channel) }} AS preferred_channel,
        {{ clean_label(preferred_categories) }} AS preferred_categories,
        {{ parse_ts(updated_at) }} AS updated_at,
        coalesce(is_deleted, false) OR _deleted_at IS NOT NULL AS is_deleted,
        -- a hard delete is a version from the moment the key comparison found the row gone
        coalesce(_deleted_at, {{ parse_ts(updated_at) }}) AS valid_from,
        _seen AS _source_seen_at
    FROM changed
)
SELECT
    customer_id, first_name, last_name, email,
    {{ person_checks() }},
    phone,
    date_of_birth, gender, street, city, postcode, country, signup_date, loyalty_tier,
    marketing_consent, preferred_channel, preferred_categories, updated_at, is_deleted, valid_from,
    -- what makes a new version: any tracked attribute (not updated_at, which moves on every touch)
    md5(concat_ws('|', coalesce(first_name, ''), coalesce(last_name, ''), coalesce(email, ''),
        coalesce(phone, ''), coalesce(CAST(date_of_birth AS VARCHAR), ''), coalesce(gender, ''),
        coalesce(street, ''), coalesce(city, ''), coalesce(postcode, ''), coalesce(country, ''),
        coalesce(CAST(signup_date AS VARCHAR), ''), coalesce(loyalty_tier, ''),
        coalesce(CAST(marketing_consent AS VARCHAR), ''), coalesce(preferred_channel, ''),
        coalesce(preferred_categories, ''), CAST(is_deleted AS VARCHAR))) AS row_hash,
    _source_seen_at
FROM clean
