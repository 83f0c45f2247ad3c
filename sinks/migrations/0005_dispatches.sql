-- One row per seller dispatch, fed from the history records of kind DISPATCH. The view runs
-- inside every insert into shipment_events, so the sink's deduplication covers it too.
CREATE TABLE IF NOT EXISTS dispatches
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
ENGINE = MergeTree
PARTITION BY toYYYYMM(dispatched_at)
ORDER BY (seller_id, dispatched_at, code, event_id)
SETTINGS non_replicated_deduplication_window = 1000;

CREATE MATERIALIZED VIEW IF NOT EXISTS dispatches_mv TO dispatches AS
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
FROM (SELECT * FROM shipment_events WHERE kind = 'DISPATCH' AND seller_id IS NOT NULL);
