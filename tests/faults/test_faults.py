"""Faults injected into the running pipeline: each scenario ends equal to the clean run.

Workers and the sink run as separate processes on the suite's own broker; the input is the
clean run's, published on the same timestamp schedule (``tests.faults.input``) while the fault
happens. Every figure of ``Figures.ZERO`` must be 0: no event lost or stored twice, no status
version emitted twice, no state, status or alert that differs from the clean run, and every
dead letter is a poison record of the scenario.
"""

from __future__ import annotations

import random
import shutil
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.faults.conftest import RATE, REPORT, Clean, Cluster
from tests.faults.input import POISON_KINDS, Item, Published, produced_twice, publish, with_poison
from tests.faults.rig import Figures, Run, compare
from tests.faults.sink_process import CRASH_AFTER_INSERT, CRASHED, FAIL_INSERTS
from tests.helpers import wait_for


class Publishing:
    """``publish`` in a thread of its own, so that faults happen while records flow."""

    def __init__(self, run: Run, items: list[Item], producers: int = 1) -> None:
        self.result: Published | None = None
        self.error: BaseException | None = None
        self.started = time.monotonic()

        def target() -> None:
            try:
                self.result = publish(run.kafka, run.topics, items, rate=RATE, producers=producers)
            except BaseException as error:  # reported by finished()
                self.error = error

        self.thread = threading.Thread(target=target, daemon=True)
        self.thread.start()

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def finished(self, timeout: float = 300.0) -> Published:
        self.thread.join(timeout)
        if self.error is not None:
            raise self.error
        assert self.result is not None, "publishing did not finish"
        return self.result


@contextmanager
def scenario(
    cluster: Cluster, tmp_path: Path, name: str, workers: int = 2, **env: str
) -> Iterator[Run]:
    run = Run(cluster.kafka, name, tmp_path, workers=workers, worker_env=env)
    try:
        run.start().wait_ready()
        yield run
    finally:
        run.close()


def finish(run: Run, clean: Clean, published: Published, recover_s: float | None = None) -> Figures:
    """Compare the run's end result with the clean run; record and check the figures."""
    outcome = run.outcome(clean.codes)
    figures = compare(run.name, clean.outcome, outcome, published)
    figures.recover_s = recover_s
    figures.seconds = time.monotonic() - run.started
    REPORT.append(figures)
    assert not figures.failures(), f"{figures.failures()}: {figures.examples}"
    return figures


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    wait_for(lambda: True if condition() else None, timeout, what, interval=0.1)


def test_kill_9_of_a_worker_at_three_random_moments(
    cluster: Cluster, clean: Clean, tmp_path: Path
) -> None:
    chooser = random.Random()
    moments = sorted(chooser.uniform(1.0, 9.0) for _ in range(3))
    with scenario(cluster, tmp_path, "kill-9") as run:
        publishing = Publishing(run, clean.items)
        restarted = 0.0
        for moment in moments:
            time.sleep(max(0.0, moment - publishing.elapsed()))
            victim = chooser.choice(run.running_workers())
            victim.stop(signal.SIGKILL)
            victim.start()
            restarted = time.monotonic()
        run.wait_ready()
        recover = time.monotonic() - restarted
        finish(run, clean, publishing.finished(), recover)


def test_rebalances_among_three_workers(cluster: Cluster, clean: Clean, tmp_path: Path) -> None:
    with scenario(cluster, tmp_path, "rebalances", workers=3) as run:
        publishing = Publishing(run, clean.items)
        time.sleep(3.0)
        gone = run.workers.pop(1)
        gone.stop(signal.SIGKILL)
        time.sleep(3.0)
        newcomer = run.new_worker("w4")
        run.workers.append(newcomer.start())
        published = publishing.finished()
        recover = run.wait_ready()
        finish(run, clean, published, recover)


def test_broker_stopped_for_60_s_mid_run(cluster: Cluster, clean: Clean, tmp_path: Path) -> None:
    # Producers hold what they send while the broker is away; a record held longer than the
    # fetch margin could be merged after records it precedes (docs/operations.md).
    with scenario(cluster, tmp_path, "broker-outage", TRACECODE_WORKER_FETCH_MARGIN="90") as run:
        publishing = Publishing(run, clean.items)
        time.sleep(4.0)
        cluster.stop()
        time.sleep(60.0)
        cluster.start()
        back = time.monotonic()
        published = publishing.finished()
        for worker in run.workers:
            worker.wait_ready(180)
        run.sink.wait_status("ready", 180)
        finish(run, clean, published, time.monotonic() - back)
        for worker in run.workers:
            # Each client retries after a backoff; aiokafka's sender alone looped without one
            # (~330,000 failed updates in this outage, streams.runtime.producer_client).
            failed = worker.log.read_text(errors="replace").count("Unable to update metadata")
            assert failed < 20_000, f"worker {worker.worker_id}: {failed} failed metadata updates"


