-- silver.partner_profiles: partner profiles standardised like CRM customers.
SELECT
    profile_id,
    {{ proper_name(first_name) }} AS first_name,
    {{ proper_name(last_name) }} AS last_name,
    {{ clean_email(email) }} AS email,
    {{ clean_phone(phone) }} AS phone,
    trim(city) AS city,
    {{ clean_code(country) }} AS country
FROM bronze_partner_profiles
QUALIFY row_number() OVER (PARTITION BY profile_id ORDER BY _ingested_at DESC, _source_file DESC) = 1
