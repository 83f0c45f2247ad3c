"""Publishing a simulation in a thread of its own, so the demo watches the other stages meanwhile.

The producer core is not thread-safe; this thread is the only one that touches it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable

from producers.core import DeliveryError, EventProducer, ProducerStats
from producers.simulator import SimEvent

logger = logging.getLogger(__name__)

_CLOSE_TIMEOUT_WHEN_STOPPED = 30.0


class Publisher(threading.Thread):
    """Sends ``events`` through ``producer``, then flushes it.

    ``halt`` set (by :meth:`stop` or by whoever paces ``events``) ends the sending early.
    """

    def __init__(
        self, producer: EventProducer, events: Iterable[SimEvent], halt: threading.Event
    ) -> None:
        super().__init__(name="demo-publisher", daemon=True)
        self._producer = producer
        self._events = events
        self._halt = halt
        self.error: BaseException | None = None
        """Why publishing failed (a :class:`DeliveryError` lists the events not delivered)."""
        self.finished_at: float | None = None
        """``time.monotonic()`` when every event was acknowledged (or publishing ended)."""

    @property
    def stats(self) -> ProducerStats:
        return self._producer.stats

    def stop(self) -> None:
        """Send no more events; what was sent is still delivered (for a while)."""
        self._halt.set()

    def run(self) -> None:
        try:
            for event in self._events:
                if self._halt.is_set():
                    break
                self._producer.send(event.kind, event.record)
            timeout = _CLOSE_TIMEOUT_WHEN_STOPPED if self._halt.is_set() else None
            self._producer.close(timeout)
        except DeliveryError as error:
            self.error = error
        except Exception as error:
            logger.exception("publishing failed")
            self.error = error
        finally:
            self.finished_at = time.monotonic()
