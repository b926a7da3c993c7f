"""Building a silver or gold table: run its SQL model, apply its expectations, quarantine the
dropped rows, then replace the table in one Delta commit (re-runs give the same table).

A table whose DQ score (share of rows passing every expectation) is below
``quality.min_dq_score`` fails its stage before anything is written."""

from __future__ import annotations

import time
from typing import Any

import pyarrow as pa

from c360 import catalog
from c360.engine.models import run_model
from c360.errors import C360Error
from c360.lake.quarantine import quarantine
from c360.lake.silver import history
from c360.ops.audit import StageRecord, now
from c360.quality.expectations import Checked, check


def record_dq(rec: StageRecord, checked: Checked, threshold: float) -> None:
    """The stage's DQ score, its dimensions and per-rule counts, for the audit and `c360 dq`."""
    rec.dq_score = checked.dq_score
    rec.details["dq"] = {"score": checked.dq_score, "dimensions": checked.dimensions, "threshold": threshold}
    rec.details["expectations"] = {r.name: {"action": r.action, "dimension": r.dimension, "passed": r.passed,
                                            "failed": r.failed} for r in checked.results}


def build_table(ctx: Any, table_id: str, rec: StageRecord) -> None:
    """Run ``table_id``'s model and write it; ``fail`` expectations stop before any write."""
    spec = catalog.get(table_id)
    extra = {"c360_watermark": history.watermark_table(ctx.lake, spec)} if spec.history_key else None
    write_checked(ctx, table_id, rec, run_model(ctx.engine, ctx.lake, spec, extra))


def write_checked(ctx: Any, table_id: str, rec: StageRecord, result: pa.Table) -> None:
    """Check a table's new rows against its expectations and DQ threshold, quarantine the dropped
    ones and write the rest (a model's result, or what an analytics builder computed)."""
    spec = catalog.get(table_id)
    began = time.perf_counter()
    # where a stage's time went (the audit's details): computing, checking, writing
    seconds = rec.details.setdefault("seconds", {})
    seconds["compute"] = round((now() - rec.started_at).total_seconds(), 2)
    result = catalog.conform(result, spec)
    checked = check(ctx.engine, spec, result)
    seconds["checks"] = round(time.perf_counter() - began, 2)
    threshold = ctx.settings.quality.threshold(table_id)
    record_dq(rec, checked, threshold)
    judged = result.num_rows >= ctx.settings.quality.min_rows
    if not judged:
        rec.details["dq"]["not_judged"] = f"{result.num_rows} row(s) < quality.min_rows"
    if judged and checked.dq_score < threshold:
        broken = ", ".join(f"{r.name} ({r.failed} rows)" for r in checked.results if r.failed)
        raise C360Error(f"{table_id} DQ score {checked.dq_score:.3f} is below its threshold {threshold}: "
                        f"{broken}", where=table_id,
                        fix="fix the source data, or lower quality.thresholds / quality.min_dq_score; "
                            "nothing was written")
    rejected, kept, stale = checked.rejected, checked.kept, 0
    if spec.history_key:
        versions = history.classify(ctx.engine, ctx.lake, spec, kept)
        stale = len(versions.stale)
        rejected, kept = [*rejected, *versions.stale], versions.new
        rec.details["history"] = {"new_keys": versions.new_keys, "changed_keys": versions.changed_keys,
                                  "deleted": versions.deleted, "unchanged": versions.unchanged,
                                  "stale": stale}
    # batch = the table: a row a rule rejects is quarantined once, not again on every rebuild.
    quarantine(ctx.lake, rejected, run_id=ctx.audit.run_id, batch_id=table_id,
               stage=rec.stage, table_id=table_id)
    meta = {"c360.run_id": ctx.audit.run_id}
    if spec.history_key:
        if kept.num_rows:
            ctx.lake.add_versions(table_id, kept, keys=spec.history_key, metadata=meta)
    else:
        ctx.lake.overwrite(table_id, kept, metadata=meta)
        ctx.lake.remember(table_id, kept)
    main = spec.inputs[0] if spec.inputs else None
    if main and main.startswith("bronze.") and not spec.history_key:
        # a silver model keeps one row per key of its main bronze input: say how many it folded
        landed = ctx.lake.count(main)
        rec.details["deduplication"] = {"input_rows": landed, "duplicates_removed": landed - result.num_rows}
    seconds["write"] = round(time.perf_counter() - began - seconds["checks"], 2)
    rec.rows_in = result.num_rows
    rec.rows_out = kept.num_rows
    rec.rows_quarantined = result.num_rows - checked.kept.num_rows + stale  # dropped by a rule, or stale
