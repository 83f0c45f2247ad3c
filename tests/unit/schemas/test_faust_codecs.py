from __future__ import annotations

from datetime import datetime
from typing import Any

import faust
import pytest
from faust.serializers import codecs

from schemas.codec import codec_for
from schemas.errors import BadMarkerError
from schemas.faust_codecs import CODEC_NAMES, register_codecs
from schemas.records import RecordType

from .samples import SAMPLES

register_codecs()


class Location(faust.Record):
    facility_id: str | None
    city: str | None
    country: str | None
    latitude: float | None
    longitude: float | None


class Scan(faust.Record, serializer="tracecode.CarrierScan"):
    event_id: str
    code: str
    carrier: str
    tracking_number: str | None
    raw_event_code: str
    raw_description: str
    status: str
    sub_status: str
    location: Location
    event_time: datetime
    event_utc_offset_minutes: int
    received_time: datetime
    source: str
    retracts_event_id: str | None


@pytest.fixture(scope="module")
def app() -> Any:
    # Building an app and its topics opens no connection: no broker is needed.
    return faust.App("tracecode-codec-test", broker="kafka://127.0.0.1:1")


def test_names_are_stable() -> None:
    assert CODEC_NAMES[RecordType.CARRIER_SCAN] == "tracecode.CarrierScan"
    assert set(CODEC_NAMES.values()) <= set(codecs.codecs)


@pytest.mark.parametrize("record_type", list(RecordType))
def test_topic_with_the_registered_serializer_round_trips_dicts(
    app: Any, record_type: RecordType
) -> None:
    topic = app.topic("t", value_serializer=CODEC_NAMES[record_type])
    record = SAMPLES[record_type]()
    data = app.serializers.dumps_value(None, record, serializer=topic.value_serializer)
    assert data == codec_for(record_type).encode(record)  # the very wire format
    assert app.serializers.loads_value(None, data, serializer=topic.value_serializer) == record


def test_faust_record_round_trips_through_the_codec(app: Any) -> None:
    fields = SAMPLES[RecordType.CARRIER_SCAN]()
    scan = Scan(**{**fields, "location": Location(**fields["location"])})
    topic = app.topic("scans", value_type=Scan)
    data = app.serializers.dumps_value(Scan, scan, serializer=topic.value_serializer)
    assert codec_for(RecordType.CARRIER_SCAN).decode(data) == fields
    assert app.serializers.loads_value(Scan, data, serializer=topic.value_serializer) == scan


def test_decoding_errors_are_the_typed_ones() -> None:
    with pytest.raises(BadMarkerError):
        codecs.loads("tracecode.CarrierScan", b'{"json": true}')
