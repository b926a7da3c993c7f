"""The run audit: a run whose process died is closed as ABANDONED by the next run."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import psutil

from c360.config import load_settings
from c360.lake.store import lake_from_settings
from c360.ops.audit import RunAudit, StageRecord, recent_runs


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
