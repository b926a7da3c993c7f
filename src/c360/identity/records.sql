-- The identity records of the lake, as matching features (identity/prepare.py FEATURES), from silver
-- tables whose columns are already standardised: CRM customers and partner profiles (matched by
-- rules and Splink), and the contact emails of orders that carry no known customer id (matched
-- by email only). Web cookies join through login events (identity/stage.py).
WITH people AS (
    SELECT 'crm' AS source, CAST(customer_id AS VARCHAR) AS record_id, first_name, last_name, email_key, phone,
           date_of_birth, street, city, postcode, country
    FROM silver_customers
    UNION ALL
    SELECT 'profile', profile_id, first_name, last_name, email_key, phone, date_of_birth, street, city,
           postcode, country
    FROM silver_partner_profiles
),
contacts AS (
    SELECT DISTINCT email_key FROM silver_orders
    WHERE email_key IS NOT NULL AND (customer_id IS NULL OR NOT customer_known)
)
SELECT
    source || ':' || record_id AS record_key, source, record_id,
    {{ name_key(first_name) }} AS first_name_key,
    {{ name_key(last_name) }} AS last_name_key,
    email_key, phone, CAST(date_of_birth AS VARCHAR) AS dob,
    {{ address_key(street) }} AS address_key,
    {{ name_key(city) }} AS city_key, postcode, CAST(NULL AS VARCHAR) AS state_key, country
FROM people
UNION ALL
-- an order contact is known by a hash of its email: the map names no address
SELECT 'order:' || md5(email_key), 'order', md5(email_key), NULL, NULL, email_key, NULL, NULL, NULL, NULL, NULL, NULL, NULL
FROM contacts
