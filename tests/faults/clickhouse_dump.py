"""What the sink stored, as JSON on stdout: ``python -m tests.faults.clickhouse_dump DSN DB``.

A process of its own because chDB binds one data folder per process, and every run of the
fault suite has its own.
"""

from __future__ import annotations

import json
import sys

from sinks.clickhouse import connect
from sinks.config import ClickHouseTarget


def dump(dsn: str, database: str) -> dict[str, object]:
    client = connect(ClickHouseTarget(dsn=dsn, database=database))
    try:
        events = client.query("SELECT code, event_id FROM shipment_events").result_rows
        states = client.query(
            "SELECT code, version, status, sub_status, carrier, tracking_number, order_id, "
            "seller_id, suspected_clone FROM shipment_state FINAL"
        ).result_rows
        alerts = client.query("SELECT code, alert_id, kind FROM alerts").result_rows
    finally:
        client.close()
    return {
        "events": [list(row) for row in events],
        "states": {row[0]: list(row[1:]) for row in states},
        "alerts": [list(row) for row in alerts],
    }


if __name__ == "__main__":
    json.dump(dump(sys.argv[1], sys.argv[2]), sys.stdout)
