"""``tracecode demo`` end to end on a small size, then ``track`` and ``status`` against what it
left running, a second run, ``demo stop``, and Ctrl-C in the middle of a run.

Each demo gets its own data folder, topic prefix, consumer groups and ports; it finds the
session's broker already answering and leaves it alone.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from producers.simulator import HardCase, Simulation, SimulationConfig, simulate
from schemas.kafka import KafkaConnection
from tests.helpers import free_port, port_is_free, unique
from tracecode.processes import is_alive, terminate
from tracecode.services import ServiceKind, ServiceRegistry

SHIPMENTS = 300
SEED = 11
TIMEOUT = 600


@dataclass
class Demo:
    env: dict[str, str]
    data_dir: Path
    report: dict[str, Any]
    stdout: str
    stderr: str

    def tracecode(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "tracecode", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def query(self, sql: str) -> list[dict[str, Any]]:
        result = self.tracecode("query", "--format", "json", sql)
        assert result.returncode == 0, result.stderr
        return [json.loads(line) for line in result.stdout.splitlines() if line]

    def simulation(self) -> Simulation:
        until = datetime.fromisoformat(self.report["run"]["until"])
        return simulate(SimulationConfig(shipments=SHIPMENTS, until=until, seed=SEED))


def demo_env(data_dir: Path) -> dict[str, str]:
    prefix = unique("test") + "."
    # Two workers, the sink's query endpoint and its metrics, the tracking API.
    port = consecutive_free_ports(5)
    return {
        **os.environ,
        "TRACECODE_DATA_DIR": str(data_dir),
        "TRACECODE_TOPICS_PREFIX": prefix,
        "TRACECODE_WORKER_WEB_PORT": str(port),
        "TRACECODE_SINK_QUERY_PORT": str(port + 2),
        "TRACECODE_SINK_METRICS_PORT": str(port + 3),
        "TRACECODE_API_PORT": str(port + 4),
        "COLUMNS": "200",
    }


def consecutive_free_ports(count: int) -> int:
    for _ in range(100):
        first = free_port()
        if all(port_is_free(first + i) for i in range(count)):
            return first
    raise AssertionError(f"no {count} consecutive free ports")


def run_demo(env: dict[str, str], report: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tracecode", "demo", "--shipments", str(SHIPMENTS), "--seed",
         str(SEED), "--keep-running", "--json-report", str(report), *extra],
        env=env, capture_output=True, text=True, timeout=TIMEOUT, check=False,
    )  # fmt: skip


@pytest.fixture(scope="module")
def demo(kafka: KafkaConnection, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    data_dir = tmp_path_factory.mktemp("demo")
    env = demo_env(data_dir)
    report = data_dir / "report.json"
    result = run_demo(env, report)
    assert result.returncode == 0, result.stderr[-3000:]
    ran = Demo(env, data_dir, json.loads(report.read_text()), result.stdout, result.stderr)
    yield ran
    ran.tracecode("demo", "stop", timeout=120)
    stop_leftovers(data_dir)


def stop_leftovers(data_dir: Path) -> None:
    """Whatever still runs from a test's data folder (after a failure): nothing may outlive it."""
    for service in ServiceRegistry.of(data_dir).running():
        terminate(service.pid, timeout=30)


def test_the_report_figures_are_the_stores(demo: Demo) -> None:
    report = demo.report
    states = demo.query("SELECT status, count() AS n FROM shipment_state FINAL GROUP BY status")
    assert report["shipments"]["by_status"] == {row["status"]: int(row["n"]) for row in states}
    assert report["shipments"]["total"] == SHIPMENTS
    alerts = demo.query("SELECT kind, count() AS n, uniqExact(code) AS c FROM alerts GROUP BY kind")
    assert {k: v["alerts"] for k, v in report["alerts"]["by_kind"].items()} == {
        row["kind"]: int(row["n"]) for row in alerts
    }
    assert {k: v["codes"] for k, v in report["alerts"]["by_kind"].items()} == {
        row["kind"]: int(row["c"]) for row in alerts
    }
    stages = report["stages"]
    assert stages["produced"]["count"] == report["run"]["events"]
    assert stages["joined"]["count"] == report["run"]["events"]
    assert stages["stored"]["count"] > 0


def test_every_clone_the_simulation_injected_is_reported(demo: Demo) -> None:
    truth = demo.simulation().shipments
    clones = sum(1 for t in truth if "SUSPECTED_CLONE" in t.expected_alerts)
    assert clones > 0
    assert demo.report["alerts"]["by_kind"]["SUSPECTED_CLONE"]["codes"] == clones


