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
