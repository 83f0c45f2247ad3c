"""What the compiled Avro readers and writers share: Python source written from a schema, one
function per named record, and the namespace it runs in (:mod:`schemas._reader`,
:mod:`schemas._writer`)."""

from __future__ import annotations

from itertools import count
from typing import Any

from schemas._avro import Schema, named_types


class SourceCompiler:
    """Collects the generated functions of one schema, and the constants they refer to."""

    def __init__(self, schema: Schema, helpers: dict[str, Any]) -> None:
        self.names = named_types(schema)
        self.namespace: dict[str, Any] = dict(helpers)
        self.functions: dict[str, str] = {}
        self.sources: list[str] = []
        self._ids = count()

    def function_of(self, record: str) -> tuple[str, bool]:
        """The name of the function of the named record ``record``, and whether it is new
        (its source still to be written): a record used twice is written once."""
        if record in self.functions:
            return self.functions[record], False
        function = self.functions[record] = f"_record_{next(self._ids)}"
        return function, True

    def constant(self, value: object) -> str:
        """A name for ``value`` in the generated code's namespace."""
        name = f"_c{next(self._ids)}"
        self.namespace[name] = value
        return name

    def run(self) -> dict[str, Any]:
        """Execute the sources written so far; their namespace, the functions in it."""
        exec("\n\n".join(self.sources), self.namespace)
        return self.namespace
