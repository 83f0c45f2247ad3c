-- Users for tracecode on a ClickHouse server or cluster (SQL-driven access control).
-- Replace the passwords; give them to the sink and analysts through their secret stores.

-- The sink: writes the tables, reads its ledger, and (single server) runs the migrations.
CREATE USER IF NOT EXISTS tracecode_sink ON CLUSTER '{cluster}'
    IDENTIFIED WITH sha256_password BY 'change-me-sink';
GRANT ON CLUSTER '{cluster}' SELECT, INSERT ON tracecode.* TO tracecode_sink;
-- Only where the sink manages the schema (single server, TRACECODE_SINK_MANAGE_SCHEMA=true):
-- GRANT CREATE DATABASE, CREATE TABLE, CREATE VIEW, ALTER TABLE ON tracecode.* TO tracecode_sink;

-- Analysts, dashboards, `tracecode query` and `tracecode track`: read-only, settings allowed
-- only for resource limits; readonly = 1 also refuses table functions (file(), url(), ...).
CREATE SETTINGS PROFILE IF NOT EXISTS tracecode_readonly ON CLUSTER '{cluster}'
    SETTINGS readonly = 1, max_execution_time = 60, max_result_rows = 1000000;
CREATE USER IF NOT EXISTS tracecode_analyst ON CLUSTER '{cluster}'
    IDENTIFIED WITH sha256_password BY 'change-me-analyst'
    SETTINGS PROFILE 'tracecode_readonly';
GRANT ON CLUSTER '{cluster}' SELECT ON tracecode.* TO tracecode_analyst;
