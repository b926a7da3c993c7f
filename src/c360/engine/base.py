"""The engine seam: register a table, run SQL, get Arrow back. Every model is written once in
DuckDB SQL; other engines transpile it with sqlglot. Results are written by the Lake (delta-rs),
so both engines produce byte-compatible Delta tables.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import sqlglot

MODEL_DIALECT = "duckdb"


def ident(name: str) -> str:
    """``name`` as a double-quoted SQL identifier (DuckDB, PostgreSQL; sqlglot maps it for Spark)."""
    return '"' + name.replace('"', '""') + '"'


def literal(value: str) -> str:
    """``value`` as a single-quoted SQL string literal."""
    return "'" + value.replace("'", "''") + "'"


@dataclass(frozen=True)
class LakeTableRef:
    """A Delta table by URI, for engines that read Delta natively (Spark)."""

    uri: str
    storage_options: dict[str, str] | None = field(default=None, hash=False)


class Engine(ABC):
    """A SQL engine. Subclasses set ``dialect`` (a sqlglot dialect name)."""

    dialect: str = MODEL_DIALECT

    @abstractmethod
    def register(self, name: str, data: pa.Table | LakeTableRef) -> None:
        """Make ``data`` queryable as ``name``."""

    @abstractmethod
    def register_function(self, name: str, fn: Callable[..., pa.Array], arity: int, returns: str) -> None:
        """Make a vectorised Python function (Arrow string arrays in, one Arrow array out) callable
        from SQL as ``name``; ``returns`` is a catalog type name. It must keep nulls in its first
        argument null."""

    def ensure_functions(self, functions: Iterable[Any]) -> None:
        """Register each function (``standardise.Function``) once per engine."""
        done = self.__dict__.setdefault("_functions", set())
        for f in functions:
            if f.name not in done:
                self.register_function(f.name, f.fn, f.arity, f.returns)
                done.add(f.name)

    @abstractmethod
    def register_query(self, name: str, sql: str) -> None:
        """Make a query (DuckDB SQL) queryable as ``name``: a view, evaluated when read, so a
        column no query uses is never computed."""

    @abstractmethod
    def _execute(self, sql: str) -> pa.Table:
        """Run SQL already in this engine's dialect."""

    def translate(self, sql: str) -> str:
        """A model (DuckDB SQL) in this engine's dialect."""
        if self.dialect == MODEL_DIALECT:
            return sql
        return ";\n".join(sqlglot.transpile(sql, read=MODEL_DIALECT, write=self.dialect, pretty=False))

    def sql(self, sql: str) -> pa.Table:
        """Run a model written in DuckDB SQL and return the result as Arrow."""
        return self._execute(self.translate(sql))

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release resources."""
