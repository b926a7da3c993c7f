"""Quarantine: where every rejected record or file goes, with the rule it broke.

Writes merge on a deterministic id (batch + source + locator + rule). Batch ids are themselves
deterministic (a file version, a stream range, a silver table), so re-processing the same input
after a crash never quarantines a record twice, while a new delivery of a file is a new batch.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import pyarrow as pa

from c360.lake.store import Lake
from c360.ops.audit import now

QUARANTINE = "ops.quarantine"


@dataclass(frozen=True)
class Rejected:
    """One rejected record: where it came from, which rule it broke, its raw text."""

    source: str
    locator: str  # file:line, shard:position, or table:key
    rule: str
    reason: str
    raw: str


def quarantine(lake: Lake, rejected: list[Rejected], *, run_id: str, batch_id: str | list[str], stage: str,
               table_id: str) -> int:
    """Store rejected records; ``batch_id`` is one id for all or one per record.

    Returns how many new ones were written.
    """
    if not rejected:
        return 0
    ts = now()
    batches = [batch_id] * len(rejected) if isinstance(batch_id, str) else batch_id
    # One row per id: the same record broken twice the same way in one batch counts once.
    by_id = {hashlib.sha256(f"{b}|{r.source}|{r.locator}|{r.rule}".encode()).hexdigest()[:32]: (b, r)
             for b, r in zip(batches, rejected, strict=True)}
    ids = list(by_id)
    batches = [b for b, _ in by_id.values()]
    rejected = [r for _, r in by_id.values()]
    data = pa.table({
        "quarantine_id": ids,
        "run_id": [run_id] * len(rejected),
        "batch_id": batches,
        "stage": [stage] * len(rejected),
        "source": [r.source for r in rejected],
        "table_id": [table_id] * len(rejected),
        "locator": [r.locator for r in rejected],
        "rule": [r.rule for r in rejected],
        "reason": [r.reason for r in rejected],
        "raw": [r.raw[:10_000] for r in rejected],
        "quarantined_at": [ts] * len(rejected),
    })
    stats = lake.merge(QUARANTINE, data, insert_only=True)
    return int(stats.get("num_target_rows_inserted", 0))
