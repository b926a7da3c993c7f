"""The run audit: a Delta table with one row per run and stage event (RUNNING, SUCCESS, FAILED).

Append-only on purpose: a crashed run leaves its RUNNING rows behind, so ``c360 status`` can show
what was in flight when it died.
"""

from __future__ import annotations

import json
import os
import socket
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

from c360 import catalog
from c360.lake.store import Lake

AUDIT = "ops.run_audit"


def now() -> datetime:
    return datetime.now(UTC)


def dq_ratio(good: int, total: int) -> float:
    """The ingest DQ score: good records over all records read (1.0 when nothing was read)."""
    return round(good / total, 6) if total else 1.0


def new_run_id() -> str:
    """Sortable by time, unique across machines."""
    return now().strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:8]


@dataclass
class StageRecord:
    """Counters a stage fills in while it runs."""

    stage: str
    table_id: str = ""
    rows_in: int = 0
    rows_out: int = 0
    rows_quarantined: int = 0
    dq_score: float | None = None
    details: dict[str, Any] = field(default_factory=dict)
    started_at: datetime = field(default_factory=now)


class RunAudit:
    """Records one pipeline run. Use ``with audit.stage(...) as st:`` around each stage."""

    def __init__(self, lake: Lake, command: str = "run", run_id: str | None = None) -> None:
        self.lake = lake
        self.command = command
        self.run_id = run_id or new_run_id()
        self.started_at = now()
        self.stages: list[tuple[StageRecord, str, str | None]] = []

    def _write(self, rec: StageRecord, status: str, error: str | None, ended: datetime | None,
               run_id: str | None = None) -> None:
        row = {
            "run_id": [run_id or self.run_id], "stage": [rec.stage], "table_id": [rec.table_id],
            "started_at": [rec.started_at], "ended_at": [ended], "status": [status],
            "rows_in": [rec.rows_in], "rows_out": [rec.rows_out],
            "rows_quarantined": [rec.rows_quarantined], "dq_score": [rec.dq_score],
            "details": [json.dumps(rec.details, default=str, sort_keys=True)], "error": [error],
        }
        self.lake.append(AUDIT, pa.table(row))

    def begin(self) -> None:
        """Record the run as RUNNING (with this process's host and pid), after closing runs whose
        process on this host is gone (killed or crashed) as ABANDONED."""
        self._close_abandoned()
        details = {"command": self.command, "host": socket.gethostname(), "pid": os.getpid()}
        self._write(StageRecord("run", details=details, started_at=self.started_at), "RUNNING", None, None)

    def _close_abandoned(self) -> None:
        import psutil

        host = socket.gethostname()
        for run in recent_runs(self.lake, 50):
            pid = run.get("pid")
            # only runs of this host can be checked; a reused pid leaves a run RUNNING (safe side)
            if run["status"] == "RUNNING" and run.get("host") == host and pid and not psutil.pid_exists(pid):
                rec = StageRecord("run", details={"command": run.get("command")}, started_at=run["started_at"])
                self._write(rec, "ABANDONED", f"its process (pid {pid} on {host}) ended without finishing the run "
                            "(killed or crashed); the next run resumed from the committed state", now(),
                            run_id=run["run_id"])

    def end(self, status: str, error: str | None = None) -> None:
        totals = StageRecord("run", details={"command": self.command}, started_at=self.started_at)
        for rec, _, _ in self.stages:
            if rec.stage.startswith("bronze."):
                totals.rows_in += rec.rows_in
            totals.rows_quarantined += rec.rows_quarantined
        self._write(totals, status, error, now())

    @contextmanager
    def stage(self, stage: str, table_id: str = "") -> Iterator[StageRecord]:
        rec = StageRecord(stage, table_id)
        try:
            yield rec
        except BaseException as e:
            msg = f"{type(e).__name__}: {e}"
            self._write(rec, "FAILED", msg, now())
            self.stages.append((rec, "FAILED", msg))
            raise
        self._write(rec, "SUCCESS", None, now())
        self.stages.append((rec, "SUCCESS", None))


def read_audit(lake: Lake) -> list[dict[str, Any]]:
    """All audit rows, oldest first."""
    if not lake.exists(AUDIT):
        return []
    rows = lake.read(AUDIT).to_pylist()
    rows.sort(key=lambda r: (r["run_id"], r["started_at"], r["ended_at"] or r["started_at"]))
    return rows


def recent_runs(lake: Lake, limit: int = 5) -> list[dict[str, Any]]:
    """The newest runs, each with its final status and its stages (last event per stage)."""
    runs: dict[str, dict[str, Any]] = {}
    for r in read_audit(lake):
        run = runs.setdefault(r["run_id"], {"run_id": r["run_id"], "status": "RUNNING", "stages": {}})
        if r["stage"] == "run":
            details = json.loads(r["details"] or "{}")
            run["status"] = r["status"]
            run["started_at"] = run.get("started_at") or r["started_at"]
            run["ended_at"] = r["ended_at"]
            run["command"] = details.get("command")
            run["error"] = r["error"]
            for k in ("host", "pid"):
                run.setdefault(k, details.get(k))
        else:
            run["stages"][r["stage"]] = r
    # newest first by start time (run ids sort only to the second: two runs can share one)
    out = sorted(runs.values(), key=lambda x: (str(x.get("started_at") or ""), x["run_id"]), reverse=True)[:limit]
    for run in out:
        run["stages"] = list(run["stages"].values())
    return out


def last_stage_detail(lake: Lake, table_id: str, key: str) -> Any:
    """``details[key]`` of the newest successful stage of ``table_id`` that recorded it, or None
    (e.g. when a table's hard-delete key comparison last ran)."""
    if not lake.exists(AUDIT):
        return None
    t = lake.sql(f"SELECT details FROM {catalog.get(AUDIT).sql_name} WHERE table_id = ? AND status = 'SUCCESS' "
                 f"AND json_exists(details, ?) ORDER BY ended_at DESC LIMIT 1", AUDIT,
                 params=[table_id, f"$.{key}"])
    return json.loads(t.column("details")[0].as_py())[key] if t.num_rows else None


def last_stage_seconds(lake: Lake, stages: Iterable[str]) -> dict[str, float]:
    """Seconds the newest successful run of each of ``stages`` took (stages never run are absent):
    what the pipeline expects a stage to take when it orders the builds of a layer."""
    wanted = list(stages)
    if not wanted or not lake.exists(AUDIT):
        return {}
    t = lake.sql(f"SELECT stage, arg_max(epoch(ended_at) - epoch(started_at), ended_at) AS seconds "
                 f"FROM {catalog.get(AUDIT).sql_name} WHERE status = 'SUCCESS' AND ended_at IS NOT NULL "
                 f"AND list_contains(?, stage) GROUP BY stage", AUDIT, params=[wanted])
    return {s: float(v) for s, v in zip(t.column("stage").to_pylist(), t.column("seconds").to_pylist(),
                                        strict=True) if v is not None}
