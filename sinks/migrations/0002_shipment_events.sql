-- Every history record (one accepted scan, dispatch or retraction with its shipment context).
-- The retention TTL is not part of this migration: the sink reconciles it with the
-- TRACECODE_SINK_TTL_DAYS setting at every start (sinks/migrations/__init__.py).
CREATE TABLE IF NOT EXISTS shipment_events
(
    event_id                  String,
    code                      String,
    kind                      LowCardinality(String),
    event_time                DateTime64(3, 'UTC'),
    event_utc_offset_minutes  Int16,
    received_time             DateTime64(3, 'UTC'),
    processed_time            DateTime64(3, 'UTC'),
    late                      Bool,
    source                    LowCardinality(String),
    carrier                   LowCardinality(Nullable(String)),
    tracking_number           Nullable(String),
    raw_event_code            LowCardinality(Nullable(String)),
    raw_description           Nullable(String),
    event_status              LowCardinality(Nullable(String)),
    event_sub_status          LowCardinality(Nullable(String)),
    facility_id               Nullable(String),
    city                      Nullable(String),
    country                   LowCardinality(Nullable(String)),
    latitude                  Nullable(Float64),
    longitude                 Nullable(Float64),
    retracts_event_id         Nullable(String),
    shipment_status           LowCardinality(String),
    shipment_sub_status       LowCardinality(String),
    status_version            UInt32,
    order_id                  Nullable(String),
    seller_id                 Nullable(String),
    seller_verified           Nullable(Bool),
    sku                       Nullable(String),
    gtin                      Nullable(String),
    serial                    Nullable(String),
    origin_country            LowCardinality(Nullable(String)),
    origin_city               Nullable(String),
    origin_postal_prefix      Nullable(String),
    destination_country       LowCardinality(Nullable(String)),
    destination_city          Nullable(String),
    destination_postal_prefix Nullable(String),
    dispatched_at             Nullable(DateTime64(3, 'UTC')),
    promised_ship_by          Nullable(DateTime64(3, 'UTC')),
    promised_delivery         Nullable(DateTime64(3, 'UTC')),
    first_scan_at             Nullable(DateTime64(3, 'UTC')),
    kafka_partition           UInt32,
    kafka_offset              UInt64
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(event_time)
ORDER BY (code, event_time, event_id)
SETTINGS non_replicated_deduplication_window = 1000;

-- The sink inserts batches here as Avro (sinks/avro.py): the envelope's Kafka coordinates and
-- the history record as a tuple with the Avro field names. Engine Null keeps nothing; the view
-- below maps each record to a shipment_events row. Avro enums arrive as strings, timestamps
-- as epoch milliseconds.
CREATE TABLE IF NOT EXISTS shipment_events_avro
(
    kafka_partition Int32,
    kafka_offset    Int64,
    value Tuple(
        event_id                 String,
        code                     String,
        kind                     String,
        event_time               Int64,
        event_utc_offset_minutes Int32,
        received_time            Int64,
        processed_time           Int64,
        late                     Bool,
        source                   String,
        carrier                  Nullable(String),
        tracking_number          Nullable(String),
        raw_event_code           Nullable(String),
        raw_description          Nullable(String),
        event_status             Nullable(String),
        event_sub_status         Nullable(String),
        location                 Nullable(Tuple(facility_id Nullable(String), city Nullable(String), country Nullable(String), latitude Nullable(Float64), longitude Nullable(Float64))),
        retracts_event_id        Nullable(String),
        shipment_status          String,
        shipment_sub_status      String,
        status_version           Int64,
        order_id                 Nullable(String),
        seller_id                Nullable(String),
        seller_verified          Nullable(Bool),
        sku                      Nullable(String),
        gtin                     Nullable(String),
        serial                   Nullable(String),
        origin                   Nullable(Tuple(country String, city Nullable(String), postal_prefix Nullable(String))),
        destination              Nullable(Tuple(country String, city Nullable(String), postal_prefix Nullable(String))),
        dispatched_at            Nullable(Int64),
        promised_ship_by         Nullable(Int64),
        promised_delivery        Nullable(Int64),
        first_scan_at            Nullable(Int64)
    )
)
ENGINE = Null;

CREATE MATERIALIZED VIEW IF NOT EXISTS shipment_events_from_avro TO shipment_events AS
SELECT
    value.event_id AS event_id,
    value.code AS code,
    value.kind AS kind,
    fromUnixTimestamp64Milli(value.event_time, 'UTC') AS event_time,
    value.event_utc_offset_minutes AS event_utc_offset_minutes,
    fromUnixTimestamp64Milli(value.received_time, 'UTC') AS received_time,
    fromUnixTimestamp64Milli(value.processed_time, 'UTC') AS processed_time,
    value.late AS late,
    value.source AS source,
    value.carrier AS carrier,
    value.tracking_number AS tracking_number,
    value.raw_event_code AS raw_event_code,
    value.raw_description AS raw_description,
    value.event_status AS event_status,
    value.event_sub_status AS event_sub_status,
    value.location.facility_id AS facility_id,
    value.location.city AS city,
    value.location.country AS country,
    value.location.latitude AS latitude,
    value.location.longitude AS longitude,
    value.retracts_event_id AS retracts_event_id,
    value.shipment_status AS shipment_status,
    value.shipment_sub_status AS shipment_sub_status,
    value.status_version AS status_version,
    value.order_id AS order_id,
    value.seller_id AS seller_id,
    value.seller_verified AS seller_verified,
    value.sku AS sku,
    value.gtin AS gtin,
    value.serial AS serial,
    value.origin.country AS origin_country,
    value.origin.city AS origin_city,
    value.origin.postal_prefix AS origin_postal_prefix,
    value.destination.country AS destination_country,
    value.destination.city AS destination_city,
    value.destination.postal_prefix AS destination_postal_prefix,
    fromUnixTimestamp64Milli(value.dispatched_at, 'UTC') AS dispatched_at,
    fromUnixTimestamp64Milli(value.promised_ship_by, 'UTC') AS promised_ship_by,
    fromUnixTimestamp64Milli(value.promised_delivery, 'UTC') AS promised_delivery,
    fromUnixTimestamp64Milli(value.first_scan_at, 'UTC') AS first_scan_at,
    kafka_partition,
    kafka_offset
FROM shipment_events_avro;
