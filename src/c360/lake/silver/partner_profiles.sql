-- silver.partner_profiles: partner profiles standardised like CRM customers.
SELECT
    profile_id,
    upper(substr(trim(first_name), 1, 1)) || lower(substr(trim(first_name), 2)) AS first_name,
    upper(substr(trim(last_name), 1, 1)) || lower(substr(trim(last_name), 2)) AS last_name,
    nullif(lower(trim(email)), '') AS email,
    nullif(regexp_replace(phone, '[^0-9+]', '', 'g'), '') AS phone,
    trim(city) AS city,
    upper(trim(country)) AS country
FROM bronze_partner_profiles
QUALIFY row_number() OVER (PARTITION BY profile_id ORDER BY _ingested_at DESC, _source_file DESC) = 1
