"""The data-quality scorecard: per table, its latest DQ score, the score per dimension, the rules
that failed, and whether it meets its threshold — read from the run audit, where every stage
records them (``details.dq`` and ``details.expectations``)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from c360 import catalog
from c360.lake.store import Lake
from c360.ops.audit import read_audit


@dataclass(frozen=True)
class TableScore:
    """One table's line on the scorecard."""

    table_id: str
    status: str  # PASS, FAILED (below threshold, or its stage failed), NOT RUN
    score: float | None
    threshold: float
    dimensions: dict[str, float] = field(default_factory=dict)
    failing_rules: dict[str, int] = field(default_factory=dict)  # rule -> rows that broke it
    run_id: str | None = None
    checked_at: datetime | None = None
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def scorecard(lake: Lake, settings: Any) -> list[TableScore]:
    """Every bronze, silver and gold table, in catalog order, from its newest audited stage."""
    latest: dict[str, dict[str, Any]] = {}
    for row in read_audit(lake):
        if row["stage"] != "run" and row["table_id"] and row["status"] in ("SUCCESS", "FAILED"):
            latest[row["table_id"]] = row  # rows come oldest first: the last one wins
    out = []
    for spec in catalog.tables():
        if spec.layer == "ops":
            continue
        threshold = settings.quality.threshold(spec.id)
        row = latest.get(spec.id)
        if row is None:
            out.append(TableScore(spec.id, "NOT RUN", None, threshold))
            continue
        details = json.loads(row["details"] or "{}")
        dq = details.get("dq") or {}
        dims = dq.get("dimensions") or ({"validity": row["dq_score"]} if row["dq_score"] is not None else {})
        failing = {name: r["failed"] for name, r in (details.get("expectations") or {}).items() if r.get("failed")}
        score = row["dq_score"]
        # a score over too few rows (quality.min_rows) is shown but does not fail the table
        judged = not dq.get("not_judged")
        failed = row["status"] == "FAILED" or (judged and score is not None and score < threshold)
        out.append(TableScore(spec.id, "FAILED" if failed else "PASS", score, threshold, dims, failing,
                              row["run_id"], row["ended_at"], row["error"]))
    return out
