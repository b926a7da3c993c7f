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
    -- the preference every attribute group shares after usability: trust, recency, record key
    SELECT *, row_number() OVER (PARTITION BY person_id ORDER BY trust DESC, seen_at DESC NULLS LAST, record_key)
        AS pref
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
    -- per attribute group the record first by usability, then by that preference (one integer,
    -- usability in the high bits): min_by over it, one aggregate pass instead of a window per
    -- group. The winner's values travel as one struct, so a null value of the winner stays null
    -- (DuckDB's arg_min skips null arguments; a struct is never null).
    SELECT person_id,
        arg_min({'first_name': first_name, 'last_name': last_name, 'key': record_key},
                CASE WHEN first_name IS NOT NULL AND last_name IS NOT NULL THEN 0 ELSE 1 END * 4294967296 + pref)
            AS nm,
        arg_min({'email': email, 'email_valid': email_valid, 'email_key': email_key, 'key': record_key},
                CASE WHEN email_valid THEN 0 WHEN email IS NOT NULL THEN 1 ELSE 2 END * 4294967296 + pref) AS em,
        arg_min({'phone': phone, 'key': record_key},
                CASE WHEN phone_valid THEN 0 WHEN phone IS NOT NULL THEN 1 ELSE 2 END * 4294967296 + pref) AS ph,
        arg_min({'street': street, 'city': city, 'postcode': postcode, 'country': country, 'key': record_key},
                (4 - CASE WHEN street IS NOT NULL THEN 1 ELSE 0 END - CASE WHEN city IS NOT NULL THEN 1 ELSE 0 END
                   - CASE WHEN postcode IS NOT NULL THEN 1 ELSE 0 END - CASE WHEN country IS NOT NULL THEN 1 ELSE 0 END)
                * 4294967296 + pref) AS ad,
        arg_min({'date_of_birth': date_of_birth},
                CASE WHEN date_of_birth IS NOT NULL THEN 0 ELSE 1 END * 4294967296 + pref) AS bd,
        -- the newest CRM record comes first in the preference (trust 2 is the highest)
        arg_min(CASE WHEN trust = 2 THEN {'gender': gender, 'loyalty_tier': loyalty_tier,
                                          'marketing_consent': marketing_consent,
                                          'preferred_channel': preferred_channel,
                                          'preferred_categories': preferred_categories} END, pref) AS crm,
        min(signup_date) AS signup_date
    FROM ranked
    GROUP BY person_id
),
golden AS (
    SELECT
        p.person_id, p.nm.first_name AS first_name, p.nm.last_name AS last_name,
        -- an invalid email survives only as its repaired mailbox (email_key: "a at x dot com" → a@x.com)
        CASE WHEN p.em.email_valid THEN p.em.email ELSE coalesce(p.em.email_key, p.em.email) END AS email,
        p.ph.phone AS phone, p.ad.street AS street, p.ad.city AS city, p.ad.postcode AS postcode,
        p.ad.country AS country, p.bd.date_of_birth AS date_of_birth, p.crm.gender AS gender, p.signup_date,
        p.crm.loyalty_tier AS loyalty_tier, p.crm.marketing_consent AS marketing_consent,
        p.crm.preferred_channel AS preferred_channel, p.crm.preferred_categories AS preferred_categories,
        c.crm_customer_ids, f.profile_ids, n.order_contacts, n.cookies,
        CASE WHEN p.nm.first_name IS NOT NULL THEN p.nm.key END AS name_from,
        CASE WHEN p.em.email IS NOT NULL THEN p.em.key END AS email_from,
        CASE WHEN p.ph.phone IS NOT NULL THEN p.ph.key END AS phone_from,
        CASE WHEN coalesce(p.ad.street, p.ad.city, p.ad.postcode, p.ad.country) IS NOT NULL THEN p.ad.key END
            AS address_from
    FROM picked AS p
    JOIN counts AS n ON n.person_id = p.person_id
    LEFT JOIN crm_ids AS c ON c.person_id = p.person_id
    LEFT JOIN profile_ids AS f ON f.person_id = p.person_id
)
SELECT *, {{ email_is_valid(email) }} AS email_valid FROM golden
