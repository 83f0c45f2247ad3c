-- Seller dispatch latency (dispatch to first carrier scan, hours) and SLA breaches by seller.
-- @param sla_hours UInt32 = 48  latency above which a dispatch counts as late
SELECT
    seller_id,
    any(seller_verified) AS verified,
    count() AS shipments,
    round(quantileExact(0.5)(latency_hours), 1) AS p50_hours,
    round(quantileExact(0.9)(latency_hours), 1) AS p90_hours,
    round(max(latency_hours), 1) AS max_hours,
    countIf(latency_hours > {sla_hours:UInt32}) AS late
FROM dispatch_latency FINAL
GROUP BY seller_id
ORDER BY late DESC, p90_hours DESC, seller_id
