"""The read-only check and the statement splitter, including inputs built to fool them."""

from __future__ import annotations

import pytest

from sinks.sql import ReadOnlyViolation, check_read_only, split_statements


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT 1",
        "select count() from shipment_events;",
        "  -- a comment\nSELECT 1 -- trailing",
        "/* block /* nested */ still comment */ SELECT 1",
        "WITH x AS (SELECT 1) SELECT * FROM x",
        "WITH 1 AS one SELECT one",
        "(SELECT 1) UNION ALL (SELECT 2)",
        "SHOW TABLES",
        "DESCRIBE TABLE shipment_events",
        "DESC shipment_state",
        "EXPLAIN SELECT 1",
        "SELECT 'a; DROP TABLE x' AS s",
        "SELECT 'it''s; fine', \"we;ird\", `col;umn` FROM t",
        "SELECT $$; DROP TABLE t$$",
        "SELECT 'back\\'slash; still string'",
        "SELECT 1 # comment; DROP TABLE t",
        "SELECT * FROM t SETTINGS max_threads = 1 FORMAT JSON",
    ],
)
def test_reads_are_accepted(sql: str) -> None:
    assert check_read_only(sql)


@pytest.mark.parametrize(
    ("sql", "reason"),
    [
        ("INSERT INTO t VALUES (1)", "INSERT statements are not allowed"),
        ("drop table shipment_events", "DROP statements are not allowed"),
        ("ALTER TABLE t DELETE WHERE 1", "ALTER statements are not allowed"),
        ("SELECT 1; DROP TABLE t", "2 statements"),
        ("SELECT 1;\n-- c\n; INSERT INTO t VALUES (1)", "2 statements"),
        ("WITH x AS (SELECT 1) INSERT INTO t SELECT * FROM x", "WITH ... INSERT"),
        ("WITH 1 AS x ALTER TABLE t DELETE WHERE 1", "WITH ... ALTER"),
        ("/* SELECT */ DELETE FROM t WHERE 1", "DELETE statements"),
        ("-- SELECT 1\nTRUNCATE TABLE t", "TRUNCATE statements"),
        ("SELECT * FROM t INTO OUTFILE '/tmp/x'", "INTO OUTFILE"),
        ("SET readonly = 0", "SET statements"),
        ("SYSTEM STOP MERGES", "SYSTEM statements"),
        ("", "empty"),
        ("  ;  -- nothing", "empty"),
        ("SELECT 'unterminated", "cannot read the query"),
        ("SELECT 1 /* unterminated", "cannot read the query"),
        ("'SELECT' 1", "does not start with a statement keyword"),
    ],
)
def test_writes_and_tricks_are_refused(sql: str, reason: str) -> None:
    with pytest.raises(ReadOnlyViolation, match=reason.replace(".", r"\.").replace("(", r"\(")):
        check_read_only(sql)


def test_split_keeps_semicolons_inside_literals_and_comments() -> None:
    script = """
    CREATE TABLE a (s String DEFAULT ';') ENGINE = Memory; -- first; really
    /* ; */ CREATE VIEW b AS SELECT 'x;y' AS s;
    ;
    """
    assert split_statements(script) == [
        "CREATE TABLE a (s String DEFAULT ';') ENGINE = Memory",
        "-- first; really\n    /* ; */ CREATE VIEW b AS SELECT 'x;y' AS s",
    ]
