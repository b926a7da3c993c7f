"""Reconciliation: every source record is in bronze or in quarantine, per batch, read back from
the lake (not from the writer's own counters)."""

from __future__ import annotations

from c360.errors import ReconciliationError
from c360.lake.quarantine import QUARANTINE
from c360.lake.store import Lake


def _counts(lake: Lake, table_id: str, column: str, batch_ids: list[str]) -> dict[str, int]:
    if not batch_ids or not lake.exists(table_id):
        return {}
    name = table_id.replace(".", "_")
    t = lake.sql(f"SELECT {column} AS b, count(*) AS n FROM {name} WHERE {column} IN "
                 f"(SELECT unnest(?::VARCHAR[])) GROUP BY 1", table_id, params=[batch_ids])
    return dict(zip(t.column("b").to_pylist(), t.column("n").to_pylist(), strict=True))


def reconcile(lake: Lake, table_id: str, expected: dict[str, tuple[str, int]]) -> dict[str, int]:
    """Check bronze + quarantine rows per batch against the source counts.

    ``expected`` maps batch id → (source name for messages, records read from the source).
    Raises ReconciliationError naming the first source that does not add up.
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
    return {"source": sum(n for _, n in expected.values()), "bronze": sum(bronze.values()),
            "quarantine": sum(quarantined.values())}
