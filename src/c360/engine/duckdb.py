"""DuckDB engine: Delta tables are read through delta-rs as Arrow datasets (DuckDB's own delta
extension cannot be downloaded offline, and this keeps one Delta implementation everywhere).
"""

from __future__ import annotations

import duckdb
import pyarrow as pa
from deltalake import DeltaTable

from c360.engine.base import Engine, LakeTableRef


class DuckDBEngine(Engine):
    dialect = "duckdb"

    def __init__(self, threads: int | None = None, memory_limit: str | None = None) -> None:
        self.con = duckdb.connect(":memory:")
        if threads:
            self.con.execute(f"SET threads = {int(threads)}")
        if memory_limit:
            self.con.execute("SET memory_limit = ?", [memory_limit])
        self.con.execute("SET TimeZone = 'UTC'")
        self._keep: dict[str, object] = {}

    def register(self, name: str, data: pa.Table | LakeTableRef) -> None:
        if isinstance(data, LakeTableRef):
            data = DeltaTable(data.uri, storage_options=data.storage_options).to_pyarrow_dataset()
        self._keep[name] = data  # the connection holds only a reference
        self.con.register(name, data)

    def _execute(self, sql: str) -> pa.Table:
        return self.con.sql(sql).arrow().read_all()

    def close(self) -> None:
        self.con.close()
