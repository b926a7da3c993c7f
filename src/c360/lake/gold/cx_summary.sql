-- gold.cx_summary: satisfaction and NPS per survey type and channel, per type, per channel and in
-- total ('all'). NPS = % promoters (9-10) − % detractors (0-6); satisfaction from the average
-- CSAT (1-5): high ≥ 4, medium ≥ 3, else low. Percentages are 100 * a / b with integers: a literal
-- such as 100.0 is a DECIMAL on Spark, and decimal arithmetic rounds differently from DuckDB's doubles.
WITH grouped AS (
    SELECT
        CASE WHEN grouping(survey_type) = 1 THEN 'all' ELSE coalesce(survey_type, 'unknown') END AS survey_type,
        CASE WHEN grouping(channel) = 1 THEN 'all' ELSE coalesce(channel, 'unknown') END AS channel,
        count(*) AS responses,
        count(DISTINCT customer_id) AS unique_customers,
        sum(csat) AS csat_sum,
        count(CASE WHEN nps >= 9 THEN 1 END) AS promoters,
        count(CASE WHEN nps BETWEEN 7 AND 8 THEN 1 END) AS passives,
        count(CASE WHEN nps <= 6 THEN 1 END) AS detractors
    FROM silver_surveys
    GROUP BY GROUPING SETS ((survey_type, channel), (survey_type), (channel), ())
)
SELECT
    survey_type, channel, responses, unique_customers,
    round(csat_sum / responses, 3) AS avg_csat,
    round(100 * (promoters - detractors) / responses, 2) AS nps,
    promoters, passives, detractors,
    CASE WHEN csat_sum / responses >= 4 THEN 'high' WHEN csat_sum / responses >= 3 THEN 'medium' ELSE 'low' END
        AS satisfaction
FROM grouped
WHERE responses > 0
