-- silver.customers: the current version of each CRM customer, standardised.
-- Latest wins by updated_at (then ingestion time); soft-deleted customers are removed.
WITH latest AS (
    SELECT *
    FROM bronze_crm_customers
    QUALIFY row_number() OVER (
        PARTITION BY customer_id ORDER BY updated_at DESC, _ingested_at DESC
    ) = 1
),
clean AS (
    SELECT
        customer_id,
        upper(substr(trim(first_name), 1, 1)) || lower(substr(trim(first_name), 2)) AS first_name,
        upper(substr(trim(last_name), 1, 1)) || lower(substr(trim(last_name), 2)) AS last_name,
        nullif(lower(trim(email)), '') AS email,
        nullif(regexp_replace(phone, '[^0-9+]', '', 'g'), '') AS phone,
        TRY_CAST(date_of_birth AS DATE) AS date_of_birth,
        upper(trim(gender)) AS gender,
        trim(city) AS city,
        upper(replace(trim(postcode), ' ', '')) AS postcode,
        upper(trim(country)) AS country,
        TRY_CAST(signup_date AS DATE) AS signup_date,
        lower(trim(loyalty_tier)) AS loyalty_tier,
        marketing_consent,
        TRY_CAST(updated_at AS TIMESTAMP) AS updated_at,
        is_deleted
    FROM latest
)
SELECT
    customer_id, first_name, last_name, email,
    coalesce(regexp_matches(email, '^[a-z0-9._%+-]+@[a-z0-9.-]+\.[a-z]{2,}$'), false) AS email_valid,
    phone, date_of_birth, gender, city, postcode, country, signup_date, loyalty_tier,
    marketing_consent, updated_at
FROM clean
WHERE NOT coalesce(is_deleted, false)
