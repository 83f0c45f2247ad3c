-- Shipments in transit whose last scan is older than a threshold, as of the latest event time.
-- @param hours UInt32 = 72  hours without a scan
-- @param limit UInt32 = 100  most shipments listed
WITH (SELECT max(event_time) FROM shipment_events) AS as_of
SELECT
    state.code AS code,
    state.status AS status,
    state.sub_status AS sub_status,
    state.carrier AS carrier,
    scans.last_scan AS last_scan,
    dateDiff('hour', scans.last_scan, as_of) AS hours_since_scan
FROM shipment_state AS state FINAL
INNER JOIN
(
    SELECT code, max(event_time) AS last_scan
    FROM shipment_events
    WHERE kind = 'SCAN'
    GROUP BY code
) AS scans ON scans.code = state.code
WHERE state.status IN ('IN_TRANSIT', 'OUT_FOR_DELIVERY')
  AND scans.last_scan <= as_of - toIntervalHour({hours:UInt32})
ORDER BY hours_since_scan DESC, code
LIMIT {limit:UInt32}
