"""Docs that must follow the code."""

from __future__ import annotations

import re
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


def test_links_between_documents_resolve() -> None:
    root = DOCS.parent
    broken = []
    for document in [root / "README.md", *sorted(DOCS.glob("*.md"))]:
        for target in re.findall(r"\]\(([^)\s]+)\)", document.read_text()):
            if re.match(r"[a-z]+:", target) or target.startswith("#"):
                continue  # a URL, or an anchor in the same document
            path = (document.parent / target.split("#", 1)[0]).resolve()
            if not path.exists():
                broken.append(f"{document.relative_to(root)}: {target}")

    assert broken == []


def test_documented_settings_exist(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(DOCS)
    known = {row.env_var for row in describe_settings(load_settings())}
    root = DOCS.parent
    # Build variables are read by setup.py when installing, not by the settings.
    known |= set(re.findall(r'environ\.get\("(TRACECODE_\w+)"', (root / "setup.py").read_text()))
    # Test variables are read by the test suite (e.g. where the fault suite writes its figures).
    for test_module in (root / "tests").rglob("*.py"):
        known |= set(re.findall(r'environ\.get\(\s*"(TRACECODE_\w+)"', test_module.read_text()))
    unknown = set()
    for document in [root / "README.md", *sorted(DOCS.glob("*.md"))]:
        for name in re.findall(r"TRACECODE_[A-Z0-9_]*[A-Z0-9]", document.read_text()):
            # A section's prefix stands for its settings, e.g. TRACECODE_TOPICS_*.
            if (
                name == "TRACECODE_NAME"
            ):  # configuration.md: "a section NAME reads TRACECODE_NAME_*"
                continue
            if name not in known and not any(k.startswith(name + "_") for k in known):
                unknown.add(f"{document.name}: {name}")

    assert sorted(unknown) == []
