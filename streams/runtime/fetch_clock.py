"""When the fetch that last reported each input partition's end was requested.

The arrival-order merge trusts an idle partition of broker-stamped input once a fetch of it was
requested after the record waiting for it arrived (:mod:`streams.runtime.sequencer`). aiokafka
keeps only the wall-clock time a fetch *response* was handled
(``AIOKafkaConsumer.last_poll_timestamp``), which can come long after the broker read the
partition; :class:`FetchClock` wraps the fetcher's request coroutine to note when each request
was made, and which partitions its response reported.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from faust.types import TP

logger = logging.getLogger(__name__)


class FetchClock:
    """For each partition, the latest fetch response that reported its high watermark: when its
    request was made (monotonic seconds) and when the response was handled (wall-clock ms)."""

    def __init__(self, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._monotonic = monotonic
        self._fetches: dict[TP, tuple[float, int]] = {}
        self._fetcher: object | None = None

    def requested_at(self, tp: TP) -> float | None:
        """When the fetch whose response last reported ``tp``'s high watermark was requested
        (``None``: no such fetch seen since the clock was installed)."""
        fetch = self._fetches.get(tp)
        return None if fetch is None else fetch[0]

    def fetched_at_ms(self, tp: TP) -> int | None:
        """When that response was handled (aiokafka's ``last_poll_timestamp``)."""
        fetch = self._fetches.get(tp)
        return None if fetch is None else fetch[1]

    def install(self, fetcher: Any) -> None:
        """Time the requests of an aiokafka ``Fetcher`` (once per fetcher; a new one, after the
        consumer was recreated, starts the clock afresh)."""
        if fetcher is None or fetcher is self._fetcher:
            return
        original = getattr(fetcher, "_proc_fetch_request", None)
        if original is None:
            logger.warning(
                "aiokafka's fetcher has no _proc_fetch_request: broker-stamped input is ordered "
                "with the fetch margin instead"
            )
            return
        self._fetcher = fetcher
        self._fetches.clear()

        async def timed(assignment: Any, node_id: int, request: Any) -> Any:
            requested = self._monotonic()
            # aiokafka stamps each partition a response reports with the time it handled it;
            # cleared first, a stamp found afterwards is this response's (a millisecond's
            # resolution could not tell it from an earlier response's).
            states = []
            for topic, partitions in request.topics:
                for partition_data in partitions:
                    tp = TP(topic, partition_data[0])
                    state = assignment.state_value(tp)
                    if state is not None:
                        states.append((tp, state, state.timestamp))
                        state.timestamp = None
            try:
                return await original(assignment, node_id, request)
            finally:
                for tp, state, before in states:
                    stamp = state.timestamp
                    if stamp is None:
                        state.timestamp = before
                    else:
                        self._fetches[tp] = (requested, stamp)

        fetcher._proc_fetch_request = timed
