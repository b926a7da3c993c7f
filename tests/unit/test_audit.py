"""The run audit: a run whose process died is closed as ABANDONED by the next run."""

from __future__ import annotations

import os
import socket
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psutil
import pytest

from c360.config import load_settings
from c360.lake.store import lake_from_settings
from c360.ops.audit import RunAudit, StageRecord, last_stage_seconds, recent_runs


def _fake_running(lake: object, run_id: str, host: str, pid: int) -> None:
    a = RunAudit(lake, run_id=run_id)  # type: ignore[arg-type]
    a._write(StageRecord("run", details={"command": "run", "host": host, "pid": pid}), "RUNNING", None, None)


def test_dead_runs_on_this_host_are_closed_as_abandoned(tmp_path: Path) -> None:
    lake = lake_from_settings(load_settings(home=tmp_path))
    dead = next(p for p in range(4_000_000, 4_100_000) if not psutil.pid_exists(p))
    host = socket.gethostname()
    _fake_running(lake, "20240101T000000-dead0000", host, dead)
    _fake_running(lake, "20240101T000001-alive000", host, os.getpid())  # still running: left alone
    _fake_running(lake, "20240101T000002-other000", "another-host", dead)  # cannot be checked: left alone
    new = RunAudit(lake)
    new.begin()
    status = {r["run_id"]: r for r in recent_runs(lake, 10)}
    assert status["20240101T000000-dead0000"]["status"] == "ABANDONED"
    assert f"pid {dead}" in status["20240101T000000-dead0000"]["error"]
    assert status["20240101T000001-alive000"]["status"] == "RUNNING"
    assert status["20240101T000002-other000"]["status"] == "RUNNING"
    assert status[new.run_id]["status"] == "RUNNING" and status[new.run_id]["pid"] == os.getpid()


def test_last_stage_seconds_is_the_newest_successful_run_of_each_stage(tmp_path: Path) -> None:
    lake = lake_from_settings(load_settings(home=tmp_path))
    assert last_stage_seconds(lake, ["gold.a"]) == {}  # no audit yet
    for run_id, took, status in (("20240101T000000-aaaa0000", 5.0, "SUCCESS"),
                                 ("20240101T000100-bbbb0000", 2.0, "SUCCESS"),
                                 ("20240101T000200-cccc0000", 9.0, "FAILED")):  # a failure says nothing
        a = RunAudit(lake, run_id=run_id)
        rec = StageRecord("gold.a", "gold.a")
        rec.started_at = datetime(2024, 1, 1, 0, int(run_id[11:13]), tzinfo=UTC)
        a._write(rec, status, None, rec.started_at + timedelta(seconds=took))
    b = RunAudit(lake, run_id="20240101T000300-dddd0000")
    rec = StageRecord("gold.b", "gold.b")
    b._write(rec, "SUCCESS", None, rec.started_at + timedelta(seconds=1.5))
    assert last_stage_seconds(lake, ["gold.a", "gold.b", "gold.never"]) == pytest.approx({"gold.a": 2.0, "gold.b": 1.5})
    assert last_stage_seconds(lake, ["gold.b"]) == pytest.approx({"gold.b": 1.5})
