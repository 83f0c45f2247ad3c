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
