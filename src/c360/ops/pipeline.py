"""The pipeline: sources → bronze → silver → gold, each stage audited.

Bronze stages are independent: one failing source does not stop the others from landing, but the
run stops before silver (so silver/gold never mix fresh and stale inputs) and is marked FAILED.
"""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from threadpoolctl import threadpool_limits

from c360 import catalog
from c360.analytics.churn import build_churn_risk
from c360.analytics.clv import build_customer_clv
from c360.analytics.recommend import build_recommendations
from c360.config import Settings
from c360.engine import Engine, create_engine
from c360.errors import C360Error
from c360.identity.stage import build_identity
from c360.lake.bronze.crm import CRM_TABLES, ingest_crm
from c360.lake.bronze.files import FILE_SOURCES, ingest_source
from c360.lake.bronze.stream import ingest_stream
from c360.lake.build import build_table
from c360.lake.gold import GOLD_TABLES
from c360.lake.gold.export import build_and_export
from c360.lake.gold.orders import build_fact_orders
from c360.lake.gold.product_sales import build_product_sales
from c360.lake.silver import SILVER_TABLES
from c360.lake.store import Lake, lake_from_settings
from c360.ops.audit import RunAudit, StageRecord, last_stage_seconds
from c360.sources.crm import CrmDatabase
from c360.sources.objectstore import open_object_store
from c360.sources.stream import open_stream

LAYERS = ("bronze", "silver", "gold")
# Tables a package writes instead of lake/build.py (their spec says built_by), or around their
# model: the report exports, and the in-memory paths of fact_orders and product_sales
# (lake/gold/orders.py, lake/gold/product_sales.py)
BUILDERS: dict[str, Callable[[Any, str, StageRecord], None]] = {
    "silver.identity_map": lambda ctx, _table_id, rec: build_identity(ctx, rec),
    "gold.fact_orders": build_fact_orders,
    "gold.product_sales": build_product_sales,
    "gold.customer_clv": build_customer_clv,
    "gold.churn_risk": build_churn_risk,
    "gold.recommendations": build_recommendations,
    "gold.daily_report": build_and_export,
    "gold.monthly_report": build_and_export,
}
Progress = Callable[[str, str], None]  # (stage, "start" | "done" | "failed")


@dataclass
class Context:
    """What every stage gets: settings, the lake, the audit of this run, and an engine."""

    settings: Settings
    lake: Lake
    audit: RunAudit
    _engine: Engine | None = field(default=None, repr=False)
    reprocess: bool = False  # files: ingest every file again, as a new version (Auto Loader's reprocessing)
    full_refresh: bool = False  # CRM: read whole tables, ignoring the stored watermarks
    threads: int | None = None  # DuckDB threads of the engine this context creates (None: engine.threads)

    @cached_property
    def engine(self) -> Engine:
        return self._engine or create_engine(self.settings, self.threads)

    def close(self) -> None:
        """Close the engine if this context created it (a caller's engine stays open)."""
        if self._engine is None and "engine" in self.__dict__:
            self.engine.close()


@dataclass
class RunResult:
    run_id: str
    status: str
    stages: list[tuple[StageRecord, str, str | None]]


def _bronze_stages(settings: Settings) -> list[tuple[str, str, Callable[[Context, StageRecord], None]]]:
    """(stage name, table id, function) for every bronze source."""
    stages: list[tuple[str, str, Callable[[Context, StageRecord], None]]] = []

    lock = threading.Lock()  # stages run in threads: each source is opened once

    def once(make: Callable[[], Any]) -> Callable[[], Any]:
        """Open lazily, once: a stage that never runs never opens its source."""
        cached = functools.cache(make)

        def get() -> Any:
            with lock:
                return cached()
        return get

    pw = settings.crm.password.get_secret_value() if settings.crm.password else None
    crm = once(lambda: CrmDatabase(settings.crm_url, pw))
    store = once(lambda: open_object_store(settings))

    for table_id in CRM_TABLES:
        stages.append((table_id, table_id,
                       lambda ctx, rec, t=table_id: ingest_crm(ctx, crm(), t, rec, full_refresh=ctx.full_refresh)))
    for src in FILE_SOURCES:
        stages.append((src.table_id, src.table_id,
                       lambda ctx, rec, s=src: _ingest_files(ctx, store(), s, rec)))
    stages.append(("bronze.events", "bronze.events", lambda ctx, rec: _ingest_events(ctx, rec)))
    return stages


def _ingest_files(ctx: Context, store: Any, src: Any, rec: StageRecord) -> None:
    if not store.list(src.prefix):
        raise C360Error(f"empty source: no {src.name} files under {store.url}/{src.prefix}",
                        where=f"object_store {store.url}",
                        fix="point object_store.url at the file drops, or run `c360 generate`")
    o = ctx.settings.object_store
    ingest_source(ctx, store, src, rec, reprocess=ctx.reprocess, max_files=o.batch_files, max_rows=o.batch_rows)


