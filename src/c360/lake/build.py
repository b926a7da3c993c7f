"""Building a silver or gold table: run its SQL model, apply its expectations, quarantine the
dropped rows, then replace the table in one Delta commit (re-runs give the same table).

A table whose DQ score (share of rows passing every expectation) is below
``quality.min_dq_score`` fails its stage before anything is written."""

from __future__ import annotations

from typing import Any

from c360 import catalog
from c360.engine.models import run_model
from c360.errors import C360Error
from c360.lake.quarantine import quarantine
from c360.ops.audit import StageRecord
from c360.quality.expectations import check


def build_table(ctx: Any, table_id: str, rec: StageRecord) -> None:
    """Run ``table_id``'s model and write it; ``fail`` expectations stop before any write."""
    spec = catalog.get(table_id)
    result = run_model(ctx.engine, ctx.lake, spec)
    checked = check(ctx.engine, spec, result)
    threshold = ctx.settings.quality.min_dq_score
    if checked.dq_score < threshold:
        broken = ", ".join(f"{r.name} ({r.failed} rows)" for r in checked.results if r.failed)
        raise C360Error(f"{table_id} DQ score {checked.dq_score:.3f} is below quality.min_dq_score {threshold}: "
                        f"{broken}", where=table_id,
                        fix="fix the source data, or lower quality.min_dq_score; nothing was written")
    # batch = the table: a row a rule rejects is quarantined once, not again on every rebuild.
    quarantine(ctx.lake, checked.rejected, run_id=ctx.audit.run_id, batch_id=table_id,
               stage=rec.stage, table_id=table_id)
    ctx.lake.overwrite(table_id, checked.kept, metadata={"c360.run_id": ctx.audit.run_id})
    rec.rows_in = result.num_rows
    rec.rows_out = checked.kept.num_rows
    rec.rows_quarantined = result.num_rows - checked.kept.num_rows
    rec.dq_score = checked.dq_score
    rec.details["expectations"] = {r.name: {"action": r.action, "passed": r.passed, "failed": r.failed}
                                   for r in checked.results}
