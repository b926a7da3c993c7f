-- silver.feedback: one row per feedback_id, timestamp parsed.
SELECT
    feedback_id,
    customer_id,
    rating,
    trim(comment) AS comment,
    {{ parse_ts(submitted_at) }} AS submitted_at
FROM {{ latest_rows(bronze_feedback, feedback_id, _ingested_at DESC+_source_file DESC) }} AS l
