"""The worker's aiokafka producers ride out a broker outage (streams.runtime.producer_client).

The broker is faked at the client's ``send``; the sender is aiokafka's own.
"""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest
from aiokafka.errors import InvalidRequestError, KafkaConnectionError, KafkaError
from aiokafka.protocol.coordination import FindCoordinatorRequest

from streams.runtime import internals, producer_client
from streams.runtime.producer_client import OutageTolerantClient, OutageTolerantProducer

TRANSACTION = 1
"""aiokafka's ``CoordinationType.TRANSACTION``."""


def _producer() -> OutageTolerantProducer:
    return OutageTolerantProducer(
        bootstrap_servers="127.0.0.1:1", transactional_id="unit-0", retry_backoff_ms=1
    )


def _answered(*answers: BaseException | int) -> Any:
    """A ``send`` that fails or names a coordinator, one answer per FindCoordinator request."""
    pending = list(answers)
    asked: list[object] = []

    async def send(node_id: int, request: object, **_: object) -> object:
        assert isinstance(request, FindCoordinatorRequest)
        asked.append(request)
        answer = pending.pop(0)
        if isinstance(answer, BaseException):
            raise answer
        return SimpleNamespace(error_code=0, coordinator_id=answer)

    send.asked = asked  # type: ignore[attr-defined]
    return send


def _known_broker(client: OutageTolerantClient, send: Any) -> None:
    async def ready(node_id: int, **_: object) -> bool:
        return True

    def metadata_update() -> asyncio.Future[bool]:
        done = asyncio.get_running_loop().create_future()
        done.set_result(True)
        return done

    client.send = send
    client.ready = ready
    client.force_metadata_update = metadata_update
    client.get_random_node = lambda: 1


def test_a_connection_lost_during_a_coordinator_lookup_is_retried() -> None:
    """The broker stopping mid-lookup ended aiokafka's sender, and every later commit failed."""

    async def lookup() -> tuple[int, int]:
        producer = _producer()
        send = _answered(KafkaConnectionError("Connection at 127.0.0.1:1 closed"), 7)
        _known_broker(producer.client, send)
        node = await producer._sender._find_coordinator(TRANSACTION, "unit-0")
        return node, len(send.asked)

    assert asyncio.run(lookup()) == (7, 2)


def test_an_error_that_no_retry_can_mend_still_ends_the_lookup() -> None:
    async def lookup() -> None:
        producer = _producer()
        _known_broker(producer.client, _answered(InvalidRequestError()))
        await producer._sender._find_coordinator(TRANSACTION, "unit-0")

    with pytest.raises(KafkaError, match="InvalidRequest"):
        asyncio.run(lookup())


def test_a_lookup_with_no_broker_known_waits_for_one() -> None:
    async def lookup() -> tuple[int, int]:
        producer = _producer()
        send = _answered(3)
        _known_broker(producer.client, send)
        nodes = [None]
        producer.client.get_random_node = lambda: nodes.pop() if nodes else 1
        node = await producer._sender._find_coordinator(TRANSACTION, "unit-0")
        return node, len(send.asked)

    assert asyncio.run(lookup()) == (3, 1)


def test_a_failed_metadata_update_waits_the_backoff_before_its_callers_go_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """aiokafka's sender asks again as soon as an update ends: with no broker, a busy loop."""
    slept: list[float] = []
    real_sleep = asyncio.sleep

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        await real_sleep(0)

    monkeypatch.setattr(producer_client.asyncio, "sleep", sleep)

    async def update() -> bool:
        client = _producer().client

        async def no_connection(node_id: object, **_: object) -> None:
            return None

        client._get_conn = no_connection  # every broker refuses
        updated: bool = await client._metadata_update(client.cluster, set())
        return updated

    assert asyncio.run(update()) is False
    assert slept == [0.001]


def test_the_producers_clients_have_what_the_fixes_read() -> None:
    async def build() -> OutageTolerantProducer:
        return _producer()

    producer = asyncio.run(build())
    assert isinstance(producer.client, OutageTolerantClient)
    assert internals.attribute_problems(producer, internals.CLIENT_ATTRIBUTES[:1]) == []
    assert internals.attribute_problems(producer.client, internals.CLIENT_ATTRIBUTES[1:]) == []
