"""Reconciliation: every source record is in bronze or in quarantine, per batch, read back from
the lake (not from the writer's own counters) — and a sample of the rows written is read back
and compared value by value (a checksum per row), so a write that lands the right number of
wrong rows is caught too."""

from __future__ import annotations

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from c360 import catalog
from c360.engine.base import ident
from c360.errors import ReconciliationError
from c360.lake.quarantine import QUARANTINE
from c360.lake.store import Lake


class KeySample:
    """Rows picked from each batch as it is written (evenly spaced, so the same input gives the
    same sample), to be compared with what bronze holds afterwards."""

    def __init__(self, table_id: str, per_batch: int = 32, batches: int = 8) -> None:
        spec = catalog.get(table_id)
        self.columns = [c.name for c in spec.columns if not c.name.startswith("_")]
        self.keys = list(spec.primary_key)
        self.per_batch, self.batches = per_batch, batches
        self.parts: list[pa.Table] = []

    def add(self, batch_id: str, rows: pa.Table) -> None:
        """Sample ``rows`` (the validated source columns, as they are about to be written).
        The first and the latest batches are kept (``batches`` in all): reading them back
        touches only their files, however large the table."""
        k = min(self.per_batch, rows.num_rows)
        if k <= 0:
            return
        if len(self.parts) >= self.batches:
            del self.parts[self.batches // 2]  # keep the first half, slide the latest
        idx = np.unique(np.linspace(0, rows.num_rows - 1, k).astype(np.int64))
        # every row of the batch with a picked key (a duplicate key is compared as a multiset)
        key = self._key(rows)
        part = rows.select(self.columns).filter(pc.is_in(key, value_set=key.take(pa.array(idx))))
        self.parts.append(part.append_column("_batch_id", pa.repeat(batch_id, part.num_rows)))


    def _key(self, rows: pa.Table) -> pa.Array:
        cols = [pc.cast(rows.column(k), pa.string()) for k in self.keys]
        joined = cols[0] if len(cols) == 1 else pc.binary_join_element_wise(*cols, "\x1f")
        return joined.combine_chunks() if isinstance(joined, pa.ChunkedArray) else joined


def _counts(lake: Lake, table_id: str, column: str, batch_ids: list[str]) -> dict[str, int]:
    if not batch_ids or not lake.exists(table_id):
        return {}
    name = table_id.replace(".", "_")
    t = lake.sql(f"SELECT {column} AS b, count(*) AS n FROM {name} WHERE {column} IN "
                 f"(SELECT unnest(?::VARCHAR[])) GROUP BY 1", table_id, params=[batch_ids])
    return dict(zip(t.column("b").to_pylist(), t.column("n").to_pylist(), strict=True))


def _check_sample(lake: Lake, table_id: str, sample: KeySample) -> int:
    """Compare the sampled rows with bronze's rows of the same keys and batches (as multisets of
    per-row checksums); raise naming the first key that differs. Returns the rows checked."""
    if not sample.parts:
        return 0
    rows = pa.concat_tables(sample.parts)
    name = catalog.get(table_id).sql_name
    keys = ", ".join(ident(k) for k in sample.keys)
    row_hash = "md5(to_json(struct_pack(" + ", ".join(f"{ident(c)} := {ident(c)}" for c in sample.columns) + ")))"
    # the batch ids as literals: DuckDB pushes the filter into the Delta scan (file statistics)
    batches = ", ".join(sorted({"'" + b.replace("'", "''") + "'" for b in rows.column("_batch_id").to_pylist()}))
    query = (f"WITH s AS (SELECT {keys}, _batch_id, {row_hash} AS h FROM __sample), "
             f"b AS (SELECT {keys}, _batch_id, {row_hash} AS h FROM {name} "
             f"SEMI JOIN (SELECT DISTINCT {keys}, _batch_id FROM __sample) USING ({keys}, _batch_id) "
             f"WHERE _batch_id IN ({batches})), "
             f"d AS ((SELECT *, 'bronze lacks or altered it' AS what "
             f"FROM (SELECT * FROM s EXCEPT ALL SELECT * FROM b)) "
             f"UNION ALL (SELECT *, 'bronze holds a row not written' AS what "
             f"FROM (SELECT * FROM b EXCEPT ALL SELECT * FROM s))) "
             f"SELECT * FROM d LIMIT 1")
    con = duckdb.connect()
    try:
        con.register("__sample", rows)
        con.register(name, lake.dataset_of_batches(table_id, rows.column("_batch_id").unique().to_pylist()))
        diff = con.sql(query).arrow().read_all().to_pylist()
    finally:
        con.close()
    if diff:
        d = diff[0]
        key = ", ".join(f"{k}={d[k]!r}" for k in sample.keys)
        raise ReconciliationError(
            f"reconciliation checksum failed for {table_id}: the row with {key} ({d['what']})",
            where=f"{table_id} batch {d['_batch_id']}",
            fix="re-run the ingest; if it persists, compare the source record with the bronze row")
    return rows.num_rows


def reconcile(lake: Lake, table_id: str, expected: dict[str, tuple[str, int]],
              sample: KeySample | None = None) -> dict[str, int]:
    """Check bronze + quarantine rows per batch against the source counts, and the sampled rows
    against bronze's.

    ``expected`` maps batch id → (source name for messages, records read from the source).
    Raises ReconciliationError naming the first source (or sampled key) that does not add up.
    """
    ids = list(expected)
    bronze = _counts(lake, table_id, "_batch_id", ids)
    quarantined = _counts(lake, QUARANTINE, "batch_id", ids)
    for batch, (source, n) in expected.items():
        got_b, got_q = bronze.get(batch, 0), quarantined.get(batch, 0)
        if got_b + got_q != n:
            raise ReconciliationError(
                f"reconciliation failed for {source}: source has {n} records, bronze {got_b} + "
                f"quarantine {got_q} = {got_b + got_q}", where=f"{table_id} batch {batch}",
                fix="re-run the ingest; if it persists, inspect the batch in ops.quarantine and the table",
            )
    checked = _check_sample(lake, table_id, sample) if sample is not None else 0
    return {"source": sum(n for _, n in expected.values()), "bronze": sum(bronze.values()),
            "quarantine": sum(quarantined.values()), "sample_rows_checked": checked}