def test_the_screen_shows_the_report(demo: Demo) -> None:
    screen = demo.stdout
    assert "tracecode demo report" in screen
    for status, count in demo.report["shipments"]["by_status"].items():
        assert any(status in line and f"{count:,}" in line for line in screen.splitlines())
    for kind, figures in demo.report["alerts"]["by_kind"].items():
        assert any(
            kind in line and f"{figures['alerts']:,}" in line and figures["example"]["code"] in line
            for line in screen.splitlines()
        ), kind
    examples = demo.report["examples"]
    assert f"tracecode track {examples['delivered']['code']}" in screen
    assert f"tracecode track {examples['suspected_clone']['code']} --json" in screen
    assert "curl http://127.0.0.1:" in screen
    api = f"http://127.0.0.1:{demo.env['TRACECODE_API_PORT']}"
    assert f"curl {api}/v1/track/{examples['delivered']['code']}" in screen
    assert "tracecode demo stop" in screen
    # Progress went to stderr, stage by stage.
    for stage in ("produced", "joined", "stored"):
        assert stage in demo.stderr


def first_code(simulation: Simulation, wanted: Any) -> str:
    return next(t.code for t in simulation.shipments if wanted(t) and "(" not in t.code)


def test_track_a_delivered_shipment(demo: Demo) -> None:
    code = first_code(
        demo.simulation(), lambda t: t.journey is None and t.delivered and not t.cases
    )
    text = demo.tracecode("track", code.lower())
    assert text.returncode == 0, text.stderr
    assert "DELIVERED" in text.stdout and "genuine" in text.stdout and "timeline" in text.stdout

    document = json.loads(demo.tracecode("track", code, "--json").stdout)
    assert document["code"] == code and document["found"]
    assert document["status"]["status"] == "DELIVERED"
    assert document["status"]["source"] == "live"
    assert document["verdict"]["verdict"] == "genuine"
    assert document["timeline"][0]["kind"] == "DISPATCH"
    assert document["timeline"][-1]["status"] == "DELIVERED"
    assert document["sources"]["live"]["ok"] and document["sources"]["history"]["ok"]


def test_the_tracking_api_answers_for_the_demo_s_shipments(demo: Demo) -> None:
    api = f"http://127.0.0.1:{demo.env['TRACECODE_API_PORT']}"
    delivered = demo.report["examples"]["delivered"]["code"]
    public = httpx.get(f"{api}/v1/track/{delivered}", headers={"Accept-Language": "fr"})
    assert public.status_code == 200, public.text
    body = public.json()
    assert body["language"] == "fr"
    assert body["status"]["status"] == "DELIVERED"
    assert body["verdict"]["verdict"] == "genuine"
    assert body["timeline"] and body["timeline"][-1]["status"] == "DELIVERED"
    clone = demo.report["examples"]["suspected_clone"]["code"]
    assert httpx.get(f"{api}/v1/track/{clone}").json()["verdict"]["verdict"] == "suspicious"
    origin, destination = body["timeline"][0]["country"], body["timeline"][-1]["country"]
    lane = httpx.get(f"{api}/v1/lanes/{origin}/{destination}").json()
    assert lane["sample_size"] > 0


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(CHROMIUM is None, reason="no chromium here (.ci/run installs Debian's)")
def test_the_tracking_page_in_a_browser(demo: Demo) -> None:
    """Headless Chromium on the demo's tracking page, desktop and phone sized."""
    from playwright.sync_api import sync_playwright

    api = f"http://127.0.0.1:{demo.env['TRACECODE_API_PORT']}"
    examples = demo.report["examples"]
    shots = demo.data_dir / "screenshots"
    shots.mkdir(exist_ok=True)
    delivered = httpx.get(f"{api}/v1/track/{examples['delivered']['code']}").json()
    assert delivered["status"]["status"] == "DELIVERED"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM)
        try:
            for name, viewport in (("desktop", (1024, 760)), ("phone", (390, 844))):
                page = browser.new_page(
                    viewport={"width": viewport[0], "height": viewport[1]}, locale="en-US"
                )
                page.goto(api)
                page.fill("#code", examples["delivered"]["code"])
                page.click("button[type=submit]")
                page.wait_for_selector(".verdict")
                assert page.inner_text(".badge") == "Genuine"
                assert page.locator("ol.timeline li").count() >= 3
                assert page.inner_text(".status").strip() == delivered["status"]["description"]
                page.screenshot(path=str(shots / f"delivered-{name}.png"))

                page.goto(f"{api}/?code={examples['suspected_clone']['code']}")
                assert page.inner_text(".badge") == "Suspicious"
                assert "copied" in page.inner_text(".verdict")
                page.screenshot(path=str(shots / f"clone-{name}.png"))

                page.goto(f"{api}/?code=TC000000000001X")
                assert "not a valid traceability code" in page.inner_text(".error")
                page.screenshot(path=str(shots / f"malformed-{name}.png"))
                if name == "phone":
                    width = page.evaluate("document.documentElement.scrollWidth")
                    assert width <= viewport[0], "the page must not scroll sideways on a phone"
                page.close()
        finally:
            browser.close()
    assert len(list(shots.glob("*.png"))) == 6


