"""Traceability codes: parsing, validation and the canonical form that is the Kafka key.

A parcel's traceability code comes in one of these forms; :func:`parse_code` accepts each and
gives a :class:`TraceCode` whose ``canonical`` text is the shipment's identity everywhere (Kafka
key, ``code`` field of every record, ClickHouse, web view):

**Marketplace codes** (``CodeKind.MARKETPLACE``), issued by the marketplace and printed on the
parcel. Canonical form: upper case, with the spaces and hyphens people type removed. The format
is configurable (:class:`MarketplaceFormat`); the default is two letters (the issuer) followed by
8-28 letters or digits, the last of which is an ISO 7064 MOD 37,36 check character over all the
others, e.g. ``TC000000000001L`` (also typed ``tc-0000 0000 0001 l``). The check character
catches every single mistyped character and nearly every swap of two adjacent ones, so a
mistyped code is rejected instead of opening a phantom shipment. :func:`marketplace_code` makes
valid default-format codes from a number or bytes.

**Serialized GS1 items** (``CodeKind.SGTIN``): a GTIN plus a serial number (AI 21), given as

- a GS1 Digital Link URI on any resolver host, e.g.
  ``https://id.gs1.org/01/09506000134352/21/ABC%2F1?linkType=all``: ``http`` or ``https``,
  an optional path before ``/01/``, GTIN-8/12/13/14 (padded to 14), optional ``/22/`` and
  ``/10/`` qualifiers (not part of the identity), percent-encoded serial; the query string and
  fragment are ignored;
- an EPC SGTIN pure-identity URN, e.g. ``urn:epc:id:sgtin:95060001343.05.ABC%2F1``
  (company prefix, indicator digit + item reference, escaped serial);
- the canonical form itself: ``(01)`` + GTIN-14 + ``(21)`` + serial, the GS1 element string
  in its human-readable form, e.g. ``(01)09506000134352(21)ABC/1``. Chosen because it is short,
  familiar (it is printed under GS1 barcodes), needs no escaping, never collides with a
  marketplace code (those have no parentheses), and is unambiguous (the GTIN has a fixed
  length, so the serial is everything after the second AI).

Every GTIN's check digit is verified; a serial must be 1-20 characters of GS1 AI encodable
character set 82. :func:`to_digital_link` and :func:`to_sgtin_urn` turn a canonical GS1 code
back into the URI forms (for EPCIS export).

A bad code raises :class:`~schemas.errors.InvalidCodeError` whose ``rule`` names what broke:
``empty``, ``marketplace-pattern``, ``marketplace-check-character``, ``gtin-digits``,
``gtin-check-digit``, ``serial-length``, ``serial-charset``, ``digital-link-syntax``,
``digital-link-key``, ``digital-link-serial``, ``sgtin-syntax``, ``unsupported-form``.

Libraries: Digital Link URIs are parsed by biip (maintained, typed, dependency-free: GS1's
application identifier table, the Digital Link path grammar, percent-decoding, GTIN padding) and
the GS1 company prefix length for SGTIN URNs comes from biip's GS1 prefix table; the ISO 7064
check character from python-stdnum. SGTIN URNs are parsed here: epcpy was evaluated, but it
crashes with a bare ValueError on some valid escapes (``%3C:``) and the conversion is a few lines
(indicator digit + company prefix + item reference + check digit).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum
from urllib.parse import quote, unquote

from biip import ParseError
from biip.checksums import gs1_standard_check_digit
from biip.gs1_digital_link_uris import GS1DigitalLinkURI
from biip.gtin import Gtin
from stdnum.iso7064 import mod_37_36

from schemas.errors import InvalidCodeError

DEFAULT_MARKETPLACE_PATTERN = r"[A-Z]{2}[0-9A-Z]{8,28}"
"""Two issuer letters, then 8-28 letters/digits (the last one the check character)."""

_SEPARATORS = re.compile(r"[\s\-]+")
_CSET82 = re.compile(r"""[!"%-?A-Z_a-z]+""")
_CANONICAL_GS1 = re.compile(r"\(01\)([0-9]{14})\(21\)(.*)", re.DOTALL)
_DIGITS = re.compile(r"[0-9]+")
_BASE36 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_SGTIN_PREFIX = "urn:epc:id:sgtin:"
_SIMPLE_LINK = re.compile(r"(?i:https?)://[^/]+(?:/[^/]+)*?/01/([0-9]+)/21/([^/]+)")
# The characters an EPC URN must %-escape in a serial (Tag Data Standard, GS3A3), and what a
# URN serial may hold: the other CSET 82 characters as they are, anything as a %-escape.
_URN_ESCAPES = {char: f"%{ord(char):02X}" for char in '"%&/<>?'}
_URN_SERIAL = re.compile(r"(?:[A-Za-z0-9_.:;=!'()*+,-]|%[0-9A-Fa-f]{2})+")


