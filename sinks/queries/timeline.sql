-- Every event of one shipment in event-time order; retracted events are marked.
-- @param code String  canonical traceability code
SELECT
    event_time,
    event_utc_offset_minutes,
    kind,
    event_status,
    event_sub_status,
    shipment_status,
    shipment_sub_status,
    carrier,
    tracking_number,
    city,
    country,
    raw_description,
    late,
    event_id IN (
        SELECT retracts_event_id FROM shipment_events
        WHERE code = {code:String} AND kind = 'RETRACTION'
    ) AS retracted,
    event_id
FROM shipment_events
WHERE code = {code:String}
ORDER BY event_time, event_id