def test_track_a_clone(demo: Demo) -> None:
    code = first_code(demo.simulation(), lambda t: t.journey is HardCase.CLONE)
    text = demo.tracecode("track", code)
    assert text.returncode == 0, text.stderr
    assert "suspicious" in text.stdout and "evidence" in text.stdout

    document = json.loads(demo.tracecode("track", code, "--json").stdout)
    assert document["verdict"]["verdict"] == "suspicious"
    evidence = document["verdict"]["evidence"]
    assert evidence and all(a["kind"] == "SUSPECTED_CLONE" for a in evidence)
    timeline_ids = {event["event_id"] for event in document["timeline"]}
    assert {e["event_id"] for a in evidence for e in a["evidence"]} <= timeline_ids


def test_track_a_code_no_seller_dispatched(demo: Demo) -> None:
    code = first_code(demo.simulation(), lambda t: t.journey is HardCase.NEVER_DISPATCHED)
    text = demo.tracecode("track", code)
    assert text.returncode == 0, text.stderr
    assert "unknown" in text.stdout and "no seller dispatched" in text.stdout

    document = json.loads(demo.tracecode("track", code, "--json").stdout)
    assert document["verdict"]["verdict"] == "unknown"
    assert document["dispatch"] is None
    assert any(a["kind"] == "UNKNOWN_CODE" for a in document["alerts"])


def test_track_unknown_and_malformed_codes(demo: Demo) -> None:
    never = demo.tracecode("track", "TC000000000001L")
    assert never.returncode == 3
    assert "never seen" in never.stdout
    as_json = demo.tracecode("track", "TC000000000001L", "--json")
    assert as_json.returncode == 3
    assert json.loads(as_json.stdout)["verdict"]["verdict"] == "unknown"

    malformed = demo.tracecode("track", "TC000000000001X")
    assert malformed.returncode == 2
    assert "marketplace-check-character" in malformed.stderr


def test_status_shows_the_running_stack(demo: Demo) -> None:
    result = demo.tracecode("status")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    for name in ("worker-1", "worker-2"):
        assert any(name in line and "ready" in line for line in lines), name
    assert any(line.split()[:2] == ["sink", "ready"] for line in lines if line.split())
    assert any(line.split()[:3] == ["tracking", "API", "ready"] for line in lines), lines
    lag_rows = [
        row for row in map(str.split, lines) if len(row) == 4 and row[1] in ("workers", "sink")
    ]
    assert len(lag_rows) == 5, lines
    assert all(row[-1] == "0" for row in lag_rows), lag_rows
    assert "dead letters: 0" in result.stdout


def test_a_second_run_with_the_same_seed_changes_nothing(demo: Demo) -> None:
    again = demo.data_dir / "again.json"
    result = run_demo(demo.env, again)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(again.read_text())
    assert "already running" in result.stderr, "the services left running are used"
    assert report["shipments"] == demo.report["shipments"]
    assert report["alerts"] == demo.report["alerts"]
    assert report["stages"]["stored"]["count"] == 0, "every event was a duplicate"


def test_another_simulation_over_the_same_topics_is_refused(demo: Demo) -> None:
    result = demo.tracecode(
        "demo", "--shipments", str(SHIPMENTS), "--seed", str(SEED + 1), "--keep-running"
    )

    assert result.returncode == 1
    assert "already hold the demo of seed" in result.stderr
    assert f"tracecode demo --seed {SEED} --shipments {SHIPMENTS}" in result.stderr


def test_demo_stop_stops_what_the_demo_left(demo: Demo) -> None:
    registry = ServiceRegistry.of(demo.data_dir)
    services = registry.running()
    assert {s.kind for s in services} == {ServiceKind.WORKER, ServiceKind.SINK, ServiceKind.API}

    result = demo.tracecode("demo", "stop")

    assert result.returncode == 0, result.stderr
    assert all(not is_alive(s.pid) for s in services)
    assert registry.running() == []
    assert "worker-1 stopped" in result.stdout


@pytest.fixture
def data_dir(tmp_path: Path) -> Iterator[Path]:
    """A data folder of its own; whatever a failed test leaves running there is stopped."""
    yield tmp_path
    stop_leftovers(tmp_path)


def test_ctrl_c_stops_everything_the_demo_started(kafka: KafkaConnection, data_dir: Path) -> None:
    env = demo_env(data_dir)
    # Big enough that the pipeline still runs when the signal comes. The demo gets SIGINT as
    # in a terminal: a test run started in the background without job control has it ignored,
    # and an ignored signal stays ignored across exec (a handler does not).
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", "tracecode", "demo", "--shipments", "5000", "--workers", "1"],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
    finally:
        signal.signal(signal.SIGINT, previous)
    registry = ServiceRegistry.of(data_dir)
    try:
        deadline = time.monotonic() + 120
        while len(registry.running()) < 2:  # the worker and the sink have started
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "the services did not start"
            time.sleep(0.2)
        pids = [service.pid for service in registry.running()]

        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()

    assert process.returncode == 130, stderr
    assert "interrupted" in stderr and "Stopped" in stderr
    assert all(not is_alive(pid) for pid in pids)
    assert registry.running() == []
    assert (data_dir / "logs" / "worker-1.log").exists()
