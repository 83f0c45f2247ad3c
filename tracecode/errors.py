"""The shell's error base: each error says what went wrong and, where it can, what to do."""

from __future__ import annotations


class TracecodeError(Exception):
    """An error the CLI reports to people without a traceback.

    ``hint`` says what to do about it (a command to run, a setting to change).
    """

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
