from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas.codes import (
    CodeKind,
    MarketplaceFormat,
    TraceCode,
    marketplace_code,
    parse_code,
    sgtin_code,
    to_digital_link,
    to_sgtin_urn,
)
from schemas.errors import InvalidCodeError

ITEM = "(01)09506000134352(21)ABC/1"
ITEM_FORMS = [
    ITEM,
    "https://id.gs1.org/01/09506000134352/21/ABC%2F1",
    "https://id.gs1.org/01/9506000134352/21/ABC%2F1?linkType=gs1:pip&x=1",
    "http://brand.example.com/products/01/09506000134352/10/LOT7/21/ABC%2F1#top",
    "HTTPS://resolver.example.org/01/09506000134352/22/2A/21/ABC%2F1",
    "urn:epc:id:sgtin:95060001343.05.ABC%2F1",
    "urn:epc:id:sgtin:9506000.013435.ABC%2F1",
    "URN:EPC:ID:SGTIN:9506000.013435.ABC%2F1",
    "  (01)09506000134352(21)ABC/1\n",
]


@pytest.mark.parametrize("text", ITEM_FORMS)
def test_every_gs1_form_maps_to_one_canonical_code(text: str) -> None:
    code = parse_code(text)
    assert code == TraceCode(ITEM, CodeKind.SGTIN, "09506000134352", "ABC/1")
    assert str(code) == ITEM


@pytest.mark.parametrize(
    ("gtin", "gtin14"),
    [
        ("12345670", "00000012345670"),  # GTIN-8
        ("614141123452", "00614141123452"),  # GTIN-12 (UPC-A)
        ("9506000134352", "09506000134352"),  # GTIN-13
        ("80614141123458", "80614141123458"),  # GTIN-14
    ],
)
def test_short_gtins_are_padded_to_14(gtin: str, gtin14: str) -> None:
    code = parse_code(f"https://id.gs1.org/01/{gtin}/21/7")
    assert code.gtin == gtin14
    assert code.canonical == f"(01){gtin14}(21)7"


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("https://id.gs1.org/01/09506000134353/21/ABC", "gtin-check-digit"),
        ("urn:epc:id:sgtin:9506000.013435.ABC", "sgtin-syntax"),  # valid: control, see below
        ("(01)09506000134353(21)ABC", "gtin-check-digit"),
        ("(01)0950600013435(21)ABC", "gtin-digits"),
        ("https://id.gs1.org/01/0950600013/21/ABC", "gtin-digits"),
        ("urn:epc:id:sgtin:0614141.812345.a/b", "sgtin-syntax"),
        ("https://id.gs1.org/01/09506000134352/21/" + "A" * 21, "serial-length"),
        ("(01)09506000134352(21)", "serial-length"),
        ("https://id.gs1.org/01/09506000134352/21/a%20b", "serial-charset"),
        ("(01)09506000134352(21)caf\u00e9", "serial-charset"),
        ("urn:epc:id:sgtin:9506000.013435.a#b", "serial-charset"),
        ("https://id.gs1.org/01/09506000134352", "digital-link-serial"),
        ("https://id.gs1.org/00/106141412345678908", "digital-link-key"),
        ("https://id.gs1.org/01/09506000134352/21/A/17/250101", "digital-link-syntax"),
        ("https://example.com/track?id=1", "digital-link-syntax"),
        ("urn:epc:id:sgtin:9506000.0134356.1", "sgtin-syntax"),
        ("urn:epc:id:sgtin:95060.00134352.1", "sgtin-syntax"),
        ("urn:epc:id:sgtin:9506000.013435", "sgtin-syntax"),
        ("urn:epc:id:sscc:0614141.1234567890", "unsupported-form"),
        ("ftp://id.gs1.org/01/09506000134352/21/1", "unsupported-form"),
        ("", "empty"),
        ("TC12", "marketplace-pattern"),
        ("TC 0000 0000 0001 K", "marketplace-check-character"),
        ("TC0000000000O1L", "marketplace-check-character"),
        ("1C000000000001L", "marketplace-pattern"),
        ("TC00000000\u00e90001L", "marketplace-pattern"),
    ],
)
def test_bad_codes_name_the_rule(text: str, rule: str) -> None:
    if rule == "sgtin-syntax" and text.endswith(".ABC"):
        assert parse_code(text).gtin == "09506000134352"  # the control case parses
        return
    with pytest.raises(InvalidCodeError) as info:
        parse_code(text)
    assert info.value.rule == rule
    assert rule in str(info.value)


