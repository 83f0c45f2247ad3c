-- Accepted events per hour of event time and kind, for the last hours before the latest event.
-- @param hours UInt32 = 48  hours covered
WITH (SELECT max(event_time) FROM shipment_events) AS as_of
SELECT
    toStartOfHour(event_time) AS hour,
    countIf(kind = 'SCAN') AS scans,
    countIf(kind = 'DISPATCH') AS dispatches,
    countIf(kind = 'RETRACTION') AS retractions,
    count() AS events
FROM shipment_events
WHERE event_time > as_of - toIntervalHour({hours:UInt32})
GROUP BY hour
ORDER BY hour
