-- Alerts by detection day, kind and rule, with the number of codes they concern.
SELECT
    day,
    kind,
    rule,
    uniqExactMerge(alerts) AS alerts,
    uniqExactMerge(codes) AS codes
FROM alerts_daily
GROUP BY day, kind, rule
ORDER BY day, kind, rule
