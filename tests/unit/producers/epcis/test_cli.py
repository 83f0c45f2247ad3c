"""``tracecode ingest epcis`` without a broker: dry runs, rejections and option checks."""

from __future__ import annotations

import io
import json

from click.testing import CliRunner

from producers.events import EventKind
from producers.files import ParsedLine, read_events
from tests.unit.producers.epcis.builders import document, dumps, object_event
from tracecode.cli import main

ITEMS = [f"urn:epc:id:sgtin:0614141.107346.{n}" for n in (1, 2, 3)]


def run(*args: str, stdin: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["ingest", "epcis", *args], input=stdin)
    return result.exit_code, result.stdout, result.stderr


def test_dry_run_prints_scans_that_ingest_scans_reads_back() -> None:
    value = document(
        object_event(epcList=ITEMS),
        object_event(bizStep="commissioning", action="ADD"),
    )
    code, out, err = run("-", "--dry-run", "--carrier", "dhl-express", stdin=dumps(value))
    assert code == 0, err
    lines = out.splitlines()
    assert len(lines) == 3
    assert {json.loads(line)["kind"] for line in lines} == {"scan"}
    parsed = list(read_events(io.StringIO(out), EventKind.SCAN))
    assert all(isinstance(item, ParsedLine) for item in parsed)
    records = [item.record for item in parsed if isinstance(item, ParsedLine)]
    assert [r["code"] for r in records] == [f"(01)10614141073464(21){n}" for n in (1, 2, 3)]
    assert {r["carrier"] for r in records} == {"dhl-express"}
    assert "stdin: 2 EPCIS events read (2 ObjectEvent)" in err
    assert "3 scans and 0 retractions printed (dry run), nothing published." in err
    assert "bizStep commissioning: no shipment movement" in err


def test_an_invalid_document_lists_its_problems_and_exits_1() -> None:
    value = document(object_event(), object_event(bizStep="transforming", action="CREATE"))
    code, out, err = run("-", "--dry-run", stdin=dumps(value))
    assert code == 1
    assert out == ""
    assert "stdin: rejected, nothing published" in err
    assert "event 1, field action: action 'CREATE' is not one of OBSERVE, ADD, DELETE" in err
    assert "event 1, field bizStep: 'transforming' is not a CBV 2.0 business step" in err


def test_a_bad_carrier_is_a_usage_error() -> None:
    code, _, err = run("-", "--carrier", "DHL Express", stdin=dumps(document(object_event())))
    assert code == 2
    assert "'DHL Express' is not a lower-case slug" in err


def test_json_that_is_no_epcis_says_so() -> None:
    code, _, err = run("-", "--dry-run", stdin='{"type": "Invoice"}')
    assert code == 1
    assert "neither EPCISDocument, EPCISQueryDocument" in err
