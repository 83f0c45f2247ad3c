"""A small SQL lexer: statement splitting and the read-only check of analyst queries.

It knows ClickHouse's comments (``--``, ``#``, nested ``/* */``), string literals with
backslash escapes and doubled quotes, quoted identifiers and heredocs (``$tag$...$tag$``),
which is all it takes to find statement boundaries and top-level keywords reliably. The
read-only check is the first of two defences: the connection itself runs with ClickHouse's
``readonly`` setting (:mod:`sinks.query`).
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from enum import Enum, auto

READ_ONLY_STARTS = frozenset({"SELECT", "WITH", "SHOW", "DESCRIBE", "DESC", "EXPLAIN"})
"""Statements an analyst query may begin with."""

_MAIN_KEYWORDS = frozenset(
    {
        "SELECT",
        "INSERT",
        "ALTER",
        "CREATE",
        "DROP",
        "DELETE",
        "UPDATE",
        "TRUNCATE",
        "RENAME",
        "OPTIMIZE",
        "ATTACH",
        "DETACH",
        "EXCHANGE",
        "GRANT",
        "REVOKE",
        "SET",
        "SYSTEM",
        "KILL",
        "USE",
        "BACKUP",
        "RESTORE",
        "UNDROP",
    }
)
"""Keywords that start the main part of a statement (after a WITH clause)."""

_HEREDOC = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)?\$")
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class ReadOnlyViolation(ValueError):
    """The text is not a single read-only statement."""


class TokenKind(Enum):
    WORD = auto()
    STRING = auto()
    QUOTED_NAME = auto()
    SYMBOL = auto()
    SEMICOLON = auto()


@dataclass(frozen=True, slots=True)
class Token:
    kind: TokenKind
    text: str
    start: int
    depth: int
    """Parenthesis depth the token sits at."""


def tokens(sql: str) -> list[Token]:
    """The tokens of ``sql``, comments and whitespace dropped.

    Raises :class:`ValueError` for an unterminated string, identifier, heredoc or comment.
    """
    found: list[Token] = []
    depth = 0
    i, n = 0, len(sql)
    while i < n:
        c = sql[i]
        if c.isspace():
            i += 1
        elif sql.startswith("--", i) or c == "#":
            end = sql.find("\n", i)
            i = n if end < 0 else end + 1
        elif sql.startswith("/*", i):
            i = _skip_block_comment(sql, i)
        elif c in "'\"`":
            end = _skip_quoted(sql, i, c)
            kind = TokenKind.STRING if c == "'" else TokenKind.QUOTED_NAME
            found.append(Token(kind, sql[i:end], i, depth))
            i = end
        elif c == "$" and (heredoc := _HEREDOC.match(sql, i)):
            tag = heredoc.group(0)
            end = sql.find(tag, heredoc.end())
            if end < 0:
                raise ValueError(f"unterminated heredoc {tag} at character {i + 1}")
            found.append(Token(TokenKind.STRING, sql[i : end + len(tag)], i, depth))
            i = end + len(tag)
        elif word := _WORD.match(sql, i):
            found.append(Token(TokenKind.WORD, word.group(0), i, depth))
            i = word.end()
        elif c == ";":
            found.append(Token(TokenKind.SEMICOLON, c, i, depth))
            i += 1
        else:
            if c == ")":
                depth = max(0, depth - 1)
            found.append(Token(TokenKind.SYMBOL, c, i, depth))
            if c == "(":
                depth += 1
            i += 1
    return found


def _skip_block_comment(sql: str, start: int) -> int:
    # ClickHouse nests block comments.
    level, i = 0, start
    while i < len(sql):
        if sql.startswith("/*", i):
            level += 1
            i += 2
        elif sql.startswith("*/", i):
            level -= 1
            i += 2
            if level == 0:
                return i
        else:
            i += 1
    raise ValueError(f"unterminated comment starting at character {start + 1}")


def _skip_quoted(sql: str, start: int, quote: str) -> int:
    i = start + 1
    while i < len(sql):
        c = sql[i]
        if c == "\\":
            i += 2
        elif c == quote:
            if sql.startswith(quote * 2, i):
                i += 2
            else:
                return i + 1
        else:
            i += 1
    raise ValueError(f"unterminated {quote}-quoted text starting at character {start + 1}")


def split_statements(sql: str) -> list[str]:
    """The statements of a script, without their semicolons; empty statements are dropped."""
    statements: list[str] = []
    start = 0
    for token in tokens(sql):
        if token.kind is TokenKind.SEMICOLON:
            statements.append(sql[start : token.start])
            start = token.start + 1
    statements.append(sql[start:])
    return [s.strip() for s in statements if tokens(s)]


def check_read_only(sql: str) -> str:
    """Return ``sql`` as one read-only statement, or raise :class:`ReadOnlyViolation`.

    Accepted: a single SELECT, WITH ... SELECT, SHOW, DESCRIBE or EXPLAIN statement (one
    trailing semicolon allowed). Refused: several statements, anything else, and
    ``INTO OUTFILE`` (which writes a file even on a read-only connection).
    """
    try:
        found = tokens(sql)
    except ValueError as error:
        raise ReadOnlyViolation(f"cannot read the query: {error}") from None
    statements = split_statements(sql)
    if not statements:
        raise ReadOnlyViolation("the query is empty")
    if len(statements) > 1:
        raise ReadOnlyViolation(
            f"the query holds {len(statements)} statements: run one statement at a time"
        )
    code = [t for t in found if t.kind is not TokenKind.SEMICOLON]
    words = [t for t in code if t.kind is TokenKind.WORD]
    first = next((t for t in code if t.text != "("), None)
    if first is None or first.kind is not TokenKind.WORD:
        raise ReadOnlyViolation("the query does not start with a statement keyword")
    keyword = first.text.upper()
    if keyword not in READ_ONLY_STARTS:
        raise ReadOnlyViolation(
            f"{keyword} statements are not allowed: queries are read-only "
            f"({', '.join(sorted(READ_ONLY_STARTS))})"
        )
    if keyword == "WITH":
        main = next(
            (t.text.upper() for t in words if t.depth == 0 and t.text.upper() in _MAIN_KEYWORDS),
            None,
        )
        if main != "SELECT":
            raise ReadOnlyViolation(
                f"WITH ... {main or '(nothing)'} is not allowed: only WITH ... SELECT reads"
            )
    for before, after in itertools.pairwise(words):
        if before.text.upper() == "INTO" and after.text.upper() == "OUTFILE":
            raise ReadOnlyViolation("INTO OUTFILE is not allowed: it writes a file")
    return statements[0]
