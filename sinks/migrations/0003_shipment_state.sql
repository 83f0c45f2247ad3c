-- Latest status per code, from the status records. Several versions of a code coexist until
-- a merge: read it with FINAL (or argMax by version).
CREATE TABLE IF NOT EXISTS shipment_state
(
    code                String,
    version             UInt64,
    status              LowCardinality(String),
    sub_status          LowCardinality(String),
    previous_status     LowCardinality(Nullable(String)),
    previous_sub_status LowCardinality(Nullable(String)),
    changed_at          DateTime64(3, 'UTC'),
    cause_event_id      Nullable(String),
    emitted_at          DateTime64(3, 'UTC'),
    carrier             LowCardinality(Nullable(String)),
    tracking_number     Nullable(String),
    facility_id         Nullable(String),
    city                Nullable(String),
    country             LowCardinality(Nullable(String)),
    latitude            Nullable(Float64),
    longitude           Nullable(Float64),
    order_id            Nullable(String),
    seller_id           Nullable(String),
    origin_country      LowCardinality(Nullable(String)),
    destination_country LowCardinality(Nullable(String)),
    dispatched_at       Nullable(DateTime64(3, 'UTC')),
    first_scan_at       Nullable(DateTime64(3, 'UTC')),
    delivered_at        Nullable(DateTime64(3, 'UTC')),
    promised_delivery   Nullable(DateTime64(3, 'UTC')),
    suspected_clone     Bool,
    kafka_partition     UInt32,
    kafka_offset        UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY code
SETTINGS non_replicated_deduplication_window = 1000;
