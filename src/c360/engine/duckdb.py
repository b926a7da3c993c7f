"""DuckDB engine: Delta tables are read through delta-rs as Arrow datasets (DuckDB's own delta
extension cannot be downloaded offline, and this keeps one Delta implementation everywhere).
"""

from __future__ import annotations

import re
from collections.abc import Callable

import duckdb
import pyarrow as pa
from deltalake import DeltaTable

from c360.engine.base import Engine, LakeTableRef
from c360.errors import C360Error
from c360.lake.store import delta_dataset


class DuckDBEngine(Engine):
    dialect = "duckdb"

    def __init__(self, threads: int | None = None, memory_limit: str | None = None) -> None:
        self.con = duckdb.connect(":memory:")
        if threads:
            self.con.execute(f"SET threads = {int(threads)}")
        if memory_limit:
            if not re.fullmatch(r"\d+(\.\d+)?\s*[KMGT]i?B", memory_limit.strip(), re.IGNORECASE):
                raise C360Error(f"engine.memory_limit {memory_limit!r} is not a size", where="config",
                                fix="use e.g. '8GB' or '512MiB'")
            self.con.execute(f"SET memory_limit = '{memory_limit.strip()}'")
        self.con.execute("SET TimeZone = 'UTC'")
        self._keep: dict[str, object] = {}

    def register(self, name: str, data: pa.Table | LakeTableRef) -> None:
        if isinstance(data, LakeTableRef):
            data = delta_dataset(DeltaTable(data.uri, storage_options=data.storage_options), data.storage_options)
        self._keep[name] = data  # the connection holds only a reference
        self.con.register(name, data)

    def register_function(self, name: str, fn: Callable[..., pa.Array], arity: int, returns: str) -> None:
        sql_type = {"string": "VARCHAR", "bool": "BOOLEAN", "int64": "BIGINT", "float64": "DOUBLE"}
        # null_handling special: the function sees nulls (and keeps them null) instead of DuckDB
        # skipping rows, which would misalign Arrow batches.
        self.con.create_function(name, fn, ["VARCHAR"] * arity, sql_type[returns], type="arrow",
                                 null_handling="special")

    def _execute(self, sql: str) -> pa.Table:
        return self.con.sql(sql).arrow().read_all()

    def close(self) -> None:
        self.con.close()
