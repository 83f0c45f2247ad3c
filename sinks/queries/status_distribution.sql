-- Shipments by current status and sub-status, with their share of all shipments.
SELECT
    status,
    sub_status,
    count() AS shipments,
    round(100 * shipments / sum(shipments) OVER (), 1) AS percent
FROM shipment_state FINAL
GROUP BY status, sub_status
ORDER BY shipments DESC, status, sub_status
