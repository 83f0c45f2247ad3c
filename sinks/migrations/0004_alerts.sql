-- Every alert with its evidence. alert_id is deterministic (the same finding has the same id).
CREATE TABLE IF NOT EXISTS alerts
(
    alert_id          String,
    code              String,
    kind              LowCardinality(String),
    rule              LowCardinality(String),
    severity          LowCardinality(String),
    detected_at       DateTime64(3, 'UTC'),
    emitted_at        DateTime64(3, 'UTC'),
    message           String,
    evidence_event_ids Array(String),
    evidence          String COMMENT 'The evidence events as a JSON array',
    metrics           Map(LowCardinality(String), Float64),
    kafka_partition   UInt32,
    kafka_offset      UInt64
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(detected_at)
ORDER BY (code, detected_at, alert_id)
SETTINGS non_replicated_deduplication_window = 1000;

-- Staging table of the alerts (see shipment_events_avro).
CREATE TABLE IF NOT EXISTS alerts_avro
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

CREATE MATERIALIZED VIEW IF NOT EXISTS alerts_from_avro TO alerts AS
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
FROM alerts_avro;
