"""The event hash, checked against the reference implementation's published examples.

The two events and their hashes are the first two of ``TimeStampRoundOff`` in the test
examples of epcis-event-hash-generator (the CBV 2.0 reference implementation).
"""

import logging
import subprocess
import sys
from typing import Any

import pytest

from producers.epcis.hashing import event_hash

CONTEXT: list[str | dict[str, Any]] = [
    "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"
]
SHIPPING = {
    "type": "ObjectEvent",
    "eventTime": "2023-02-02T11:04:03.1415Z",
    "eventTimeZoneOffset": "+01:00",
    "epcList": ["https://id.gs1.de/00/040123451111111110"],
    "action": "OBSERVE",
    "bizStep": "shipping",
    "disposition": "in_transit",
    "readPoint": {"id": "https://id.gs1.de/414/4012345000115"},
}
TRANSPORTING = {
    "type": "ObjectEvent",
    "eventTime": "2023-02-02T11:04:03.1414Z",
    "eventTimeZoneOffset": "+01:00",
    "epcList": ["https://id.gs1.de/00/040123451111111110"],
    "action": "OBSERVE",
    "bizStep": "transporting",
    "readPoint": {"id": "geo:50.947573340894124,6.922120147375441"},
}


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        (
            SHIPPING,
            "ni:///sha-256;af7658e711574363633f20b3dadc7bc4c13c6f612cf96d95e03c421c0e58f3c6"
            "?ver=CBV2.0",
        ),
        (
            TRANSPORTING,
            "ni:///sha-256;0550df44527332c1fe417c5837fe61b9e71eaa93307b88519dac549bf2d4dcf9"
            "?ver=CBV2.0",
        ),
    ],
)
def test_published_examples(event: dict[str, Any], expected: str) -> None:
    assert event_hash(event, CONTEXT) == expected


def test_unversioned_context_and_other_remote_contexts_change_nothing() -> None:
    # Nothing is fetched: an unknown remote context would fail the JSON-LD expansion.
    context: list[str | dict[str, Any]] = [
        "https://ref.gs1.org/standards/epcis/epcis-context.jsonld",
        "https://contexts.example.com/never-fetched.jsonld",
        {"ex": "https://ns.example.com/"},
    ]
    assert event_hash(SHIPPING, context) == event_hash(SHIPPING, CONTEXT)


def test_event_id_record_time_and_error_declaration_are_not_hashed() -> None:
    declared = {
        **SHIPPING,
        "eventID": "urn:uuid:1d3c1a3e-3b0c-4b8e-9a57-0f0d7d1e6a11",
        "recordTime": "2024-01-01T00:00:00Z",
        "errorDeclaration": {"declarationTime": "2024-02-01T00:00:00Z", "reason": "did_not_occur"},
    }
    assert event_hash(declared, CONTEXT) == event_hash(SHIPPING, CONTEXT)


def test_content_changes_the_hash() -> None:
    other = {**SHIPPING, "epcList": ["https://id.gs1.de/00/040123451111111127"]}
    assert event_hash(other, CONTEXT) != event_hash(SHIPPING, CONTEXT)


def test_namespaces_do_not_leak_from_one_document_into_the_next() -> None:
    extended = {**SHIPPING, "ex:note": "fragile"}
    undefined = event_hash(extended, CONTEXT)
    defined_a = event_hash(extended, [*CONTEXT, {"ex": "https://a.example.com/"}])
    defined_b = event_hash(extended, [*CONTEXT, {"ex": "https://b.example.com/"}])
    assert len({undefined, defined_a, defined_b}) == 3
    assert event_hash(extended, CONTEXT) == undefined


def test_the_hash_package_does_not_log_each_event(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG):
        event_hash(SHIPPING, CONTEXT)
    assert not [record for record in caplog.records if record.name == "root"]


def test_importing_leaves_sys_path_alone() -> None:
    check = (
        "import sys; before = list(sys.path); import producers.epcis.hashing; "
        "assert sys.path == before, sys.path[:3]"
    )
    subprocess.run([sys.executable, "-c", check], check=True)