def _ingest_events(ctx: Context, rec: StageRecord) -> None:
    stream = open_stream(ctx.settings)
    if not stream.shards():
        raise C360Error(f"empty source: stream {ctx.settings.stream_url} has no shards",
                        where="stream", fix="point stream.url at the event stream, or run `c360 generate`")
    ingest_stream(ctx, stream, rec)


def run_stream(settings: Settings, *, follow: bool = False, trigger_s: float | None = None,
               stop: threading.Event | None = None) -> RunResult:
    """Ingest the event stream alone: available-now, or ``follow`` (micro-batches every trigger
    interval until ``stop`` is set). One run in the audit, one bronze.events stage."""
    with _audited_run(settings, "ingest-stream") as ctx, ctx.audit.stage("bronze.events", "bronze.events") as rec:
        ingest_stream(ctx, open_stream(settings), rec, follow=follow, stop=stop or threading.Event(),
                      trigger_s=trigger_s or settings.stream.trigger_interval_s)
    return RunResult(ctx.audit.run_id, "SUCCESS", ctx.audit.stages)


@contextmanager
def _audited_run(settings: Settings, command: str, engine: Engine | None = None,
                 **options: bool) -> Iterator[Context]:
    """One run in the audit around the body: RUNNING, then SUCCESS, or FAILED with the error."""
    lake = lake_from_settings(settings)
    audit = RunAudit(lake, command=command)
    ctx = Context(settings, lake, audit, engine, **options)
    audit.begin()
    try:
        yield ctx
    except BaseException as e:
        audit.end("FAILED", e.line() if isinstance(e, C360Error) else f"{type(e).__name__}: {e}")
        raise
    finally:
        ctx.close()
    audit.end("SUCCESS")


def run_pipeline(settings: Settings, layers: Iterable[str] = LAYERS, *, command: str = "run",
                 engine: Engine | None = None, progress: Progress | None = None, reprocess: bool = False,
                 full_refresh: bool = False, select: Iterable[str] | None = None) -> RunResult:
    """Run the chosen layers in order; returns the result, raises C360Error on failure.
    ``select``: only these tables (ids such as ``bronze.payments``) of those layers.

    ``reprocess`` ingests every file again (a new batch per file; bronze keeps both, quarantine
    ids differ by batch); ``full_refresh`` re-reads whole CRM tables (bronze upserts on the key,
    so it changes only what changed).
    """
    layers = [x for x in LAYERS if x in set(layers)]
    chosen = set(select) if select else None
    unknown = sorted((chosen or set()) - set(catalog.CATALOG))
    if unknown:
        raise C360Error(f"unknown table(s): {', '.join(unknown)}", fix="see `c360 tables` for the table ids")
    notify = progress or (lambda stage, state: None)
    with _audited_run(settings, command, engine, reprocess=reprocess, full_refresh=full_refresh) as ctx:
        audit = ctx.audit
        if "bronze" in layers:
            stages = [st for st in _bronze_stages(settings) if chosen is None or st[1] in chosen]

            def run_stage(stage: str, table_id: str, fn: Callable[[Context, StageRecord], None]) -> str | None:
                notify(stage, "start")
                try:
                    with audit.stage(stage, table_id) as rec:
                        fn(ctx, rec)
                except C360Error as e:
                    notify(stage, "failed")
                    return e.line()
                notify(stage, "done")
                return None

            # Sources are independent and one keeps about a core busy: ingest a few at once.
            with ThreadPoolExecutor(settings.pipeline.bronze_workers, thread_name_prefix="bronze") as pool:
                causes = list(pool.map(lambda st: run_stage(*st), stages))
            _in_declared_order(audit, [st[0] for st in stages])
            failures: dict[str, list[str]] = {}  # one cause (e.g. an unreachable CRM) -> its stages
            for (stage, _, _), cause in zip(stages, causes, strict=True):
                if cause is not None:
                    failures.setdefault(cause, []).append(stage)
            if failures:
                n = sum(len(v) for v in failures.values())
                causes = " | ".join(f"{', '.join(stages)}: {cause}" for cause, stages in failures.items())
                raise C360Error(f"{n} bronze stage(s) failed — {causes}", where=f"run {audit.run_id}",
                                fix="see `c360 status`; fix the sources and re-run")
        for layer, tables in (("silver", SILVER_TABLES), ("gold", GOLD_TABLES)):
            if layer in layers:
                _build_layer(ctx, [t for t in tables if chosen is None or t in chosen], notify)
    return RunResult(ctx.audit.run_id, "SUCCESS", ctx.audit.stages)


