-- tracecode's ClickHouse schema for a cluster: sharded by code, replicated, queried through
-- Distributed tables that carry the names the sink and the analysts use. Mirrors the sink's
-- migrations 0001-0006 (sinks/migrations); the last statement records them as applied, so a
-- sink started with TRACECODE_SINK_MANAGE_SCHEMA=false accepts the schema.
--
-- Needs the macros {cluster}, {shard} and {replica} on every server, Keeper, and the
-- keeper_map_path_prefix setting (for the sink's batch ledger). Run once, e.g.
--   clickhouse client --multiquery < cluster.sql
-- Retention: see README.md ("Retention").

CREATE DATABASE IF NOT EXISTS tracecode ON CLUSTER '{cluster}';

-- Schema bookkeeping: one copy replicated to every server (no {shard} in the path).
CREATE TABLE IF NOT EXISTS tracecode.schema_migrations ON CLUSTER '{cluster}'
(
    version    UInt32,
    name       String,
    applied_at DateTime64(3, 'UTC')
)
ENGINE = ReplicatedMergeTree('/clickhouse/tables/all/tracecode/schema_migrations', '{replica}')
ORDER BY version;

CREATE TABLE IF NOT EXISTS tracecode.schema_settings ON CLUSTER '{cluster}'
(
    name       String,
    value      String,
    applied_at DateTime64(3, 'UTC')
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/all/tracecode/schema_settings', '{replica}', applied_at)
ORDER BY name;

-- The batch ledger must be strongly consistent and the same from every server: Keeper-backed.
CREATE TABLE IF NOT EXISTS tracecode.sink_batches ON CLUSTER '{cluster}'
(
    partition_key String,
    topic         String,
    partition     UInt32,
    first_offset  UInt64,
    last_offset   UInt64,
    status        Enum8('pending' = 1, 'done' = 2),
    version       UInt64,
    updated_at    DateTime64(3, 'UTC')
)
ENGINE = KeeperMap('/tracecode/sink_batches')
PRIMARY KEY partition_key;

-- shipment_events ------------------------------------------------------------------------
CREATE TABLE IF NOT EXISTS tracecode.shipment_events_local ON CLUSTER '{cluster}'
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
ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/tracecode/shipment_events', '{replica}')
PARTITION BY toYYYYMM(event_time)
ORDER BY (code, event_time, event_id)
SETTINGS replicated_deduplication_window = 10000,
         replicated_deduplication_window_seconds = 604800;

CREATE TABLE IF NOT EXISTS tracecode.shipment_events ON CLUSTER '{cluster}'
AS tracecode.shipment_events_local
ENGINE = Distributed('{cluster}', tracecode, shipment_events_local, cityHash64(code));

-- shipment_state (sharded by code, so FINAL sees every version of a code on one shard) ----
CREATE TABLE IF NOT EXISTS tracecode.shipment_state_local ON CLUSTER '{cluster}'
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
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/tracecode/shipment_state', '{replica}', version)
ORDER BY code
SETTINGS replicated_deduplication_window = 10000,
         replicated_deduplication_window_seconds = 604800;

CREATE TABLE IF NOT EXISTS tracecode.shipment_state ON CLUSTER '{cluster}'
AS tracecode.shipment_state_local
ENGINE = Distributed('{cluster}', tracecode, shipment_state_local, cityHash64(code));

-- alerts ---------------------------------------------------------------------------------
CREATE TABLE IF NOT EXISTS tracecode.alerts_local ON CLUSTER '{cluster}'
(
    alert_id           String,
    code               String,
    kind               LowCardinality(String),
    rule               LowCardinality(String),
    severity           LowCardinality(String),
    detected_at        DateTime64(3, 'UTC'),
    emitted_at         DateTime64(3, 'UTC'),
    message            String,
    evidence_event_ids Array(String),
    evidence           String COMMENT 'The evidence events as a JSON array',
    metrics            Map(LowCardinality(String), Float64),
    kafka_partition    UInt32,
    kafka_offset       UInt64
)
ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/tracecode/alerts', '{replica}')
PARTITION BY toYYYYMM(detected_at)
ORDER BY (code, detected_at, alert_id)
SETTINGS replicated_deduplication_window = 10000,
         replicated_deduplication_window_seconds = 604800;

CREATE TABLE IF NOT EXISTS tracecode.alerts ON CLUSTER '{cluster}'
AS tracecode.alerts_local
ENGINE = Distributed('{cluster}', tracecode, alerts_local, cityHash64(code));

-- Ingestion: the sink inserts Avro batches into the Distributed *_avro tables, which shard the
-- decoded rows by code to the Null *_avro_local tables; their views fill the local tables.
-- shipment_events: the sink's Avro staging table (Null on every shard) and its view
CREATE TABLE IF NOT EXISTS tracecode.shipment_events_avro_local ON CLUSTER '{cluster}'
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

CREATE TABLE IF NOT EXISTS tracecode.shipment_events_avro ON CLUSTER '{cluster}'
AS tracecode.shipment_events_avro_local
ENGINE = Distributed('{cluster}', tracecode, shipment_events_avro_local, cityHash64(value.code));

CREATE MATERIALIZED VIEW IF NOT EXISTS tracecode.shipment_events_from_avro ON CLUSTER '{cluster}'
TO tracecode.shipment_events_local AS
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
FROM tracecode.shipment_events_avro_local;

-- shipment_state: the sink's Avro staging table (Null on every shard) and its view
CREATE TABLE IF NOT EXISTS tracecode.shipment_state_avro_local ON CLUSTER '{cluster}'
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

CREATE TABLE IF NOT EXISTS tracecode.shipment_state_avro ON CLUSTER '{cluster}'
AS tracecode.shipment_state_avro_local
ENGINE = Distributed('{cluster}', tracecode, shipment_state_avro_local, cityHash64(value.code));

CREATE MATERIALIZED VIEW IF NOT EXISTS tracecode.shipment_state_from_avro ON CLUSTER '{cluster}'
TO tracecode.shipment_state_local AS
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
FROM tracecode.shipment_state_avro_local;

-- alerts: the sink's Avro staging table (Null on every shard) and its view
CREATE TABLE IF NOT EXISTS tracecode.alerts_avro_local ON CLUSTER '{cluster}'
(
    kafka_partition Int32,
    kafka_offset    Int64,
    value Tuple(
        alert_id    String,
        code        String,
        kind        String,
        rule        String,
        severity    String,
        detected_at Int64,
        emitted_at  Int64,
        message     String,
        evidence Array(Tuple(
            event_id        String,
            kind            String,
            event_time      Int64,
            carrier         Nullable(String),
            tracking_number Nullable(String),
            status          Nullable(String),
            sub_status      Nullable(String),
            location        Nullable(Tuple(facility_id Nullable(String), city Nullable(String), country Nullable(String), latitude Nullable(Float64), longitude Nullable(Float64)))
        )),
        metrics Map(String, Float64)
    )
)
ENGINE = Null;

CREATE TABLE IF NOT EXISTS tracecode.alerts_avro ON CLUSTER '{cluster}'
AS tracecode.alerts_avro_local
ENGINE = Distributed('{cluster}', tracecode, alerts_avro_local, cityHash64(value.code));

CREATE MATERIALIZED VIEW IF NOT EXISTS tracecode.alerts_from_avro ON CLUSTER '{cluster}'
TO tracecode.alerts_local AS
SELECT
    value.alert_id AS alert_id,
    value.code AS code,
    value.kind AS kind,
    value.rule AS rule,
    value.severity AS severity,
    fromUnixTimestamp64Milli(value.detected_at, 'UTC') AS detected_at,
    fromUnixTimestamp64Milli(value.emitted_at, 'UTC') AS emitted_at,
    value.message AS message,
    arrayMap(e -> e.event_id, value.evidence) AS evidence_event_ids,
    toJSONString(arrayMap(
        e -> CAST(
            (e.event_id, e.kind, fromUnixTimestamp64Milli(e.event_time, 'UTC'), e.carrier,
             e.tracking_number, e.status, e.sub_status, e.location),
            'Tuple(event_id String, kind String, event_time DateTime64(3, \'UTC\'), carrier Nullable(String), tracking_number Nullable(String), status Nullable(String), sub_status Nullable(String), location Nullable(Tuple(facility_id Nullable(String), city Nullable(String), country Nullable(String), latitude Nullable(Float64), longitude Nullable(Float64))))'
        ),
        value.evidence
    )) AS evidence,
    value.metrics AS metrics,
    kafka_partition,
    kafka_offset
FROM tracecode.alerts_avro_local;

-- dispatches (fed on each shard from its shipment_events_local) --------------------------
CREATE TABLE IF NOT EXISTS tracecode.dispatches_local ON CLUSTER '{cluster}'
(
    event_id                  String,
    code                      String,
    dispatched_at             DateTime64(3, 'UTC'),
    order_id                  String,
    seller_id                 String,
    seller_verified           Bool,
    sku                       String,
    gtin                      Nullable(String),
    serial                    Nullable(String),
    carrier                   LowCardinality(Nullable(String)),
    tracking_number           Nullable(String),
    origin_country            LowCardinality(String),
    origin_city               Nullable(String),
    origin_postal_prefix      Nullable(String),
    destination_country       LowCardinality(String),
    destination_city          Nullable(String),
    destination_postal_prefix Nullable(String),
    promised_ship_by          Nullable(DateTime64(3, 'UTC')),
    promised_delivery         Nullable(DateTime64(3, 'UTC')),
    source                    LowCardinality(String)
)
ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/tracecode/dispatches', '{replica}')
PARTITION BY toYYYYMM(dispatched_at)
ORDER BY (seller_id, dispatched_at, code, event_id)
SETTINGS replicated_deduplication_window = 10000,
         replicated_deduplication_window_seconds = 604800;

CREATE TABLE IF NOT EXISTS tracecode.dispatches ON CLUSTER '{cluster}'
AS tracecode.dispatches_local
ENGINE = Distributed('{cluster}', tracecode, dispatches_local, cityHash64(code));

CREATE MATERIALIZED VIEW IF NOT EXISTS tracecode.dispatches_mv ON CLUSTER '{cluster}'
TO tracecode.dispatches_local AS
SELECT
    event_id,
    code,
    event_time AS dispatched_at,
    assumeNotNull(order_id) AS order_id,
    assumeNotNull(seller_id) AS seller_id,
    assumeNotNull(seller_verified) AS seller_verified,
    assumeNotNull(sku) AS sku,
    gtin,
    serial,
    carrier,
    tracking_number,
    assumeNotNull(origin_country) AS origin_country,
    origin_city,
    origin_postal_prefix,
    assumeNotNull(destination_country) AS destination_country,
    destination_city,
    destination_postal_prefix,
    promised_ship_by,
    promised_delivery,
    source
-- Filter in a subquery: the aliases above would shadow the columns in a WHERE here.
FROM (SELECT * FROM tracecode.shipment_events_local WHERE kind = 'DISPATCH' AND seller_id IS NOT NULL);

-- Rollups (per shard; the Distributed tables merge the states across shards) ------------
CREATE TABLE IF NOT EXISTS tracecode.transit_daily_local ON CLUSTER '{cluster}'
(
    day                 Date,
    carrier             LowCardinality(String),
    origin_country      LowCardinality(String),
    destination_country LowCardinality(String),
    shipments           AggregateFunction(uniqExact, String),
    transit_hours       AggregateFunction(quantilesExact(0.5, 0.9), Float64),
    avg_transit_hours   AggregateFunction(avg, Float64)
)
ENGINE = ReplicatedAggregatingMergeTree('/clickhouse/tables/{shard}/tracecode/transit_daily', '{replica}')
ORDER BY (day, carrier, origin_country, destination_country)
SETTINGS replicated_deduplication_window = 10000,
         replicated_deduplication_window_seconds = 604800;

CREATE TABLE IF NOT EXISTS tracecode.transit_daily ON CLUSTER '{cluster}'
AS tracecode.transit_daily_local
ENGINE = Distributed('{cluster}', tracecode, transit_daily_local, rand());

CREATE MATERIALIZED VIEW IF NOT EXISTS tracecode.transit_daily_mv ON CLUSTER '{cluster}'
TO tracecode.transit_daily_local AS
SELECT
    toDate(delivered_at) AS day,
    ifNull(carrier, '') AS carrier,
    ifNull(origin_country, '') AS origin_country,
    ifNull(destination_country, '') AS destination_country,
    uniqExactState(code) AS shipments,
    quantilesExactState(0.5, 0.9)(hours) AS transit_hours,
    avgState(hours) AS avg_transit_hours
FROM
(
    SELECT
        *,
        dateDiff('millisecond', assumeNotNull(dispatched_at), assumeNotNull(delivered_at))
            / 3600000 AS hours
    FROM tracecode.shipment_state_local
    WHERE status = 'DELIVERED'
      AND ifNull(previous_status, '') != 'DELIVERED'
      AND dispatched_at IS NOT NULL
      AND delivered_at IS NOT NULL
)
GROUP BY day, carrier, origin_country, destination_country;

CREATE TABLE IF NOT EXISTS tracecode.dispatch_latency_local ON CLUSTER '{cluster}'
(
    code                String,
    seller_id           String,
    seller_verified     Bool,
    carrier             LowCardinality(Nullable(String)),
    origin_country      LowCardinality(String),
    destination_country LowCardinality(String),
    dispatched_at       DateTime64(3, 'UTC'),
    first_scan_at       DateTime64(3, 'UTC'),
    latency_hours       Float64,
    processed_time      DateTime64(3, 'UTC')
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/tracecode/dispatch_latency', '{replica}', processed_time)
ORDER BY code
SETTINGS replicated_deduplication_window = 10000,
         replicated_deduplication_window_seconds = 604800;

CREATE TABLE IF NOT EXISTS tracecode.dispatch_latency ON CLUSTER '{cluster}'
AS tracecode.dispatch_latency_local
ENGINE = Distributed('{cluster}', tracecode, dispatch_latency_local, cityHash64(code));

CREATE MATERIALIZED VIEW IF NOT EXISTS tracecode.dispatch_latency_mv ON CLUSTER '{cluster}'
TO tracecode.dispatch_latency_local AS
SELECT
    code,
    assumeNotNull(seller_id) AS seller_id,
    ifNull(seller_verified, false) AS seller_verified,
    carrier,
    ifNull(origin_country, '') AS origin_country,
    ifNull(destination_country, '') AS destination_country,
    assumeNotNull(dispatched_at) AS dispatched_at,
    assumeNotNull(first_scan_at) AS first_scan_at,
    dateDiff('millisecond', assumeNotNull(dispatched_at), assumeNotNull(first_scan_at)) / 3600000
        AS latency_hours,
    processed_time
-- Filter in a subquery: the aliases above would shadow the columns in a WHERE here.
FROM
(
    SELECT * FROM tracecode.shipment_events_local
    WHERE seller_id IS NOT NULL AND dispatched_at IS NOT NULL AND first_scan_at IS NOT NULL
);

CREATE TABLE IF NOT EXISTS tracecode.alerts_daily_local ON CLUSTER '{cluster}'
(
    day      Date,
    kind     LowCardinality(String),
    rule     LowCardinality(String),
    severity LowCardinality(String),
    alerts   AggregateFunction(uniqExact, String),
    codes    AggregateFunction(uniqExact, String)
)
ENGINE = ReplicatedAggregatingMergeTree('/clickhouse/tables/{shard}/tracecode/alerts_daily', '{replica}')
ORDER BY (day, kind, rule, severity)
SETTINGS replicated_deduplication_window = 10000,
         replicated_deduplication_window_seconds = 604800;

CREATE TABLE IF NOT EXISTS tracecode.alerts_daily ON CLUSTER '{cluster}'
AS tracecode.alerts_daily_local
ENGINE = Distributed('{cluster}', tracecode, alerts_daily_local, rand());

CREATE MATERIALIZED VIEW IF NOT EXISTS tracecode.alerts_daily_mv ON CLUSTER '{cluster}'
TO tracecode.alerts_daily_local AS
SELECT
    toDate(detected_at) AS day,
    kind,
    rule,
    severity,
    uniqExactState(alert_id) AS alerts,
    uniqExactState(code) AS codes
FROM tracecode.alerts_local
GROUP BY day, kind, rule, severity;

-- Record the migrations this file mirrors (once: the sink checks them at start).
INSERT INTO tracecode.schema_migrations (version, name, applied_at)
SELECT number + 1, ['sink_batches', 'shipment_events', 'shipment_state', 'alerts', 'dispatches', 'rollups'][number + 1], now64(3)
FROM numbers(6)
WHERE number + 1 NOT IN (SELECT version FROM tracecode.schema_migrations);
