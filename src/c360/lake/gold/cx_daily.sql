-- gold.cx_daily: per day, survey type and channel: responses, customers, average CSAT, NPS and
-- satisfaction, with 7-day rolling figures (the day and the 6 before it). The window ranges over
-- an integer day number, not a DATE: Sail silently returns a running total for RANGE INTERVAL
-- over a DATE (shared ENGINES notes). Rolling averages are sums over sums, not averages of days.
WITH daily AS (
    SELECT
        CAST(responded_at AS DATE) AS date,
        coalesce(survey_type, 'unknown') AS survey_type,
        coalesce(channel, 'unknown') AS channel,
        count(*) AS responses,
        count(DISTINCT customer_id) AS unique_customers,
        sum(csat) AS csat_sum,
        count(CASE WHEN nps >= 9 THEN 1 END) - count(CASE WHEN nps <= 6 THEN 1 END) AS net_promoters
    FROM silver_surveys
    GROUP BY CAST(responded_at AS DATE), coalesce(survey_type, 'unknown'), coalesce(channel, 'unknown')
),
rolled AS (
    SELECT *,
        sum(responses) OVER w AS r_responses,
        sum(csat_sum) OVER w AS r_csat_sum,
        sum(net_promoters) OVER w AS r_net_promoters
    FROM (SELECT *, date_diff('day', DATE '1970-01-01', date) AS day_no FROM daily) AS d
    WINDOW w AS (PARTITION BY survey_type, channel ORDER BY day_no RANGE BETWEEN 6 PRECEDING AND CURRENT ROW)
)
SELECT
    date, survey_type, channel, responses, unique_customers,
    round(csat_sum / responses, 3) AS avg_csat,
    round(100 * net_promoters / responses, 2) AS nps,
    CASE WHEN csat_sum / responses >= 4 THEN 'high' WHEN csat_sum / responses >= 3 THEN 'medium' ELSE 'low' END
        AS satisfaction,
    r_responses AS rolling_7d_responses,
    round(r_csat_sum / r_responses, 3) AS rolling_7d_avg_csat,
    round(100 * r_net_promoters / r_responses, 2) AS rolling_7d_nps
FROM rolled
