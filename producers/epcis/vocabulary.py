"""CBV 2.0 vocabulary in EPCIS fields.

A vocabulary field (``bizStep``, ``disposition``, a business transaction, source or destination
type, an error reason) holds either a standard CBV term, as a bare word (which the EPCIS JSON-LD
context expands into the CBV namespace), a CBV URN or a CBV web URI, or a URI of the sender's
own. So a bare word that is no CBV term is an error (``transforming``), as is a URI inside the
CBV namespace that names no term of the field's kind. The term lists live in :mod:`schemas.cbv`.
Compact IRIs (``ext1:summarising_discharge``) are taken as the sender's own URIs.
"""

from __future__ import annotations

import re

from schemas.cbv import CbvKind, cbv_term

_LABELS: dict[CbvKind, str] = {
    "bizStep": "business step",
    "disposition": "disposition",
    "bizTransactionType": "business transaction type",
    "sourceDestType": "source/destination type",
    "errorReason": "error reason",
}
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:")
_CBV_NAMESPACES = ("urn:epcglobal:cbv:", "https://ref.gs1.org/cbv/")


def term_problem(value: str, kind: CbvKind) -> str | None:
    """Why ``value`` may not stand in a field of ``kind``, or ``None`` when it may."""
    if cbv_term(value, kind) is not None:
        return None
    label = _LABELS[kind]
    if _SCHEME.match(value) is None:
        return (
            f"{value!r} is not a CBV 2.0 {label}; a bare word must be a standard term, "
            "and a value of your own must be a URI"
        )
    if value.startswith(_CBV_NAMESPACES):
        return f"{value!r} is inside the CBV namespace but names no CBV 2.0 {label}"
    return None
