"""The public texts' catalogues: complete in every language, and the template current."""

from __future__ import annotations

import re

import pytest
from babel.messages.extract import extract_from_file
from babel.messages.pofile import read_po

from api import texts
from schemas.status import SubStatus


def marked() -> list[str]:
    """Every sentence marked with N_ in api/texts.py, as pybabel extract finds it."""
    found = extract_from_file("python", str(texts.LOCALES.parent / "texts.py"), {"N_": None})
    return [str(message) for _, message, _, _ in found]


def test_every_sub_status_and_clone_rule_has_words() -> None:
    assert set(texts.SUB_STATUS) == set(SubStatus)
    assert {"impossible_speed", "scan_after_delivery", "multiple_tracking_numbers"} <= set(
        texts.CLONE_RULES
    )


def test_the_template_lists_every_marked_sentence() -> None:
    with (texts.LOCALES / f"{texts.DOMAIN}.pot").open("rb") as source:
        template = read_po(source)
    assert [str(m.id) for m in template if m.id] == marked()


SPELLED_THE_SAME = {("fr", "Verdict"), ("de", "Status")}
"""Words a language writes as English does."""


@pytest.mark.parametrize("language", texts.LANGUAGES[1:])
def test_every_catalogue_translates_every_sentence_and_nothing_else(language: str) -> None:
    catalog = texts.catalog(language)
    sentences = marked()
    assert sorted(catalog) == sorted(sentences)
    untranslated = [
        s for s in sentences if catalog[s] == s and (language, s) not in SPELLED_THE_SAME
    ]
    assert not untranslated, untranslated


def test_an_unknown_sub_status_is_described_as_unknown() -> None:
    english = texts.texts_for(None)
    assert english.describe("TELEPORTED") == english.describe("UNKNOWN")


@pytest.mark.parametrize("language", texts.LANGUAGES[1:])
def test_translations_keep_their_placeholders(language: str) -> None:
    for sentence, translation in texts.catalog(language).items():
        assert re.findall(r"{\w+}", translation) == re.findall(r"{\w+}", sentence), translation