class CodeKind(StrEnum):
    """What kind of identifier a traceability code is."""

    MARKETPLACE = "marketplace"
    """A marketplace-issued parcel code."""
    SGTIN = "sgtin"
    """A serialized GS1 trade item (GTIN + serial number)."""


@dataclass(frozen=True, slots=True)
class TraceCode:
    """A valid traceability code."""

    canonical: str
    """The canonical text: the Kafka key and the ``code`` field of every record."""
    kind: CodeKind
    gtin: str | None = None
    """GTIN-14 of a GS1 item."""
    serial: str | None = None
    """Serial number (GS1 AI 21) of a GS1 item."""

    def __str__(self) -> str:
        return self.canonical


@dataclass(frozen=True, slots=True)
class MarketplaceFormat:
    """How marketplace codes look: a regular expression over the normalized (upper-cased,
    separator-free) code, and whether its last character is an ISO 7064 MOD 37,36 check
    character over the others."""

    pattern: str = DEFAULT_MARKETPLACE_PATTERN
    check_character: bool = True
    _regex: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_regex", re.compile(self.pattern))

    def matches(self, normalized: str) -> bool:
        """Whether ``normalized`` matches the pattern as a whole."""
        return self._regex.fullmatch(normalized) is not None


DEFAULT_MARKETPLACE_FORMAT = MarketplaceFormat()


def parse_code(
    text: str, *, marketplace: MarketplaceFormat = DEFAULT_MARKETPLACE_FORMAT
) -> TraceCode:
    """Parse any accepted form of a traceability code; raises :class:`InvalidCodeError`."""
    stripped = text.strip()
    if not stripped:
        raise InvalidCodeError(text, "empty", "no code given")
    head = stripped[:8].lower()
    if head.startswith(("http://", "https://")):
        return _parse_digital_link(text, stripped)
    if stripped[: len(_SGTIN_PREFIX)].lower() == _SGTIN_PREFIX:
        return _parse_sgtin_urn(text, stripped)
    if stripped.startswith("(01)"):
        return _parse_canonical_gs1(text, stripped)
    if head.startswith("urn:") or "://" in stripped:
        raise InvalidCodeError(
            text,
            "unsupported-form",
            "only EPC SGTIN URNs (urn:epc:id:sgtin:...) and http(s) GS1 Digital Link URIs "
            "are accepted as URIs",
        )
    return _parse_marketplace(text, stripped, marketplace)


def _parse_marketplace(text: str, stripped: str, fmt: MarketplaceFormat) -> TraceCode:
    normalized = _SEPARATORS.sub("", stripped).upper()
    if not fmt.matches(normalized):
        raise InvalidCodeError(
            text,
            "marketplace-pattern",
            f"{normalized!r} (upper-cased, spaces and hyphens removed) does not match the "
            f"marketplace code pattern {fmt.pattern}",
        )
    if fmt.check_character:
        body, check = normalized[:-1], normalized[-1]
        expected = mod_37_36.calc_check_digit(body)
        if check != expected:
            raise InvalidCodeError(
                text,
                "marketplace-check-character",
                f"check character is {check!r} but {body!r} needs {expected!r} "
                "(ISO 7064 MOD 37,36): a character is mistyped",
            )
    return TraceCode(normalized, CodeKind.MARKETPLACE)


