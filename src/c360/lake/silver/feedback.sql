-- silver.feedback: one row per feedback_id, timestamp parsed.
SELECT
    feedback_id,
    customer_id,
    rating,
    trim(comment) AS comment,
    {{ parse_ts(submitted_at) }} AS submitted_at
FROM bronze_feedback
QUALIFY row_number() OVER (PARTITION BY feedback_id ORDER BY _ingested_at DESC, _source_file DESC) = 1