def _build_layer(ctx: Context, tables: list[str], notify: Progress) -> None:
    """Build a layer's tables, each once the tables of its layer it reads are built.

    Independent tables run at once (``pipeline.silver_workers`` threads), each on its own DuckDB
    connection: they overlap well because their slow parts hold different resources (a Python
    rule such as phone parsing holds the GIL; DuckDB queries and delta-rs writes release it).
    With a caller's engine (e.g. Spark) they run one after another on it. A table whose inputs
    failed never starts; the others still do. A single failure is raised as it is, several as one
    error naming each (and the tables they kept from being built).
    """
    deps = {t: {i for i in catalog.get(t).inputs if i in tables} for t in tables}
    own_engines = ctx._engine is None and ctx.settings.engine.name == "duckdb"
    workers = ctx.settings.pipeline.silver_workers if own_engines else 1
    # the cores shared among the tables built at once: two builds on 2 cores each with DuckDB's
    # default of all cores oversubscribe them (gold at M: 68.0 s and 105 CPU-s user with 2 threads
    # each, 61.2 s and 93 CPU-s with 1; docs/decisions/0013)
    threads = max(1, (os.cpu_count() or 1) // workers)

    def build(table_id: str) -> None:
        sub = Context(ctx.settings, ctx.lake, ctx.audit, ctx._engine, ctx.reprocess, ctx.full_refresh,
                      threads) if own_engines else ctx
        notify(table_id, "start")
        try:
            with ctx.audit.stage(table_id, table_id) as rec:
                BUILDERS.get(table_id, build_table)(sub, table_id, rec)
        except Exception:
            notify(table_id, "failed")
            raise
        finally:
            if sub is not ctx:
                sub.close()
        notify(table_id, "done")

    ok: set[str] = set()
    failed: dict[str, BaseException] = {}
    running: dict[Future[None], str] = {}
    order = _critical_first(ctx.lake, tables, deps) if workers > 1 else tables
    # The same share for the native thread pools of numpy/scipy (OpenBLAS) and scikit-learn
    # (OpenMP): their idle workers spin, taking a core from the other build (gold at M: ~10 CPU-s,
    # 76 -> 72 s; docs/decisions/0017). The limit is process-wide, the same for every build.
    with threadpool_limits(limits=threads), ThreadPoolExecutor(workers, thread_name_prefix="build") as pool:
        while True:
            # a table whose inputs failed never starts; independent ones still do (as in bronze)
            for t in order:
                if (t not in ok and t not in failed and t not in running.values() and deps[t] <= ok
                        and len(running) < workers):
                    running[pool.submit(build, t)] = t
            if not running:
                break
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for f in finished:
                t = running.pop(f)
                if f.exception() is None:
                    ok.add(t)
                else:
                    failed[t] = f.exception()  # type: ignore[assignment]
    _in_declared_order(ctx.audit, tables)
    if len(failed) == 1:
        raise next(iter(failed.values()))
    if failed:
        causes = " | ".join(f"{t}: {e.line() if isinstance(e, C360Error) else e}" for t, e in failed.items())
        skipped = [t for t in tables if t not in ok and t not in failed]
        raise C360Error(f"{len(failed)} table(s) failed — {causes}"
                        + (f"; not built (their inputs failed): {', '.join(skipped)}" if skipped else ""),
                        where=f"run {ctx.audit.run_id}", fix="see `c360 status` and `c360 dq`")


def _critical_first(lake: Lake, tables: list[str], deps: dict[str, set[str]]) -> list[str]:
    """``tables`` in the order free workers take them up: the longest chain of builds still ahead
    first (a table's expected seconds plus its longest chain of dependents), ties in declared
    order. Expected seconds are the last successful build's, from the run audit; a table never
    built counts as the median of the others. In declared order, gold at M started customer_clv
    before churn_risk, which the last table waits on (docs/decisions/0018)."""
    try:
        seconds = last_stage_seconds(lake, tables)
    except Exception:  # an unreadable audit costs the order, never the run
        seconds = {}
    known = sorted(seconds.values())
    default = known[len(known) // 2] if known else 1.0
    dependents = {t: [u for u in tables if t in deps[u]] for t in tables}
    chain: dict[str, float] = {}

    def ahead(t: str) -> float:
        if t not in chain:
            chain[t] = seconds.get(t, default) + max((ahead(u) for u in dependents[t]), default=0.0)
        return chain[t]

    return sorted(tables, key=lambda t: (-ahead(t), tables.index(t)))


def _in_declared_order(audit: RunAudit, stages: list[str]) -> None:
    """Put ``stages`` in the audit's list in the order given (they ran in threads and finished in
    any order); other stages keep their places."""
    order = {name: i for i, name in enumerate(stages)}
    slots = [i for i, st in enumerate(audit.stages) if st[0].stage in order]
    ours = sorted((audit.stages[i] for i in slots), key=lambda st: order[st[0].stage])
    for i, st in zip(slots, ours, strict=True):
        audit.stages[i] = st
