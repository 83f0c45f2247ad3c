"""The docs cannot rot: every ``tracecode`` command in README.md and docs/*.md is checked.

- Every command line (in shell code blocks, and in inline code) names commands, subcommands
  and options the CLI has.
- The cheap ones (nothing to connect to) are run.
- Every SQL example in docs/analysts.md, and every SQL statement given to ``tracecode query`` in
  the docs, runs against the sink's schema (chDB) holding known shipments.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from sinks.query import QueryClient
from tests import sinkdata
from tests.stores import stored_scenario
from tracecode.cli import main

ROOT = Path(__file__).parents[2]
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
SHELL_BLOCKS = {"", "sh", "bash", "shell", "console"}
_FENCE = re.compile(r"^```(\w*)\s*$")
_INLINE = re.compile(r"`((?:\.venv/bin/)?tracecode(?:\s[^`]*)?)`")
_COMMAND = re.compile(r"^(?:\$\s+)?(?:[A-Z_]+=\S*\s+)*(?:\.venv/bin/|\$\(BIN\)/)?tracecode(?:\s|$)")


@dataclass(frozen=True)
class Command:
    """One ``tracecode`` command line found in a document."""

    where: str
    """file:line, for the failure message."""
    text: str
    synopsis: bool
    """From inline code: a usage line with placeholders and [optional] parts."""

    def arguments(self) -> list[str]:
        """The words after ``tracecode``, with synopsis brackets and alternatives removed."""
        text = self.text.replace("\\|", "|")
        words = shlex.split(text, comments=not self.synopsis)
        words = words[next(i for i, w in enumerate(words) if w.endswith("tracecode")) + 1 :]
        if self.synopsis:
            words = [w.strip("[]") for w in words if w not in ("|", "/", "...", "…")]
        return [w for w in words if w]


def commands() -> list[Command]:
    found = []
    for document in DOCUMENTS:
        name = document.relative_to(ROOT)
        block: str | None = None
        for number, line in enumerate(document.read_text().splitlines(), 1):
            fence = _FENCE.match(line.strip())
            if fence:
                block = fence.group(1) if block is None else None
                continue
            if block is not None:
                if block in SHELL_BLOCKS:
                    for part in re.split(r"\s(?:\||&&|;|<|>)\s", line.strip()):
                        if _COMMAND.match(part):
                            found.append(Command(f"{name}:{number}", part, synopsis=False))
                continue
            for match in _INLINE.finditer(line):
                found.append(Command(f"{name}:{number}", match.group(1), synopsis=True))
    return found


COMMANDS = commands()


def resolve(words: list[str]) -> tuple[list[click.Command], list[str]]:
    """The commands the words name (main first) and the option words."""
    path: list[click.Command] = [main]
    options = []
    for word in words:
        if word.startswith("-") and word != "-":  # a lone "-" is stdin
            options.append(word)
            continue
        current = path[-1]
        if isinstance(current, click.Group):
            sub = current.get_command(click.Context(current), word)
            if sub is not None:
                path.append(sub)
    return path, options


def known_options(path: list[click.Command]) -> set[str]:
    names = {"--help"}
    for command in path:
        for param in command.params:
            if isinstance(param, click.Option):
                names.update(param.opts + param.secondary_opts)
    return names


def test_the_docs_hold_commands() -> None:
    assert len(COMMANDS) > 50
    files = {command.where.split(":")[0] for command in COMMANDS}
    assert {"README.md", "docs/demo.md", "docs/track.md", "docs/analysts.md"} <= files


def problems(command: Command) -> list[str]:
    """What is wrong with a documented command line (nothing, for a good one)."""
    words = command.arguments()
    path, options = resolve(words)
    leaf = path[-1]
    found = []
    if len(path) == 1 and words[:1] not in (["--version"], ["-v"], ["-vv"], []):
        found.append("names no command")
    # Prose may name a group ("`tracecode broker` runs ..."); a command line may not.
    incomplete = isinstance(leaf, click.Group) and not leaf.invoke_without_command
    if incomplete and len(path) > 1 and not command.synopsis and "--help" not in options:
        found.append(f"needs a subcommand of {leaf.name}")
    allowed = known_options(path)
    for option in options:
        name = option.split("=", 1)[0]
        if re.fullmatch(r"-[a-z]{2,}", name):  # combined short flags, e.g. -vv
            name = name[:2]
        if name not in allowed:
            found.append(f"no option {name}")
    return found


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c.where)
def test_command_exists_in_the_cli(command: Command) -> None:
    assert problems(command) == [], f"{command.where}: `{command.text}`"


@pytest.mark.parametrize(
    ("text", "synopsis", "problem"),
    [
        ("tracecode demo --shipmentz 3", False, "no option --shipmentz"),
        ("tracecode trak TC000000000001L", False, "names no command"),
        ("tracecode broker", False, "needs a subcommand of broker"),
        ("tracecode query --saved NAME [--parm k=v]", True, "no option --parm"),
    ],
)
def test_the_check_catches_what_rots(text: str, synopsis: bool, problem: str) -> None:
    assert problem in problems(Command("test", text, synopsis))


CHEAP = [
    ["config"],
    ["--version"],
    ["query", "--saved"],
    ["demo", "--help"],
]


@pytest.mark.parametrize("words", CHEAP, ids=" ".join)
def test_cheap_documented_commands_run(
    words: list[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    documented = {tuple(c.arguments()) for c in COMMANDS}
    assert tuple(words) in documented or words[-1] == "--help", f"not in the docs: {words}"
    monkeypatch.chdir(tmp_path)  # no .env of the caller
    result = CliRunner().invoke(main, words)
    assert result.exit_code == 0, result.output


def test_documented_dry_runs_run(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    dry_runs = [c for c in COMMANDS if not c.synopsis and "--dry-run" in c.text]
    assert dry_runs
    monkeypatch.chdir(tmp_path)
    for command in dry_runs:
        words = command.arguments()
        if words[:1] == ["simulate"]:
            result = CliRunner().invoke(main, words)
            assert result.exit_code == 0, f"{command.where}: {result.output[-500:]}"


# --- SQL ---------------------------------------------------------------------------------


def sql_examples() -> list[tuple[str, str]]:
    """(where, SQL) of every ```sql block in docs/analysts.md and every `tracecode query "SQL"`."""
    examples = []
    analysts = ROOT / "docs" / "analysts.md"
    block: list[str] | None = None
    start = 0
    for number, line in enumerate(analysts.read_text().splitlines(), 1):
        if line.strip() == "```sql":
            block, start = [], number
        elif line.strip() == "```" and block is not None:
            examples.append((f"docs/analysts.md:{start}", "\n".join(block)))
            block = None
        elif block is not None:
            block.append(line)
    for command in COMMANDS:
        words = command.arguments()
        # Skipping placeholders such as "SQL".
        if words[:1] == ["query"] and len(words) > 1 and not re.fullmatch(r"-.*|[A-Z]+", words[1]):
            examples.append((command.where, words[1]))
    return examples


SQL = sql_examples()


@pytest.fixture(scope="module")
def store(chdb_folder: Path) -> Iterator[tuple[QueryClient, str]]:
    """The sink's schema holding known shipments; and one delivered code for ``{code}``."""
    scenario = sinkdata.build(delivered=6)
    with stored_scenario(chdb_folder, scenario) as target, QueryClient.open(target) as queries:
        yield queries, scenario.delivered[0].code


def test_the_analyst_guide_has_sql() -> None:
    assert sum(1 for where, _ in SQL if where.startswith("docs/analysts.md")) >= 8


@pytest.mark.parametrize(("where", "sql"), SQL, ids=[where for where, _ in SQL])
def test_documented_sql_runs(store: tuple[QueryClient, str], where: str, sql: str) -> None:
    client, code = store
    parameters = {"code": code} if "{code:String}" in sql else {}
    result = client.query(sql, parameters)
    assert result.column_names, f"{where}: no columns"
