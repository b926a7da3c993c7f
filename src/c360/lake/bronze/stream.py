"""Stream ingestion with exactly-once checkpoints: the per-shard positions are stored in the
same Delta commit as the rows they cover (commit metadata ``c360.checkpoint``), so a crash between
reading and committing neither loses nor duplicates a record."""

from __future__ import annotations

import hashlib
import threading
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from c360 import catalog
from c360.lake.bronze.columnar import validate_table
from c360.lake.bronze.files import with_lineage
from c360.lake.bronze.reconcile import KeySample, reconcile
from c360.lake.quarantine import Rejected, quarantine
from c360.ops.audit import StageRecord, dq_ratio, now
from c360.sources.stream import EventStream

TABLE = "bronze.events"
CHECKPOINT_KEY = "c360.checkpoint"


def checkpoint(lake: Any, stream_name: str) -> dict[str, str]:
    """The committed position per shard of ``stream_name`` (empty if never ingested)."""
    meta = lake.last_metadata(TABLE, CHECKPOINT_KEY)
    return dict((meta or {}).get(stream_name, {}))


def ingest_stream(ctx: Any, stream: EventStream, rec: StageRecord, max_batches: int | None = None,
                  follow: bool = False, trigger_s: float = 5.0, stop: threading.Event | None = None) -> None:
    """Drain the stream in micro-batches until every shard is caught up (available-now), or with
    ``follow`` keep polling every ``trigger_s`` seconds until ``stop`` is set (a micro-batch in
    flight always completes: stopping never leaves rows without their checkpoint)."""
    lake, run_id = ctx.lake, ctx.audit.run_id
    spec = catalog.get(TABLE)
    limit = ctx.settings.stream.batch_records
    batches = 0
    expected: dict[str, tuple[str, int]] = {}
    # Read the committed checkpoint once; afterwards this loop's own commits carry it forward.
    all_meta = lake.last_metadata(TABLE, CHECKPOINT_KEY) or {}
    positions = dict(all_meta.get(stream.name, {}))
    sample = KeySample(TABLE)
    drained: set[str] = set()  # closed parent shards read to their end
    waiting: set[str] = set()  # child shards whose parents are not drained yet
    con = duckdb.connect()
    while max_batches is None or batches < max_batches:
        parts: list[pa.Table] = []
        batch_expected: dict[str, tuple[str, int]] = {}
        listed = stream.shards()
        parents = stream.shard_parents()
        for shard in listed:
            # resharding: a child waits until its parents (still listed, i.e. within retention)
            # are drained — read to the end, in this micro-batch or before — so a key's records
            # land in order
            if any(p in listed and p not in drained and not _drained(stream, p, positions, drained)
                   for p in parents.get(shard, [])):
                waiting.add(shard)
                continue
            waiting.discard(shard)
            start = positions.get(shard)
            pos, payloads = stream.read_batch(shard, start, limit)
            if not len(pos):
                continue
            # Deterministic batch id: the same range read again after a crash gets the same id.
            batch = hashlib.sha256(f"{stream.name}/{shard}@{start}".encode()).hexdigest()[:16]
            # columnar validation (DuckDB); a payload that is not UTF-8 is kept as replaced text
            # and fails as not JSON, so it is quarantined, never dropped
            prefix = f"{stream.name}/{shard}:"
            raw = pa.table({"__locator": pc.binary_join_element_wise(prefix, pos, ""), "__raw": payloads})
            good, bad = validate_table(raw, spec, f"{stream.name}/{shard}", "lines", con, skip_blank=False)
            bad = [Rejected(r.source, r.locator, r.rule, r.reason if r.rule != "json_parse"
                            else "record is not valid JSON", r.raw) for r in bad]
            # Quarantine first (idempotent); the checkpoint only moves with the bronze commit.
            quarantine(lake, bad, run_id=run_id, batch_id=batch, stage=rec.stage, table_id=TABLE)
            n = good.num_rows
            positions_col = pc.utf8_slice_codeunits(good.column("__locator"), len(prefix))
            parts.append(with_lineage(good.drop_columns(["__locator"]).append_column("_position", positions_col),
                                      _shard=shard, _batch_id=batch))
            positions[shard] = pos[-1].as_py()
            batch_expected[batch] = (f"{stream.name}/{shard}", len(pos))
            sample.add(batch, good)
            rec.rows_in += len(pos)
            rec.rows_out += n
            rec.rows_quarantined += len(pos) - n
        if not batch_expected:
            if follow and stop is not None and not stop.wait(trigger_s):
                continue  # the trigger interval passed with no stop: poll again (new shards too)
            break
        data = pa.concat_tables(parts) if parts else spec.schema().empty_table()
        if parts:
            data = with_lineage(data, _source=stream.name, _ingested_at=now(), _run_id=run_id)
        all_meta[stream.name] = positions
        lake.append(TABLE, data, metadata={CHECKPOINT_KEY: all_meta})
        expected.update(batch_expected)
        batches += 1
    con.close()
    rec.details.update(micro_batches=batches, checkpoint=checkpoint(lake, stream.name))
    if waiting:  # children of shards not yet drained (a follow-up run reads them)
        rec.details["shards_waiting_for_parents"] = sorted(waiting)
    rec.details["reconciliation"] = reconcile(lake, TABLE, expected, sample)
    rec.dq_score = dq_ratio(rec.rows_out, rec.rows_in)


def _drained(stream: EventStream, shard: str, positions: dict[str, str], drained: set[str]) -> bool:
    if stream.drained(shard, positions.get(shard)):
        drained.add(shard)
        return True
    return False
