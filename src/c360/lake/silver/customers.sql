-- silver.customers: the current version of each CRM customer, standardised (rules: c360/lake/rules.py).
-- Latest wins by updated_at (then ingestion time); soft- and hard-deleted customers are removed.
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
        {{ proper_name(first_name) }} AS first_name,
        {{ proper_name(last_name) }} AS last_name,
        {{ clean_email(email) }} AS email,
        {{ clean_phone(phone) }} AS phone,
        TRY_CAST(date_of_birth AS DATE) AS date_of_birth,
        {{ clean_code(gender) }} AS gender,
        trim(city) AS city,
        upper(replace(trim(postcode), ' ', '')) AS postcode,
        {{ clean_code(country) }} AS country,
        TRY_CAST(signup_date AS DATE) AS signup_date,
        lower(trim(loyalty_tier)) AS loyalty_tier,
        marketing_consent,
        TRY_CAST(updated_at AS TIMESTAMP) AS updated_at,
        is_deleted,
        _deleted_at
    FROM latest
)
SELECT
    customer_id, first_name, last_name, email,
    {{ email_is_valid(email) }} AS email_valid,
    phone, date_of_birth, gender, city, postcode, country, signup_date, loyalty_tier,
    marketing_consent, updated_at
FROM clean
WHERE NOT coalesce(is_deleted, false) AND _deleted_at IS NULL  -- soft- and hard-deleted