def test_sink_killed_between_insert_and_ledger(
    cluster: Cluster, clean: Clean, tmp_path: Path
) -> None:
    with scenario(cluster, tmp_path, "sink-crash") as run:
        publishing = Publishing(run, clean.items)
        time.sleep(3.0)
        run.sink.set_fault(CRASH_AFTER_INSERT)
        assert run.sink.wait_exit(60) == 137
        assert (run.sink.control / CRASHED).exists()
        run.sink.start()
        restarted = time.monotonic()
        run.sink.wait_status("ready")
        recover = time.monotonic() - restarted
        finish(run, clean, publishing.finished(), recover)


def test_clickhouse_failing_for_30_s(cluster: Cluster, clean: Clean, tmp_path: Path) -> None:
    with scenario(cluster, tmp_path, "clickhouse-outage") as run:
        publishing = Publishing(run, clean.items)
        time.sleep(2.0)
        run.sink.set_fault(FAIL_INSERTS)
        body = run.sink.wait_status("clickhouse-unreachable", 60)
        assert any("injected" in reason for reason in body["reasons"]), body
        time.sleep(30.0)
        run.sink.set_fault(FAIL_INSERTS, on=False)
        cleared = time.monotonic()
        run.sink.wait_status("ready", 120)
        finish(run, clean, publishing.finished(), time.monotonic() - cleared)


def test_one_percent_poison_interleaved(cluster: Cluster, clean: Clean, tmp_path: Path) -> None:
    items = with_poison(clean.items, 0.01, seed=3)
    with scenario(cluster, tmp_path, "poison") as run:
        published = Publishing(run, items).finished()
        assert set(published.poison.values()) == set(POISON_KINDS)
        figures = finish(run, clean, published)
        assert figures.dead_letters == len(published.poison) + len(
            [key for key in clean.outcome.dead_letters]
        )


def test_the_same_input_produced_twice(cluster: Cluster, clean: Clean, tmp_path: Path) -> None:
    with scenario(cluster, tmp_path, "produced-twice") as run:
        published = Publishing(run, produced_twice(clean.items, chunk=500)).finished()
        assert published.good == 2 * clean.published.good
        finish(run, clean, published)


def test_state_folder_deleted_while_stopped(cluster: Cluster, clean: Clean, tmp_path: Path) -> None:
    with scenario(cluster, tmp_path, "state-deleted") as run:
        publishing = Publishing(run, clean.items)
        time.sleep(4.0)
        victim = run.workers[0]
        state = Path(victim.env["TRACECODE_DATA_DIR"]) / "streams" / run.group / victim.worker_id
        victim.stop(signal.SIGKILL)
        assert state.is_dir(), state
        shutil.rmtree(state)
        victim.start()
        restarted = time.monotonic()
        victim.wait_ready(180)
        finish(run, clean, publishing.finished(), time.monotonic() - restarted)


@pytest.mark.parametrize("poisoned", [False, True], ids=["good", "with-poison"])
def test_several_producers_write_the_same_partitions(
    cluster: Cluster, clean: Clean, tmp_path: Path, poisoned: bool
) -> None:
    items = with_poison(clean.items, 0.01, seed=5) if poisoned else clean.items
    name = "producers-x3-poison" if poisoned else "producers-x3"
    # Their records reach each partition out of timestamp order (docs/operations.md).
    with scenario(cluster, tmp_path, name, TRACECODE_WORKER_REORDER_WINDOW="2") as run:
        published = Publishing(run, items, producers=3).finished()
        finish(run, clean, published)


FRESH_STARTS = 3


def test_fresh_starts_get_partitions_and_never_answer_500(
    cluster: Cluster, clean: Clean, tmp_path: Path
) -> None:
    """Every run of the suite starts a fresh group (``Run.wait_ready`` asserts partitions);
    these add starts on topics that hold nothing yet, watched from the first request on."""
    code = sorted(clean.codes)[0]
    for attempt in range(FRESH_STARTS):
        run = Run(cluster.kafka, f"fresh-{attempt}", tmp_path / str(attempt))
        try:
            run.start()
            seen: set[tuple[str, int]] = set()

            def ready(run: Run = run, seen: set[tuple[str, int]] = seen) -> bool:
                states = []
                for worker in run.workers:
                    worker._check_alive()
                    health, body = worker.get("/health")
                    shipment, _ = worker.get(f"/shipments/{code}")
                    seen.update({("health", health), ("shipment", shipment)})
                    if health == 200:
                        assert body["partitions"], f"ready without partitions: {body}"
                    states.append(health == 200)
                return all(states)

            wait_until(ready, 120, f"fresh start {attempt} to be ready")
            assert not {answer for answer in seen if answer[1] == 500}, seen
            for worker in run.workers:
                assert worker.get(f"/shipments/{code}")[0] == 404
        finally:
            run.close()
