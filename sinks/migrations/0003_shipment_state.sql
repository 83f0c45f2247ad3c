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

-- Staging table of the status records (see shipment_events_avro).
CREATE TABLE IF NOT EXISTS shipment_state_avro
(
    kafka_partition Int32,
    kafka_offset    Int64,
    value Tuple(
        code                String,
        version             Int64,
        status              String,
        sub_status          String,
        previous_status     Nullable(String),
        previous_sub_status Nullable(String),
        changed_at          Int64,
        cause_event_id      Nullable(String),
        emitted_at          Int64,
        carrier             Nullable(String),
        tracking_number     Nullable(String),
        location            Nullable(Tuple(facility_id Nullable(String), city Nullable(String), country Nullable(String), latitude Nullable(Float64), longitude Nullable(Float64))),
        order_id            Nullable(String),
        seller_id           Nullable(String),
        origin_country      Nullable(String),
        destination_country Nullable(String),
        dispatched_at       Nullable(Int64),
        first_scan_at       Nullable(Int64),
        delivered_at        Nullable(Int64),
        promised_delivery   Nullable(Int64),
        suspected_clone     Bool
    )
)
ENGINE = Null;

CREATE MATERIALIZED VIEW IF NOT EXISTS shipment_state_from_avro TO shipment_state AS
SELECT
    value.code AS code,
    value.version AS version,
    value.status AS status,
    value.sub_status AS sub_status,
    value.previous_status AS previous_status,
    value.previous_sub_status AS previous_sub_status,
    fromUnixTimestamp64Milli(value.changed_at, 'UTC') AS changed_at,
    value.cause_event_id AS cause_event_id,
    fromUnixTimestamp64Milli(value.emitted_at, 'UTC') AS emitted_at,
    value.carrier AS carrier,
    value.tracking_number AS tracking_number,
    value.location.facility_id AS facility_id,
    value.location.city AS city,
    value.location.country AS country,
    value.location.latitude AS latitude,
    value.location.longitude AS longitude,
    value.order_id AS order_id,
    value.seller_id AS seller_id,
    value.origin_country AS origin_country,
    value.destination_country AS destination_country,
    fromUnixTimestamp64Milli(value.dispatched_at, 'UTC') AS dispatched_at,
    fromUnixTimestamp64Milli(value.first_scan_at, 'UTC') AS first_scan_at,
    fromUnixTimestamp64Milli(value.delivered_at, 'UTC') AS delivered_at,
    fromUnixTimestamp64Milli(value.promised_delivery, 'UTC') AS promised_delivery,
    value.suspected_clone AS suspected_clone,
    kafka_partition,
    kafka_offset
FROM shipment_state_avro;
