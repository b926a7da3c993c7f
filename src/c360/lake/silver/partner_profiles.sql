-- silver.partner_profiles: partner profiles standardised with the same rules as CRM customers
-- (identity resolution links the two); latest delivery wins per profile_id.
WITH latest AS (
    SELECT * FROM {{ latest_rows(bronze_partner_profiles, profile_id, _ingested_at DESC+_source_file DESC) }} AS l
),
clean AS (
    SELECT
        profile_id,
        {{ person_fields() }}
    FROM latest
)
SELECT
    profile_id, first_name, last_name, email,
    {{ person_checks() }},
    phone,
    date_of_birth, street, city, postcode, country
FROM clean
