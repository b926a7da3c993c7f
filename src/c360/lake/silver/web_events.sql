-- silver.web_events: stream events deduplicated on event_id (the stream delivers at least once;
-- the first delivery wins). is_late: the event's time is more than an hour behind the newest
-- event of the same cookie delivered before it. The stream is keyed by cookie, so a cookie's
-- events share a shard and arrive in order (positions order numerically: shorter is smaller);
-- across cookies the order says nothing (generators and producers interleave them freely).
WITH firsts AS (
    SELECT * FROM {{ latest_rows(bronze_events, event_id, _ingested_at+length(_position)+_position) }} AS l
),
typed AS (
    SELECT *, {{ parse_ts(event_ts) }} AS ts FROM firsts
)
SELECT
    event_id,
    {{ clean_label(event_type) }} AS event_type,
    ts AS event_ts,
    cookie_id,
    session_id,
    customer_id,
    page,
    {{ clean_code(product_id) }} AS product_id,
    {{ clean_label(social_network) }} AS social_network,
    text,
    coalesce(ts < max(ts) OVER (
        PARTITION BY cookie_id, _shard ORDER BY length(_position), _position
        ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) - INTERVAL 1 HOUR, false) AS is_late
FROM typed
