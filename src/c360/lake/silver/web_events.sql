-- silver.web_events: stream events deduplicated on event_id (the stream delivers at least once).
SELECT
    event_id,
    lower(event_type) AS event_type,
    {{ parse_ts(event_ts) }} AS event_ts,
    cookie_id,
    session_id,
    customer_id,
    page,
    upper(product_id) AS product_id,
    text
FROM bronze_events
QUALIFY row_number() OVER (PARTITION BY event_id ORDER BY _ingested_at, _position) = 1
