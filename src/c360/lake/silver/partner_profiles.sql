-- silver.partner_profiles: partner profiles standardised with the same rules as CRM customers
-- (identity resolution links the two); latest delivery wins per profile_id.
WITH latest AS (
    SELECT * FROM {{ latest_rows(bronze_partner_profiles, profile_id, _ingested_at DESC+_source_file DESC) }} AS l
),
clean AS (
    SELECT
        profile_id,
        {{ proper_name(first_name) }} AS first_name,
        {{ proper_name(last_name) }} AS last_name,
        {{ clean_email(email) }} AS email,
        {{ e164(phone, country) }} AS phone,
        nullif(trim(phone), '') IS NOT NULL AS has_phone,
        {{ parse_date(date_of_birth) }} AS date_of_birth,
        {{ clean_street(street) }} AS street,
        {{ clean_place(city) }} AS city,
        {{ clean_postcode(postcode) }} AS postcode,
        {{ country_iso2(country) }} AS country
    FROM latest
)
SELECT
    profile_id, first_name, last_name, email,
    {{ email_is_valid(email) }} AS email_valid,
    {{ email_key(email) }} AS email_key,
    phone,
    CASE WHEN has_phone THEN phone IS NOT NULL END AS phone_valid,
    date_of_birth, street, city, postcode, country
FROM clean
