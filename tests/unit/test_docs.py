"""Docs that must follow the code."""

from __future__ import annotations

from pathlib import Path

import pytest

from tracecode.settings import describe_settings, load_settings

DOCS = Path(__file__).parents[2] / "docs"


def test_configuration_doc_lists_every_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(DOCS)  # no .env from the caller's working directory
    listed = (DOCS / "configuration.md").read_text()

    missing = [
        row.env_var for row in describe_settings(load_settings()) if row.env_var not in listed
    ]

    assert missing == [], f"add these settings to docs/configuration.md: {missing}"
