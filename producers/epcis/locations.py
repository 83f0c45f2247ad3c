"""Where an EPCIS event happened, as a :class:`~schemas.records.Location`.

The facility is the event's ``readPoint`` (where it was observed) or, lacking one, its
``bizLocation``. City, country and coordinates are filled only from what the document itself
says: a ``geo:`` URI as the location id (RFC 5870), or master data for that id in the
document header (CBV 2.0 location attributes ``city``, ``countryCode``, ``latitude``,
``longitude``, written ``urn:epcglobal:cbv:mda#city`` or ``cbvmda:city``). Nothing is looked
up elsewhere; unknown parts stay ``None``.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Mapping
from typing import Any

from producers.epcis.document import JsonObject
from schemas.records import Location
from schemas.validation import COUNTRIES

logger = logging.getLogger(__name__)

MasterData = Mapping[str, Mapping[str, Any]]
"""Attributes (local name -> value) of each location id described in the document header."""

_ATTRIBUTE_PREFIXES = ("urn:epcglobal:cbv:mda#", "cbvmda:")
_LOCATION_VOCABULARIES = ("ReadPoint", "BusinessLocation")
_GEO = re.compile(r"geo:(-?\d+(?:\.\d+)?),(-?\d+(?:\.\d+)?)(?:,[^;]*)?(?:;.*)?", re.IGNORECASE)


def master_data(header: Any) -> dict[str, dict[str, Any]]:
    """The location attributes in an ``epcisHeader`` (``{}`` when there are none)."""
    found: dict[str, dict[str, Any]] = {}
    master = header.get("epcisMasterData") if isinstance(header, dict) else None
    vocabularies = master.get("vocabularyList") if isinstance(master, dict) else None
    for vocabulary in vocabularies if isinstance(vocabularies, list) else []:
        kind = vocabulary.get("type", "")
        if not str(kind).endswith(_LOCATION_VOCABULARIES):
            continue
        for element in vocabulary.get("vocabularyElementList", []):
            attributes = found.setdefault(element["id"], {})
            for attribute in element.get("attributes", []):
                name = _local_name(attribute["id"])
                if name is not None:
                    attributes[name] = attribute.get("attribute")
    return found


def location_of(event: JsonObject, master: MasterData) -> Location:
    """The location of ``event`` (all ``None`` when it names no place)."""
    place_id = _place_id(event)
    location: Location = {
        "facility_id": place_id,
        "city": None,
        "country": None,
        "latitude": None,
        "longitude": None,
    }
    if place_id is None:
        return location
    geo = _GEO.fullmatch(place_id)
    if geo is not None:
        _set_coordinates(location, geo.group(1), geo.group(2), place_id)
    attributes = master.get(place_id, {})
    city = attributes.get("city")
    if isinstance(city, str) and city.strip():
        location["city"] = city.strip()
    country = attributes.get("countryCode")
    if isinstance(country, str) and country.strip().upper() in COUNTRIES:
        location["country"] = country.strip().upper()
    elif country is not None:
        logger.warning(
            "master data country is not an ISO 3166-1 alpha-2 code; left out",
            extra={"location_id": place_id, "country": country},
        )
    if location["latitude"] is None and "latitude" in attributes and "longitude" in attributes:
        _set_coordinates(location, attributes["latitude"], attributes["longitude"], place_id)
    return location


def _place_id(event: JsonObject) -> str | None:
    for key in ("readPoint", "bizLocation"):
        place = event.get(key)
        if isinstance(place, dict) and isinstance(place.get("id"), str):
            return str(place["id"])
    return None


def _local_name(attribute_id: str) -> str | None:
    for prefix in _ATTRIBUTE_PREFIXES:
        if attribute_id.startswith(prefix):
            return attribute_id[len(prefix) :]
    return None


def _set_coordinates(location: Location, latitude: Any, longitude: Any, place_id: str) -> None:
    try:
        lat, lon = float(latitude), float(longitude)
    except (TypeError, ValueError):
        lat = lon = math.nan
    if math.isfinite(lat) and math.isfinite(lon) and abs(lat) <= 90 and abs(lon) <= 180:
        location["latitude"], location["longitude"] = lat, lon
    else:
        logger.warning(
            "location coordinates out of range; left out",
            extra={"location_id": place_id, "latitude": latitude, "longitude": longitude},
        )