def _parse_canonical_gs1(text: str, stripped: str) -> TraceCode:
    match = _CANONICAL_GS1.fullmatch(stripped)
    if match is None:
        raise InvalidCodeError(
            text, "gtin-digits", "expected (01) + 14 GTIN digits + (21) + serial number"
        )
    return sgtin_code(match.group(1), match.group(2), text=text)


def _parse_digital_link(text: str, stripped: str) -> TraceCode:
    path = stripped.split("?", 1)[0].split("#", 1)[0]
    simple = _SIMPLE_LINK.fullmatch(path)
    if simple is not None:
        # The common /01/{gtin}/21/{serial} form needs no grammar beyond these two checks, and
        # skipping biip here makes it ten times faster (validation runs per dispatch).
        return sgtin_code(simple.group(1), unquote(simple.group(2)), text=text)
    # Check the GTIN and serial segments first so their errors name the precise rule; biip then
    # checks the path grammar (primary key, qualifier order, other AIs' formats).
    for ai, check in (("01", normalize_gtin), ("21", check_serial)):
        segments = re.findall(rf"/{ai}/([^/]*)", path)
        if segments:
            check(unquote(segments[-1]), text=text)
    try:
        link = GS1DigitalLinkURI.parse(stripped)
    except ParseError as exc:
        raise InvalidCodeError(text, "digital-link-syntax", str(exc)) from None
    values = {element.ai.ai: element for element in link.element_strings}
    gtin = values.get("01")
    if gtin is None:
        raise InvalidCodeError(
            text,
            "digital-link-key",
            "the Digital Link does not identify a trade item (its primary key is not /01/ GTIN)",
        )
    serial = values.get("21")
    if serial is None:
        raise InvalidCodeError(
            text,
            "digital-link-serial",
            "no /21/{serial}: the link identifies a product class, not one item",
        )
    return sgtin_code(gtin.value, serial.value, text=text)


def _parse_sgtin_urn(text: str, stripped: str) -> TraceCode:
    parts = stripped[len(_SGTIN_PREFIX) :].split(".", 2)
    if len(parts) != 3:
        raise InvalidCodeError(
            text, "sgtin-syntax", "expected urn:epc:id:sgtin:CompanyPrefix.IndicatorItemRef.Serial"
        )
    company, item, escaped_serial = parts
    if not (_DIGITS.fullmatch(company) and _DIGITS.fullmatch(item)):
        raise InvalidCodeError(
            text, "sgtin-syntax", "company prefix and item reference must be digits"
        )
    if len(company) + len(item) != 13 or not 6 <= len(company) <= 12:
        raise InvalidCodeError(
            text,
            "sgtin-syntax",
            f"company prefix ({len(company)} digits, 6-12 allowed) and indicator + item "
            f"reference ({len(item)} digits) must have 13 digits together",
        )
    if not _URN_SERIAL.fullmatch(escaped_serial):
        serial = unquote(escaped_serial)
        check_serial(serial, text=text)  # names the rule when the serial itself is bad
        raise InvalidCodeError(
            text,
            "sgtin-syntax",
            f'serial {escaped_serial!r}: " % & / < > ? must be %-escaped in an EPC URN',
        )
    serial = check_serial(unquote(escaped_serial), text=text)
    # GTIN-14: indicator digit, company prefix, rest of the item reference, check digit.
    body = item[0] + company + item[1:]
    return sgtin_code(body + str(gs1_standard_check_digit(body)), serial, text=text)


def normalize_gtin(gtin: str, *, text: str | None = None) -> str:
    """``gtin`` (GTIN-8, -12, -13 or -14) as GTIN-14, check digit verified."""
    if len(gtin) not in (8, 12, 13, 14) or not _DIGITS.fullmatch(gtin):
        raise InvalidCodeError(
            gtin if text is None else text,
            "gtin-digits",
            f"GTIN {gtin!r} must be 8, 12, 13 or 14 digits",
        )
    padded = gtin.zfill(14)
    expected = str(gs1_standard_check_digit(padded[:-1]))
    if padded[-1] != expected:
        raise InvalidCodeError(
            gtin if text is None else text,
            "gtin-check-digit",
            f"GTIN {gtin} ends in check digit {padded[-1]}, but its digits give {expected}",
        )
    return padded


