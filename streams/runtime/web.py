"""The worker's web view: shipment state by code, routed to the worker that owns the code.

``GET /shipments/{code}`` accepts any form of a code (:func:`schemas.codes.parse_code`),
canonicalises it, and answers from the worker whose partition holds it: Faust's router maps
the code to a changelog partition with murmur2, like the producers map it to an input
partition, and the partition to the worker it is assigned to. A request another worker routed
here is answered here, whatever the (possibly newer) assignment says, so two workers with
different views of a rebalance cannot bounce it between them.
"""

from __future__ import annotations

import aiohttp
import faust
from faust.types import TP
from faust.web import Request, Response, View
from yarl import URL

from schemas.codes import MarketplaceFormat, parse_code
from schemas.errors import InvalidCodeError
from schemas.records import to_json
from streams.config import SHIPMENTS_TABLE
from streams.runtime.exactly_once import WorkerConsumer
from streams.runtime.states import ShipmentStates

ROUTED_HEADER = "X-Tracecode-Routed-From"
"""Set on a request one worker forwards to another."""
WORKER_HEADER = "X-Tracecode-Worker"
"""Set on every answer: the worker that read the state."""

_FORWARD_TIMEOUT = aiohttp.ClientTimeout(total=10)


def install_views(
    app: faust.App,
    states: ShipmentStates,
    changelog_topic: str,
    marketplace: MarketplaceFormat,
    worker_id: str,
) -> None:
    """Add ``/shipments/{code}``, ``/health`` and ``/health/live`` to ``app``'s web server."""

    @app.page("/shipments/{code:.+}")
    class ShipmentView(View):
        async def get(self, request: Request, code: str) -> Response:
            try:
                canonical = parse_code(code, marketplace=marketplace).canonical
            except InvalidCodeError as error:
                return self.json(
                    {"error": str(error), "code": code, "rule": error.rule}, status=400
                )
            if not is_ready(app):
                return self._unavailable(canonical, "the worker is starting or rebalancing")
            routed_from = request.headers.get(ROUTED_HEADER)
            try:
                if routed_from is None:
                    owner = app.router.key_store(SHIPMENTS_TABLE, canonical)
                    if not _same_node(owner, URL(str(app.conf.canonical_url))):
                        return await self._forward(owner, canonical)
                partition = app.producer.key_partition(changelog_topic, canonical.encode())
            except (KeyError, TypeError):
                # KeyError: no worker owns the partition yet; TypeError: aiokafka's producer
                # has no metadata of the topic yet (a fresh start) and iterates over None.
                return self._unavailable(canonical, "no worker owns its partition yet")
            if TP(changelog_topic, partition.partition) not in (app.assignor.assigned_actives()):
                return self._unavailable(canonical, "its partition is moving between workers")
            state = states.get(partition.partition, canonical)
            answered_by = {WORKER_HEADER: worker_id}
            if state is None:
                return self.json(
                    {
                        "error": f"no shipment with code {canonical!r} (never seen, or "
                        "forgotten after a long idle time: its history is in ClickHouse)",
                        "code": canonical,
                    },
                    status=404,
                    headers=answered_by,
                )
            return self.json(to_json(state), headers=answered_by)

        async def _forward(self, owner: URL, canonical: str) -> Response:
            url = owner.with_path(f"/shipments/{canonical}")
            headers = {ROUTED_HEADER: worker_id}
            try:
                async with app.http_client.get(
                    url, headers=headers, timeout=_FORWARD_TIMEOUT
                ) as response:
                    body = await response.read()
                    headers = {}
                    if WORKER_HEADER in response.headers:
                        headers[WORKER_HEADER] = response.headers[WORKER_HEADER]
                    return self.bytes(
                        body,
                        content_type=response.content_type,
                        status=response.status,
                        headers=headers,
                    )
            except (aiohttp.ClientError, TimeoutError) as error:
                return self._unavailable(canonical, f"its worker {owner} did not answer: {error}")

        def _unavailable(self, canonical: str, reason: str) -> Response:
            return self.json(
                {"error": f"shipment {canonical!r} cannot be read now: {reason}; retry"},
                status=503,
                headers={"Retry-After": "1"},
            )

    @app.page("/health")
    class HealthView(View):
        async def get(self, request: Request) -> Response:
            topics = {changelog_topic}
            partitions = sorted(
                tp.partition for tp in app.assignor.assigned_actives() if tp.topic in topics
            )
            consumer = app.consumer
            connected = not isinstance(consumer, WorkerConsumer) or consumer.broker_connected()
            phase, reasons = readiness(
                app, has_partitions=bool(partitions), broker_connected=connected
            )
            body = {
                "status": phase,
                "worker": worker_id,
                "partitions": partitions,
                "reasons": list(reasons),
                "processing_guarantee": app.conf.processing_guarantee.value,
            }
            return self.json(body, status=200 if phase == "ready" else 503)

    @app.page("/health/live")
    class LivenessView(View):
        async def get(self, request: Request) -> Response:
            return self.json({"status": "alive", "worker": worker_id})


def is_ready(app: faust.App) -> bool:
    """Whether the worker serves its partitions' state: assigned, tables recovered, not
    rebalancing. (It still does while the broker is away: the state is as of the outage.)"""
    return bool(app.started and not app.rebalancing and app.tables.actives_ready)


def readiness(
    app: faust.App, *, has_partitions: bool, broker_connected: bool
) -> tuple[str, tuple[str, ...]]:
    """What ``/health`` reports: ``ready``, or the phase the worker is in and why."""
    if not app.started:
        return "starting", ("the worker is starting",)
    if app.rebalancing:
        return "rebalancing", ("the group is moving partitions between its workers",)
    if not app.tables.actives_ready:
        return "recovering", ("rebuilding the state of its partitions from the changelog",)
    if not broker_connected:
        return "broker-unreachable", (
            "the group coordinator does not answer: the worker waits for Kafka and goes on "
            "by itself once it is back",
        )
    if not has_partitions:
        # An idle member is not serving anything (more workers than partitions, or a group
        # that has not assigned this one yet).
        return "unassigned", ("the group assigned this worker no partitions",)
    return "ready", ()


def _same_node(a: URL, b: URL) -> bool:
    return (a.host, a.port) == (b.host, b.port)
