-- The sink's batch intents: per topic partition, the latest batch recorded as pending before
-- its insert and as done after it (docs/sink.md, "Exactly once"). The version orders the
-- records of one partition: a later batch has a higher last offset, done follows pending.
-- partition_key ('topic:partition') is the key of the KeeperMap table used on a cluster
-- (deploy/clickhouse), which takes a single key column.
CREATE TABLE IF NOT EXISTS sink_batches
(
    partition_key String,
    topic        String,
    partition    UInt32,
    first_offset UInt64,
    last_offset  UInt64,
    status       Enum8('pending' = 1, 'done' = 2),
    version      UInt64,
    updated_at   DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (topic, partition);