def test_check_digit_error_says_which_digit_was_expected() -> None:
    with pytest.raises(InvalidCodeError, match="ends in check digit 3, but its digits give 2"):
        parse_code("(01)09506000134353(21)ABC")


def test_marketplace_codes_normalize_case_and_separators() -> None:
    code = marketplace_code(1)
    assert code == "TC000000000001L"
    for typed in ("tc000000000001l", "TC-0000-0000-0001-L", " tc 0000 0000 0001 l "):
        assert parse_code(typed) == TraceCode(code, CodeKind.MARKETPLACE)


@given(st.integers(0, 36**12 - 1))
def test_generated_marketplace_codes_are_valid_and_canonical(value: int) -> None:
    code = marketplace_code(value)
    assert parse_code(code).canonical == code


@given(st.integers(0, 36**12 - 1), st.integers(2, 14), st.sampled_from("0123456789ABCDEFXYZ"))
def test_any_single_mistyped_character_is_caught(value: int, at: int, char: str) -> None:
    code = marketplace_code(value)
    typo = code[:at] + char + code[at + 1 :]
    if typo != code:
        with pytest.raises(InvalidCodeError, match="marketplace-check-character"):
            parse_code(typo)


def test_marketplace_code_from_bytes_and_distinctness() -> None:
    assert marketplace_code(b"\x00\x01") == marketplace_code(1)
    assert len({marketplace_code(i) for i in range(1000)}) == 1000
    assert marketplace_code(7, prefix="AB", width=9).startswith("AB000000007")
    with pytest.raises(ValueError, match="does not fit"):
        marketplace_code(36**12)
    with pytest.raises(ValueError, match="two capital letters"):
        marketplace_code(1, prefix="T1")


def test_marketplace_format_is_configurable() -> None:
    plain = MarketplaceFormat(pattern=r"LP[0-9]{14}", check_character=False)
    assert parse_code("lp 0012 3456 7890 12", marketplace=plain).canonical == "LP00123456789012"
    with pytest.raises(InvalidCodeError, match="LP\\[0-9\\]\\{14\\}"):
        parse_code(marketplace_code(1), marketplace=plain)


def test_uri_forms_round_trip_from_the_canonical_code() -> None:
    code = parse_code(ITEM)
    link = to_digital_link(code)
    assert link == "https://id.gs1.org/01/09506000134352/21/ABC%2F1"
    assert to_digital_link(code, resolver="https://brand.example/") == (
        "https://brand.example/01/09506000134352/21/ABC%2F1"
    )
    urn = to_sgtin_urn(code)
    assert parse_code(link) == parse_code(urn) == code


def test_sgtin_urn_matches_the_tag_data_standard() -> None:
    # TDS example: GTIN 80614141123458, company prefix 0614141, serial 6789.
    code = sgtin_code("80614141123458", "6789")
    assert to_sgtin_urn(code) == "urn:epc:id:sgtin:0614141.812345.6789"
    assert to_sgtin_urn(code, company_prefix_length=9) == "urn:epc:id:sgtin:061414112.8345.6789"


@given(st.text(alphabet="!\"%&'()*+,-./0123456789:;<=>?ABCXYZ_abcxyz", min_size=1, max_size=20))
def test_every_serial_survives_both_uri_forms(serial: str) -> None:
    code = sgtin_code("00614141123452", serial)
    urn = to_sgtin_urn(code)
    assert parse_code(urn) == code
    assert parse_code(to_digital_link(code)) == code
    assert parse_code(code.canonical) == code


def test_uri_forms_need_a_gs1_code() -> None:
    with pytest.raises(ValueError, match="not a GS1 item"):
        to_digital_link(parse_code(marketplace_code(5)))
    with pytest.raises(ValueError, match="company prefix length"):
        to_sgtin_urn(sgtin_code("12345670", "1"))
