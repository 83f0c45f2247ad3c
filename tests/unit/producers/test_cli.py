"""``tracecode simulate --dry-run`` and ``tracecode ingest --dry-run``: no broker needed."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from producers.events import EventKind
from producers.simulator import JOURNEY_CASES
from tracecode.cli import main

UNTIL = "2026-11-01T00:00:00Z"


def run(*args: str, stdin: str | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args), input=stdin, catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_dry_run_writes_one_json_event_per_line_and_summarises_on_stderr() -> None:
    code, out, err = run("simulate", "-n", "60", "--seed", "3", "--until", UNTIL, "--dry-run")
    assert code == 0, err
    events = [json.loads(line) for line in out.splitlines()]
    assert {e["kind"] for e in events} == {"scan", "dispatch"}
    times = [e["event_time" if e["kind"] == "scan" else "dispatch_time"] for e in events]
    assert all(time.endswith("Z") for time in times)
    assert f"{len(events):,} of {len(events):,} events" in err
    for case in JOURNEY_CASES:
        assert case.value in err
    assert "alerts the join must raise: DISPATCH_SLA_BREACH" in err
    again = run("simulate", "-n", "60", "--seed", "3", "--until", UNTIL, "--dry-run")[1]
    assert again == out
    other = run("simulate", "-n", "60", "--seed", "4", "--until", UNTIL, "--dry-run")[1]
    assert other != out


def test_help_states_the_hard_cases_and_their_shares() -> None:
    code, out, _ = run("simulate", "--help")
    assert code == 0
    for case, share in JOURNEY_CASES.items():
        assert f"{case.value:<17} {share:>5.1%}" in out
    assert "SUSPECTED_CLONE" in out


def test_dry_run_output_replays_through_ingest(tmp_path: Path) -> None:
    out = run("simulate", "-n", "30", "--until", UNTIL, "--dry-run")[1]
    kinds = [json.loads(line)["kind"] for line in out.splitlines()]
    for kind in EventKind:
        code, summary, err = run("ingest", kind.plural, "--dry-run", "-", stdin=out)
        assert code == 0, err
        assert f"{kinds.count(kind.value):,} checked" in summary
        others = len(kinds) - kinds.count(kind.value)
        assert f"{others:,} lines of the other kind skipped" in summary


def test_bad_lines_are_reported_and_fail_the_run(tmp_path: Path) -> None:
    out = run("simulate", "-n", "5", "--until", UNTIL, "--dry-run")[1]
    lines = out.splitlines()
    lines.insert(2, "{broken")
    scan = next(json.loads(line) for line in lines if '"kind": "scan"' in line)
    lines.insert(4, json.dumps({**scan, "code": "nope"}))
    file = tmp_path / "events.jsonl"
    file.write_text("\n".join(lines) + "\n", encoding="utf-8")
    code, summary, err = run("ingest", "scans", "--dry-run", str(file))
    assert code == 1
    err = err.replace("\n", "")
    assert f"{file}:line 3: not valid JSON" in err
    assert "line 5: bad code 'nope'" in err
    assert "2 lines rejected" in summary
    code, summary, err = run("ingest", "scans", "--dry-run", "--strict", str(file))
    assert code == 1
    assert "stopped at line 3 (--strict)" in err
    assert "line 5" not in err


def test_dispatch_csv_is_detected_by_extension(tmp_path: Path) -> None:
    file = tmp_path / "dispatches.csv"
    file.write_text(
        "code,order_id,seller_id,sku,dispatch_time,origin_country,destination_country\n"
        "TC000000000001L,8001,S1,SKU-1,2026-10-30T09:00:00+08:00,CN,ES\n",
        encoding="utf-8",
    )
    code, summary, err = run("ingest", "dispatches", "--dry-run", str(file))
    assert code == 0, err
    assert "1 checked, 0 rejected" in summary
