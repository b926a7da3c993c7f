"""`c360 generate --day`: one more day on top of a world, deterministic, picked up incrementally."""

from __future__ import annotations

import hashlib
from datetime import datetime
from pathlib import Path

import pytest

from c360.config import Settings, load_settings
from c360.errors import C360Error
from c360.lake.store import lake_from_settings
from c360.ops.pipeline import run_pipeline
from c360.sources.generator import World, build_world, day_from_settings
from tests.integration.conftest import write_world


def _home(tmp_path: Path, name: str, world: World) -> Settings:
    s = load_settings(home=tmp_path / name)
    write_world(s, world)
    return s


def _digest(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file() and p.suffix != ".db"}


def test_a_day_is_deterministic_and_added_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    a, b = _home(tmp_path, "a", build_world(300, 4)), _home(tmp_path, "b", build_world(300, 4))
    ea, eb = day_from_settings(a, "2025-01-01"), day_from_settings(b, "2025-01-01")
    assert ea == eb and ea["counts"]["orders"] > 0
    assert _digest(tmp_path / "a" / "sources") == _digest(tmp_path / "b" / "sources")
    with pytest.raises(C360Error, match="already generated"):
        day_from_settings(a, "2025-01-01")
    with pytest.raises(C360Error, match="not after the world's start"):
        day_from_settings(a, "2023-12-31")


def test_pipeline_takes_exactly_the_new_day(embedded: Settings, world: World) -> None:
    run_pipeline(embedded)
    lake = lake_from_settings(embedded)
    before = {t: lake.count(t) for t in ("bronze.purchases", "bronze.payments", "bronze.events",
                                         "bronze.crm_customers", "silver.customers", "bronze.feedback")}
    day = day_from_settings(embedded, "2025-01-01")
    c, d = day["counts"], day["defects"]
    run_pipeline(embedded)
    assert lake.count("bronze.purchases") == before["bronze.purchases"] + c["order_lines"]
    assert lake.count("bronze.payments") == before["bronze.payments"] + c["payments"]
    assert lake.count("bronze.feedback") == before["bronze.feedback"] + c.get("feedback", 0)
    assert lake.count("bronze.events") == before["bronze.events"] + c["events"] + d["events_duplicate"]
    # CRM: newcomers are new rows; updates and deletes replace the current version of a row
    assert lake.count("bronze.crm_customers") == before["bronze.crm_customers"] + c["new_customers"]
    assert lake.count("silver.customers") == (before["silver.customers"] + c["new_customers"]
                                              - c["crm_soft_deletes"])
    # some of the day's events are dated on earlier days (late arrivals) and still land
    ts = lake.sql("SELECT event_ts FROM bronze_events WHERE event_id LIKE 'E20250101%'", "bronze.events")
    days = {datetime.fromisoformat(t).date().isoformat() for t in ts["event_ts"].to_pylist()}
    assert "2025-01-01" in days and (d["events_late_earlier_day"] == 0 or min(days) < "2025-01-01")
