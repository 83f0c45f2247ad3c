-- Rollups for analysts. Each is fed by a materialized view inside the sink's inserts, so the
-- batch deduplication covers it (deduplicate_blocks_in_dependent_materialized_views). Counts
-- are uniqExact states of ids, which a repeated row cannot inflate.

-- Transit time dispatch -> delivered by delivery day, carrier and lane, counted once per
-- shipment when its status enters DELIVERED.
CREATE TABLE IF NOT EXISTS transit_daily
(
    day                 Date,
    carrier             LowCardinality(String),
    origin_country      LowCardinality(String),
    destination_country LowCardinality(String),
    shipments           AggregateFunction(uniqExact, String),
    transit_hours       AggregateFunction(quantilesExact(0.5, 0.9), Float64),
    avg_transit_hours   AggregateFunction(avg, Float64)
)
ENGINE = AggregatingMergeTree
ORDER BY (day, carrier, origin_country, destination_country)
SETTINGS non_replicated_deduplication_window = 1000;

CREATE MATERIALIZED VIEW IF NOT EXISTS transit_daily_mv TO transit_daily AS
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
    FROM shipment_state
    WHERE status = 'DELIVERED'
      AND ifNull(previous_status, '') != 'DELIVERED'
      AND dispatched_at IS NOT NULL
      AND delivered_at IS NOT NULL
)
GROUP BY day, carrier, origin_country, destination_country;

-- Seller dispatch latency (dispatch -> first carrier scan), one row per shipment: the most
-- recently processed history record knows the earliest scan and the dispatch. Read with FINAL.
CREATE TABLE IF NOT EXISTS dispatch_latency
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
ENGINE = ReplacingMergeTree(processed_time)
ORDER BY code
SETTINGS non_replicated_deduplication_window = 1000;

CREATE MATERIALIZED VIEW IF NOT EXISTS dispatch_latency_mv TO dispatch_latency AS
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
    SELECT * FROM shipment_events
    WHERE seller_id IS NOT NULL AND dispatched_at IS NOT NULL AND first_scan_at IS NOT NULL
);

-- Alert counts by detection day, kind and rule.
CREATE TABLE IF NOT EXISTS alerts_daily
(
    day      Date,
    kind     LowCardinality(String),
    rule     LowCardinality(String),
    severity LowCardinality(String),
    alerts   AggregateFunction(uniqExact, String),
    codes    AggregateFunction(uniqExact, String)
)
ENGINE = AggregatingMergeTree
ORDER BY (day, kind, rule, severity)
SETTINGS non_replicated_deduplication_window = 1000;

CREATE MATERIALIZED VIEW IF NOT EXISTS alerts_daily_mv TO alerts_daily AS
SELECT
    toDate(detected_at) AS day,
    kind,
    rule,
    severity,
    uniqExactState(alert_id) AS alerts,
    uniqExactState(code) AS codes
FROM alerts
GROUP BY day, kind, rule, severity;
