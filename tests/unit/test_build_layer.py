"""The layer builder: a table starts once the tables it reads are built, independent tables run
at once, and a failure skips only the tables that read the failed one."""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace

import pytest

from c360.errors import C360Error
from c360.ops import pipeline
from c360.ops.audit import StageRecord

pytestmark = pytest.mark.unit


class _Audit:
    run_id = "r"

    def __init__(self) -> None:
        self.stages: list = []
        self.lock = threading.Lock()

    def stage(self, stage: str, table_id: str):  # type: ignore[no-untyped-def]
        audit = self

        class _Cm:
            def __enter__(self) -> StageRecord:
                self.rec = StageRecord(stage, table_id)
                return self.rec

            def __exit__(self, et, e, tb) -> None:  # type: ignore[no-untyped-def]
                with audit.lock:
                    audit.stages.append((self.rec, "FAILED" if e else "SUCCESS", None))

        return _Cm()


def _ctx(workers: int) -> pipeline.Context:
    settings = SimpleNamespace(engine=SimpleNamespace(name="duckdb"), pipeline=SimpleNamespace(silver_workers=workers))
    ctx = pipeline.Context(settings, None, _Audit())  # type: ignore[arg-type]
    ctx.__dict__["engine"] = None  # never created: the fake builders do not use it
    return ctx


def _run(monkeypatch: pytest.MonkeyPatch, fail: set[str], workers: int = 2) -> tuple[list[str], list[str]]:
    events: list[str] = []
    lock = threading.Lock()

    def fake(ctx, table_id, rec) -> None:  # type: ignore[no-untyped-def]
        with lock:
            events.append(f"start {table_id}")
        time.sleep(0.05)
        with lock:
            events.append(f"end {table_id}")
        if table_id in fail:
            raise C360Error(f"{table_id} broke")

    monkeypatch.setattr(pipeline, "build_table", fake)
    monkeypatch.setattr(pipeline, "BUILDERS", {})
    monkeypatch.setattr(pipeline.Context, "close", lambda self: None)
    ctx = _ctx(workers)
    tables = ["silver.customers_history", "silver.customers", "silver.orders", "silver.identity_map"]
    try:
        pipeline._build_layer(ctx, tables, lambda s, st: None)
    except C360Error as e:
        events.append(f"error {e}")
    return events, [st[0].stage for st in ctx.audit.stages]


def test_tables_wait_for_their_inputs_and_independent_ones_overlap(monkeypatch: pytest.MonkeyPatch) -> None:
    events, audit = _run(monkeypatch, set())
    pos = {e: i for i, e in enumerate(events)}
    assert pos["start silver.customers"] > pos["end silver.customers_history"]
    assert pos["start silver.identity_map"] > max(pos["end silver.customers"], pos["end silver.orders"])
    assert pos["start silver.orders"] < pos["end silver.customers_history"]  # ran alongside
    assert audit == ["silver.customers_history", "silver.customers", "silver.orders", "silver.identity_map"]


def test_a_failure_skips_only_what_reads_it(monkeypatch: pytest.MonkeyPatch) -> None:
    events, _ = _run(monkeypatch, {"silver.customers_history"})
    assert "start silver.orders" in events and "start silver.customers" not in events
    assert "start silver.identity_map" not in events
    assert events[-1].startswith("error silver.customers_history broke")


def test_several_failures_are_all_named(monkeypatch: pytest.MonkeyPatch) -> None:
    events, _ = _run(monkeypatch, {"silver.customers_history", "silver.orders"})
    assert "2 table(s) failed" in events[-1] and "silver.orders broke" in events[-1]
    assert "not built (their inputs failed): silver.customers, silver.identity_map" in events[-1]


def test_native_thread_pools_get_the_builds_share_of_the_cores(monkeypatch: pytest.MonkeyPatch) -> None:
    """OpenBLAS/OpenMP pools are limited to cores // workers while a layer builds (their idle
    workers spin and take a core from the other build), and given back afterwards."""
    import numpy  # noqa: F401  (loads numpy's OpenBLAS, the pool the analytics use)
    from threadpoolctl import threadpool_info, threadpool_limits

    def blas_threads() -> set[int]:
        return {p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"}

    monkeypatch.setattr(pipeline.os, "cpu_count", lambda: 2)
    seen: list[set[int]] = []
    monkeypatch.setattr(pipeline, "build_table", lambda ctx, table_id, rec: seen.append(blas_threads()))
    monkeypatch.setattr(pipeline, "BUILDERS", {})
    monkeypatch.setattr(pipeline.Context, "close", lambda self: None)
    with threadpool_limits(limits=3, user_api="blas"):  # a known starting point on any machine
        assert blas_threads() == {3}
        pipeline._build_layer(_ctx(2), ["silver.orders", "silver.customers_history"], lambda s, st: None)
        assert seen == [{1}, {1}]
        assert blas_threads() == {3}


def test_free_workers_take_the_longest_chain_ahead_first(monkeypatch: pytest.MonkeyPatch) -> None:
    deps = {"a": set(), "b": set(), "c": {"b"}, "d": set()}
    tables = list(deps)
    # b then c (1 + 10 s) is a longer chain than a (5 s); d was never built: the median (5 s)
    monkeypatch.setattr(pipeline, "last_stage_seconds", lambda lake, ts: {"a": 5.0, "b": 1.0, "c": 10.0})
    assert pipeline._critical_first(None, tables, deps) == ["b", "c", "a", "d"]  # type: ignore[arg-type]
    monkeypatch.setattr(pipeline, "last_stage_seconds", lambda lake, ts: {"a": 5.0, "b": 1.0, "c": 2.0, "d": 4.0})
    assert pipeline._critical_first(None, tables, deps) == ["a", "d", "b", "c"]  # type: ignore[arg-type]

    def unreadable(lake: object, ts: object) -> dict[str, float]:
        raise OSError("audit unreadable")

    monkeypatch.setattr(pipeline, "last_stage_seconds", unreadable)  # every table 1 s: chains of tables
    assert pipeline._critical_first(None, tables, deps) == ["b", "a", "c", "d"]  # type: ignore[arg-type]
