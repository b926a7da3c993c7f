"""Stream ingestion with exactly-once checkpoints: the per-shard positions are stored in the
same Delta commit as the rows they cover (commit metadata ``c360.checkpoint``), so a crash between
reading and committing neither loses nor duplicates a record."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pyarrow as pa

from c360 import catalog
from c360.lake.bronze.reconcile import reconcile
from c360.lake.bronze.records import validate
from c360.lake.quarantine import Rejected, quarantine
from c360.ops.audit import StageRecord, now
from c360.sources.stream import EventStream

TABLE = "bronze.events"
CHECKPOINT_KEY = "c360.checkpoint"


def checkpoint(lake: Any, stream_name: str) -> dict[str, str]:
    """The committed position per shard of ``stream_name`` (empty if never ingested)."""
    meta = lake.last_metadata(TABLE, CHECKPOINT_KEY)
    return dict((meta or {}).get(stream_name, {}))


def ingest_stream(ctx: Any, stream: EventStream, rec: StageRecord, max_batches: int | None = None) -> None:
    """Drain the stream (available-now): micro-batches until every shard is caught up."""
    lake, run_id = ctx.lake, ctx.audit.run_id
    spec = catalog.get(TABLE)
    limit = ctx.settings.stream.batch_records
    batches = 0
    expected: dict[str, tuple[str, int]] = {}
    # Read the committed checkpoint once; afterwards this loop's own commits carry it forward.
    all_meta = lake.last_metadata(TABLE, CHECKPOINT_KEY) or {}
    positions = dict(all_meta.get(stream.name, {}))
    while max_batches is None or batches < max_batches:
        rows: dict[str, list[Any]] = {}
        batch_expected: dict[str, tuple[str, int]] = {}
        for shard in stream.shards():
            start = positions.get(shard)
            got = stream.read(shard, start, limit)
            if not got:
                continue
            # Deterministic batch id: the same range read again after a crash gets the same id.
            batch = hashlib.sha256(f"{stream.name}/{shard}@{start}".encode()).hexdigest()[:16]
            records: list[tuple[str, Any]] = []
            unparsed: list[Rejected] = []
            for pos, payload in got:
                loc = f"{stream.name}/{shard}:{pos}"
                try:
                    records.append((loc, json.loads(payload)))
                except (json.JSONDecodeError, UnicodeDecodeError) as e:
                    unparsed.append(Rejected(f"{stream.name}/{shard}", loc, "json_parse",
                                            f"record is not valid JSON: {e}",
                                            payload.decode("utf-8", "replace")))
                    continue
            good, bad = validate(records, spec, f"{stream.name}/{shard}")
            # Quarantine first (idempotent); the checkpoint only moves with the bronze commit.
            quarantine(lake, unparsed + bad, run_id=run_id, batch_id=batch, stage=rec.stage, table_id=TABLE)
            n = len(good["__locator"])
            good["_shard"] = [shard] * n
            good["_position"] = [loc.rsplit(":", 1)[1] for loc in good.pop("__locator")]
            good["_batch_id"] = [batch] * n
            for k, v in good.items():
                rows.setdefault(k, []).extend(v)
            positions[shard] = got[-1][0]
            batch_expected[batch] = (f"{stream.name}/{shard}", len(got))
            rec.rows_in += len(got)
            rec.rows_out += n
            rec.rows_quarantined += len(got) - n
        if not batch_expected:
            break
        n_rows = len(rows.get("_batch_id", []))
        rows.update(_source=[stream.name] * n_rows, _source_file=[None] * n_rows,
                    _ingested_at=[now()] * n_rows, _run_id=[run_id] * n_rows)
        all_meta[stream.name] = positions
        lake.append(TABLE, pa.table(rows) if n_rows else spec.schema().empty_table(),
                    metadata={CHECKPOINT_KEY: all_meta})
        expected.update(batch_expected)
        batches += 1
    rec.details.update(micro_batches=batches, checkpoint=checkpoint(lake, stream.name))
    rec.details["reconciliation"] = reconcile(lake, TABLE, expected)
    rec.dq_score = round(rec.rows_out / rec.rows_in, 6) if rec.rows_in else 1.0
