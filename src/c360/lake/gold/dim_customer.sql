-- gold.dim_customer: the golden record, one row per person. Every record identity resolution put
-- in the person is a candidate; each attribute group survives from one record, ranked by:
--   1. usable: the value is there and valid (a checked email / E.164 phone; the most complete
--      address; both names),
--   2. source trust: CRM (2) > partner profile (1) > guest-order contact (0),
--   3. recency: the most recently updated record (profiles carry no update time: oldest),
--   4. the record key, so that ties break the same way on every engine and run.
-- CRM-only attributes (gender, tier, consent, preferences) come from the person's most recently
-- updated CRM record: the latest expressed consent wins; signup is the earliest.
WITH ids AS (
    SELECT record_key, source, record_id, person_id FROM silver_identity_map
),
contacts AS (
    SELECT md5(email_key) AS record_id, min(email) AS email, max(order_ts) AS seen_at
    FROM silver_orders
    WHERE email_key IS NOT NULL AND (customer_id IS NULL OR NOT customer_known)
    GROUP BY md5(email_key)
),
candidates AS (
    SELECT i.person_id, i.record_key, 2 AS trust, c.updated_at AS seen_at, c.first_name, c.last_name, c.email,
           c.email_valid, c.email_key, c.phone, c.phone_valid, c.street, c.city, c.postcode, c.country,
           c.date_of_birth, c.gender, c.signup_date, c.loyalty_tier, c.marketing_consent, c.preferred_channel,
           c.preferred_categories
    FROM silver_customers AS c
    JOIN ids AS i ON i.record_key = 'crm:' || CAST(c.customer_id AS VARCHAR)
    UNION ALL
    SELECT i.person_id, i.record_key, 1, CAST(NULL AS TIMESTAMP), p.first_name, p.last_name, p.email,
           p.email_valid, p.email_key, p.phone, p.phone_valid, p.street, p.city, p.postcode, p.country,
           p.date_of_birth, NULL, NULL, NULL, NULL, NULL, NULL
    FROM silver_partner_profiles AS p
    JOIN ids AS i ON i.record_key = 'profile:' || p.profile_id
    UNION ALL
    SELECT i.person_id, i.record_key, 0, o.seen_at, NULL, NULL, o.email, {{ email_is_valid(o.email) }}, NULL,
           NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL
    FROM contacts AS o
    JOIN ids AS i ON i.record_key = 'order:' || o.record_id
),
ranked AS (
    SELECT *,
        row_number() OVER (PARTITION BY person_id ORDER BY
            CASE WHEN first_name IS NOT NULL AND last_name IS NOT NULL THEN 1 ELSE 0 END DESC,
            trust DESC, seen_at DESC NULLS LAST, record_key) AS name_rank,
        row_number() OVER (PARTITION BY person_id ORDER BY
            CASE WHEN email_valid THEN 2 WHEN email IS NOT NULL THEN 1 ELSE 0 END DESC,
            trust DESC, seen_at DESC NULLS LAST, record_key) AS email_rank,
        row_number() OVER (PARTITION BY person_id ORDER BY
            CASE WHEN phone_valid THEN 2 WHEN phone IS NOT NULL THEN 1 ELSE 0 END DESC,
            trust DESC, seen_at DESC NULLS LAST, record_key) AS phone_rank,
        row_number() OVER (PARTITION BY person_id ORDER BY
            CASE WHEN street IS NOT NULL THEN 1 ELSE 0 END + CASE WHEN city IS NOT NULL THEN 1 ELSE 0 END
            + CASE WHEN postcode IS NOT NULL THEN 1 ELSE 0 END + CASE WHEN country IS NOT NULL THEN 1 ELSE 0 END DESC,
            trust DESC, seen_at DESC NULLS LAST, record_key) AS address_rank,
        row_number() OVER (PARTITION BY person_id ORDER BY
            CASE WHEN date_of_birth IS NOT NULL THEN 1 ELSE 0 END DESC,
            trust DESC, seen_at DESC NULLS LAST, record_key) AS dob_rank,
        row_number() OVER (PARTITION BY person_id ORDER BY
            trust DESC, seen_at DESC NULLS LAST, record_key) AS latest_rank
    FROM candidates
),
crm_ids AS (
    SELECT person_id,
        array_to_string(list_sort(list(record_id)), ',') AS crm_customer_ids
    FROM ids WHERE source = 'crm' GROUP BY person_id
),
profile_ids AS (
    SELECT person_id, array_to_string(list_sort(list(record_id)), ',') AS profile_ids
    FROM ids WHERE source = 'profile' GROUP BY person_id
),
counts AS (
    SELECT person_id,
        count(CASE WHEN source = 'order' THEN 1 END) AS order_contacts,
        count(CASE WHEN source = 'web' THEN 1 END) AS cookies
    FROM ids GROUP BY person_id
),
picked AS (
    SELECT person_id,
        max(CASE WHEN name_rank = 1 THEN first_name END) AS first_name,
        max(CASE WHEN name_rank = 1 THEN last_name END) AS last_name,
        max(CASE WHEN name_rank = 1 AND first_name IS NOT NULL THEN record_key END) AS name_from,
        -- an invalid email survives only as its repaired mailbox (email_key: "a at x dot com" → a@x.com)
        max(CASE WHEN email_rank = 1 THEN CASE WHEN email_valid THEN email ELSE coalesce(email_key, email) END END)
            AS email,
        max(CASE WHEN email_rank = 1 AND email IS NOT NULL THEN record_key END) AS email_from,
        max(CASE WHEN phone_rank = 1 THEN phone END) AS phone,
        max(CASE WHEN phone_rank = 1 AND phone IS NOT NULL THEN record_key END) AS phone_from,
        max(CASE WHEN address_rank = 1 THEN street END) AS street,
        max(CASE WHEN address_rank = 1 THEN city END) AS city,
        max(CASE WHEN address_rank = 1 THEN postcode END) AS postcode,
        max(CASE WHEN address_rank = 1 THEN country END) AS country,
        max(CASE WHEN address_rank = 1 AND coalesce(street, city, postcode, country) IS NOT NULL
                 THEN record_key END) AS address_from,
        max(CASE WHEN dob_rank = 1 THEN date_of_birth END) AS date_of_birth,
        min(signup_date) AS signup_date
    FROM ranked
    GROUP BY person_id
),
latest_crm AS (
    SELECT person_id, gender, loyalty_tier, marketing_consent, preferred_channel, preferred_categories
    FROM (
        SELECT *, row_number() OVER (PARTITION BY person_id ORDER BY seen_at DESC NULLS LAST, record_key) AS rn
        FROM candidates WHERE trust = 2
    ) AS c
    WHERE rn = 1
)
SELECT
    p.person_id, p.first_name, p.last_name, p.email, {{ email_is_valid(p.email) }} AS email_valid, p.phone,
    p.street, p.city, p.postcode, p.country, p.date_of_birth, l.gender, p.signup_date, l.loyalty_tier,
    l.marketing_consent, l.preferred_channel, l.preferred_categories, c.crm_customer_ids, f.profile_ids,
    n.order_contacts, n.cookies, p.name_from, p.email_from, p.phone_from, p.address_from
FROM picked AS p
JOIN counts AS n ON n.person_id = p.person_id
LEFT JOIN latest_crm AS l ON l.person_id = p.person_id
LEFT JOIN crm_ids AS c ON c.person_id = p.person_id
LEFT JOIN profile_ids AS f ON f.person_id = p.person_id
