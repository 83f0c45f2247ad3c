-- p50/p90 transit time (dispatch to delivery, hours) by carrier and lane.
-- @param min_shipments UInt32 = 1  lanes with fewer delivered shipments are left out
SELECT
    carrier,
    origin_country,
    destination_country,
    uniqExactMerge(shipments) AS delivered,
    round(quantilesExactMerge(0.5, 0.9)(transit_hours)[1], 1) AS p50_hours,
    round(quantilesExactMerge(0.5, 0.9)(transit_hours)[2], 1) AS p90_hours,
    round(avgMerge(avg_transit_hours), 1) AS avg_hours
FROM transit_daily
GROUP BY carrier, origin_country, destination_country
HAVING delivered >= {min_shipments:UInt32}
ORDER BY carrier, origin_country, destination_country
