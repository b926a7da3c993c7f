-- silver.customers: the current version of each CRM customer (from the SCD2 history), without
-- soft- and hard-deleted customers.
SELECT
    customer_id, first_name, last_name, email, email_valid, email_key, phone, phone_valid,
    date_of_birth, gender, street, city, postcode, country, signup_date, loyalty_tier,
    marketing_consent, preferred_channel, preferred_categories, updated_at, valid_from AS version_from
FROM silver_customers_history
WHERE is_current AND NOT is_deleted