def check_serial(serial: str, *, text: str | None = None) -> str:
    """``serial`` if it is a valid GS1 serial number (AI 21): 1-20 characters of CSET 82."""
    if not 1 <= len(serial) <= 20:
        raise InvalidCodeError(
            serial if text is None else text,
            "serial-length",
            f"serial number has {len(serial)} characters; GS1 AI 21 allows 1-20",
        )
    if not _CSET82.fullmatch(serial):
        bad = sorted({char for char in serial if not _CSET82.fullmatch(char)})
        raise InvalidCodeError(
            serial if text is None else text,
            "serial-charset",
            f"serial number contains {''.join(bad)!r}, outside GS1 character set 82 "
            "(letters, digits and !\"%&'()*+,-./:;<=>?_)",
        )
    return serial


def sgtin_code(gtin: str, serial: str, *, text: str | None = None) -> TraceCode:
    """The code of the serialized GS1 item ``gtin`` + ``serial`` (both validated)."""
    gtin14 = normalize_gtin(gtin, text=text)
    check_serial(serial, text=text)
    return TraceCode(f"(01){gtin14}(21){serial}", CodeKind.SGTIN, gtin14, serial)


def marketplace_code(value: int | bytes, *, prefix: str = "TC", width: int = 12) -> str:
    """A valid default-format marketplace code for ``value``: ``prefix``, ``value`` in base 36
    zero-padded to ``width`` characters, and the check character.

    Distinct values give distinct codes; ``value`` must be below ``36 ** width``.
    """
    number = int.from_bytes(value, "big") if isinstance(value, bytes) else value
    if not re.fullmatch(r"[A-Z]{2}", prefix) or not 7 <= width <= 27:
        raise ValueError("prefix must be two capital letters and width 7-27")
    if not 0 <= number < 36**width:
        raise ValueError(f"{number} does not fit in {width} base-36 digits")
    digits = []
    while number:
        number, digit = divmod(number, 36)
        digits.append(_BASE36[digit])
    body = prefix + "".join(reversed(digits)).rjust(width, "0")
    return body + mod_37_36.calc_check_digit(body)


def to_digital_link(code: TraceCode, *, resolver: str = "https://id.gs1.org") -> str:
    """The GS1 Digital Link URI of a GS1 ``code`` on ``resolver`` (GS1's own by default)."""
    gtin, serial = _gs1_parts(code)
    return f"{resolver.rstrip('/')}/01/{gtin}/21/{quote(serial, safe='')}"


def to_sgtin_urn(code: TraceCode, *, company_prefix_length: int | None = None) -> str:
    """The EPC SGTIN pure-identity URN of a GS1 ``code``.

    The URN separates the GS1 company prefix, whose length a GTIN does not tell; it is looked up
    in GS1's prefix table (via biip) unless ``company_prefix_length`` (6-12) is given.
    """
    gtin, serial = _gs1_parts(code)
    length = company_prefix_length
    if length is None:
        prefix = Gtin.parse(gtin).company_prefix
        if prefix is None:
            raise ValueError(
                f"GS1 company prefix length of GTIN {gtin} is unknown; pass company_prefix_length"
            )
        length = len(prefix.value)
    if not 6 <= length <= 12:
        raise ValueError(f"company prefix length must be 6-12, got {length}")
    company = gtin[1 : 1 + length]
    item = gtin[0] + gtin[1 + length : 13]
    escaped = "".join(_URN_ESCAPES.get(char, char) for char in serial)
    return f"{_SGTIN_PREFIX}{company}.{item}.{escaped}"


def _gs1_parts(code: TraceCode) -> tuple[str, str]:
    if code.gtin is None or code.serial is None:
        raise ValueError(f"{code.canonical} is a {code.kind} code, not a GS1 item")
    return code.gtin, code.serial
