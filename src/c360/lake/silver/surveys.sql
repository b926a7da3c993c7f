-- silver.surveys: NPS/CSAT survey responses, one row per survey_id (latest delivery wins),
-- timestamps parsed, survey types and channels as labels.
SELECT
    survey_id,
    customer_id,
    {{ clean_label(survey_type) }} AS survey_type,
    {{ clean_label(channel) }} AS channel,
    nps,
    csat,
    {{ parse_ts(responded_at) }} AS responded_at,
    nullif(trim(comment), '') AS comment
FROM {{ latest_rows(bronze_surveys, survey_id, _ingested_at DESC+_source_file DESC) }} AS l
