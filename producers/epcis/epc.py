"""The grammar of EPC URIs (GS1 EPC Tag Data Standard) in EPCIS fields.

EPCIS 2.0 lets any absolute URI identify things and places, but a URI in the ``urn:epc:``
namespace must follow the Tag Data Standard: the pure identity form (``urn:epc:id:``) for
instances and locations, the class (``urn:epc:class:``) or pattern (``urn:epc:idpat:``) form for
the ``epcClass`` of a quantity. epcpy holds the grammar of every scheme (SGTIN, SSCC, SGLN, GRAI,
GIAI, ..., 21 in all); this module only picks the form each field allows.
"""

from __future__ import annotations

import logging
import re
from enum import Enum

from epcpy.utils.common import ConvertException
from epcpy.utils.parsers import epc_pure_identity_to_scheme
from epcpy.utils.regex import EPC_URI, IDPAT_URI

logger = logging.getLogger(__name__)

_GRAMMAR = re.compile(EPC_URI)
_IDPAT = re.compile(IDPAT_URI)
_EPC_NAMESPACE = "urn:epc:"


class Level(Enum):
    """What a field identifies, hence which EPC URI forms it takes."""

    INSTANCE = "instance"
    """One object or place: ``urn:epc:id:``."""
    CLASS = "class"
    """A class of objects (``epcClass``): ``urn:epc:class:`` or ``urn:epc:idpat:``."""


def epc_uri_problem(uri: str, level: Level) -> str | None:
    """Why ``uri`` is not a valid EPC URI for a field of ``level``, or ``None`` when it is (URIs
    outside the ``urn:epc:`` namespace are not EPC URIs and always pass)."""
    lowered = uri.lower()
    if not lowered.startswith(_EPC_NAMESPACE):
        return None
    if level is Level.CLASS and lowered.startswith("urn:epc:idpat:"):
        if _IDPAT.fullmatch(uri):
            return None
        return f"{uri!r} is not a valid EPC pattern URI (urn:epc:idpat:scheme:...)"
    allowed = ("urn:epc:id:",) if level is Level.INSTANCE else ("urn:epc:class:",)
    if not lowered.startswith(allowed):
        forms = "urn:epc:id:" if level is Level.INSTANCE else "urn:epc:class: or urn:epc:idpat:"
        return f"{uri!r} is not allowed here: this field takes EPC URIs of the form {forms}"
    try:
        epc_pure_identity_to_scheme(uri)
    except ConvertException as exc:
        return f"{uri!r} breaks the EPC Tag Data Standard: {exc}"
    except ValueError:
        # epcpy trips over some valid %-escapes (e.g. "%3C:"); its grammar still decides.
        if _GRAMMAR.fullmatch(uri) is None:
            return f"{uri!r} breaks the EPC Tag Data Standard grammar"
        logger.debug("epcpy could not convert a grammatical EPC URI", extra={"uri": uri})
    return None
