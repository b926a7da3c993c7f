"""``c360 serve load``: gold tables copied into the serving database (PostgreSQL, or a local DuckDB
file when none is configured) for BI tools and the API.

Per table, in one transaction: the gold rows are bulk-loaded (straight into the served table when
it is empty, as on a first load) into a staging table (PostgreSQL
``COPY … FROM STDIN`` of CSV written by Arrow; DuckDB straight from Arrow), then merged into the
served table on its primary key — changed rows updated, new rows inserted, rows gone from gold
deleted, unchanged rows not written at all — so an incremental run touches only what changed and
readers never see a half-loaded table. Each table's counts go to ``load_audit`` (run id, table,
inserted, updated, deleted, rows, started, finished, status). Indexes serve the API's lookups.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
import pyarrow.csv as pcsv

from c360 import catalog
from c360.catalog import TableSpec
from c360.config import Settings
from c360.engine.base import ident, literal
from c360.errors import C360Error
from c360.lake.store import Lake
from c360.ops.audit import new_run_id

SCHEMA = "c360"
# gold table -> served name (customer_360 keeps the name BI users know it by)
SERVED: dict[str, str] = {
    "gold.customer_360": "customer360_golden", "gold.customer_rfm": "customer_segments",
    "gold.customer_clv": "customer_clv", "gold.recommendations": "recommendations",
    "gold.churn_risk": "churn_risk", "gold.coupon_offers": "coupon_offers", "gold.cx_summary": "cx_summary",
    "gold.cx_daily": "cx_daily", "gold.sales_team_monthly": "sales_team_monthly",
    "gold.daily_report": "daily_report", "gold.monthly_report": "monthly_report",
    "gold.dim_product": "products", "gold.product_sales": "product_sales",
    "ops.dq_scorecard": "dq_scorecard", "ops.run_history": "run_history",
}
# how many recent runs ops.run_history serves
RUN_HISTORY = 200
# the API's lookups: served table -> indexed columns
INDEXES: dict[str, tuple[str, ...]] = {
    "customer360_golden": ("email", "phone", "segment"), "customer_segments": ("segment",),
    "recommendations": ("person_id",), "cx_daily": ("date",),
    "product_sales": ("category",),
}
_PG_TYPES = {"string": "text", "int64": "bigint", "int32": "integer", "float64": "double precision",
             "bool": "boolean", "date": "date", "timestamp": "timestamptz"}
_DUCK_TYPES = {"string": "VARCHAR", "int64": "BIGINT", "int32": "INTEGER", "float64": "DOUBLE", "bool": "BOOLEAN",
               "date": "DATE", "timestamp": "TIMESTAMPTZ"}


@dataclass
class Loaded:
    """One table's load: what changed."""

    table: str
    rows: int
    inserted: int
    updated: int
    deleted: int
    started_at: datetime
    finished_at: datetime


def merge_sql(target: str, staging: str, spec: TableSpec) -> dict[str, str]:
    """The statements that merge ``staging`` into ``target`` on the primary key (PostgreSQL and
    DuckDB alike): update the changed rows, insert the new keys, delete the keys gone."""
    keys, cols = spec.primary_key, [c.name for c in spec.columns]
    on = " AND ".join(f"t.{ident(k)} = s.{ident(k)}" for k in keys)
    changed = " OR ".join(f"t.{ident(c)} IS DISTINCT FROM s.{ident(c)}" for c in cols if c not in keys) or "FALSE"
    sets = ", ".join(f"{ident(c)} = s.{ident(c)}" for c in cols if c not in keys)
    collist = ", ".join(ident(c) for c in cols)
    return {
        "update": (f"UPDATE {target} AS t SET {sets} FROM {staging} AS s WHERE {on} AND ({changed})"
                   if sets else ""),
        "insert": (f"INSERT INTO {target} ({collist}) SELECT {', '.join(f's.{ident(c)}' for c in cols)} FROM {staging} "
                   f"AS s WHERE NOT EXISTS (SELECT 1 FROM {target} AS t WHERE {on})"),
        "delete": f"DELETE FROM {target} AS t WHERE NOT EXISTS (SELECT 1 FROM {staging} AS s WHERE {on})",
    }


def _ddl(name: str, spec: TableSpec, types: dict[str, str], schema: str) -> str:
    cols = ", ".join(f"{ident(c.name)} {types[c.type]}" for c in spec.columns)
    return (f"CREATE TABLE IF NOT EXISTS {schema}.{ident(name)} ({cols}, "
            f"PRIMARY KEY ({', '.join(ident(k) for k in spec.primary_key)}))")


class _Target:
    """A serving database: run SQL, stage Arrow rows, commit per table."""

    types: dict[str, str]

    def execute(self, sql: str) -> None: ...
    def scalar(self, sql: str) -> int: ...
    def changed(self, sql: str) -> int:
        """Run a DML statement; the rows it wrote."""
    def copy_into(self, target: str, spec: TableSpec, data: pa.Table) -> None: ...
    def stage(self, name: str, spec: TableSpec, data: pa.Table) -> str: ...
    def transaction(self) -> Any: ...
    def close(self) -> None: ...


class _Postgres(_Target):
    types = _PG_TYPES

    def __init__(self, url: str, password: str | None) -> None:
        import psycopg

        conninfo = url.replace("postgresql+psycopg://", "postgresql://", 1)
        try:
            self.con = psycopg.connect(conninfo, password=password, autocommit=True, connect_timeout=10)
        except psycopg.OperationalError as e:
            raise C360Error(f"cannot connect to the serving database: {str(e).splitlines()[0]}",
                            where="serving.url", fix="check serving.url and C360_SERVING__PASSWORD") from None

    def execute(self, sql: str) -> None:
        self.con.execute(sql)

    def scalar(self, sql: str) -> int:
        row = self.con.execute(sql).fetchone()
        return int(row[0]) if row else 0

    def changed(self, sql: str) -> int:
        return max(self.con.execute(sql).rowcount, 0)

    def stage(self, name: str, spec: TableSpec, data: pa.Table) -> str:
        staging = ident(f"_stage_{name}")
        cols = ", ".join(f"{ident(c.name)} {self.types[c.type]}" for c in spec.columns)
        self.execute(f"CREATE TEMP TABLE {staging} ({cols}) ON COMMIT DROP")
        self.copy_into(staging, spec, data)
        self.execute(f"ANALYZE {staging}")  # a temp table has no statistics: the merge joins need them
        return staging

    def copy_into(self, target: str, spec: TableSpec, data: pa.Table) -> None:
        buf = io.BytesIO()
        pcsv.write_csv(data, buf, pcsv.WriteOptions(include_header=False, quoting_style="needed"))
        collist = ", ".join(ident(c.name) for c in spec.columns)
        with self.con.cursor().copy(f"COPY {target} ({collist}) FROM STDIN WITH (FORMAT csv)") as cp:
            view = buf.getbuffer()
            for i in range(0, len(view), 1 << 22):
                cp.write(view[i:i + (1 << 22)])

    @contextmanager
    def transaction(self) -> Iterator[None]:
        with self.con.transaction():
            yield

    def close(self) -> None:
        self.con.close()


class _DuckDB(_Target):
    types = _DUCK_TYPES

    def __init__(self, path: str) -> None:
        import duckdb

        try:
            self.con = duckdb.connect(path)
        except duckdb.IOException as e:
            # most often `c360 serve api`, which holds the file open read-only
            raise C360Error(f"cannot write the serving file {path}: {str(e).splitlines()[0][:200]}",
                            where="serving.url", fix="stop the process holding it (c360 serve api?) or serve "
                            "from PostgreSQL, which takes loads while the API reads") from None
        self.con.execute("SET TimeZone = 'UTC'")

    # DuckDB 2.0 wants every result read to its end before the next statement
    def execute(self, sql: str) -> None:
        self.con.execute(sql).fetchall()

    def scalar(self, sql: str) -> int:
        rows = self.con.execute(sql).fetchall()
        return int(rows[0][0]) if rows else 0

    def changed(self, sql: str) -> int:
        return self.scalar(sql)

    def stage(self, name: str, spec: TableSpec, data: pa.Table) -> str:
        staging = ident(f"_stage_{name}")
        self.con.register("c360_incoming", data)
        self.execute(f"CREATE OR REPLACE TEMP TABLE {staging} AS SELECT * FROM c360_incoming")
        self.con.unregister("c360_incoming")
        return staging

    def copy_into(self, target: str, spec: TableSpec, data: pa.Table) -> None:
        self.con.register("c360_incoming", data)
        self.execute(f"INSERT INTO {target} SELECT {', '.join(ident(c.name) for c in spec.columns)} FROM c360_incoming")
        self.con.unregister("c360_incoming")

    @contextmanager
    def transaction(self) -> Iterator[None]:
        self.con.execute("BEGIN TRANSACTION")
        try:
            yield
        except BaseException:
            self.con.execute("ROLLBACK")
            raise
        self.con.execute("COMMIT")

    def close(self) -> None:
        self.con.close()


def connect(settings: Settings) -> _Target:
    """The configured serving database (module doc)."""
    url = settings.serving_url
    if url.startswith("postgresql+psycopg://"):
        pw = settings.serving.password.get_secret_value() if settings.serving.password else None
        return _Postgres(url, pw)
    return _DuckDB(url)


_AUDIT_DDL = (f"CREATE TABLE IF NOT EXISTS {SCHEMA}.load_audit (run_id VARCHAR, table_name VARCHAR, "
              "rows_total BIGINT, rows_inserted BIGINT, rows_updated BIGINT, rows_deleted BIGINT, "
              "started_at TIMESTAMPTZ, finished_at TIMESTAMPTZ, status VARCHAR, error VARCHAR)")


def load(settings: Settings, lake: Lake, tables: list[str] | None = None,
         progress: Callable[[str], None] | None = None) -> tuple[str, list[Loaded]]:
    """Load the served gold tables (or ``tables``, gold ids) into the serving database; returns
    the load's run id and per-table counts. Tables load concurrently into PostgreSQL
    (``serving.load_workers`` connections), one at a time into DuckDB. A table that fails is
    recorded FAILED and fails the load; the others stay loaded (each is its own transaction)."""
    chosen = tables or list(SERVED)
    unknown = [t for t in chosen if t not in SERVED]
    if unknown:
        raise C360Error(f"not a served table: {', '.join(unknown)}", where="serve load",
                        fix=f"use one of {', '.join(SERVED)}")
    run_id = new_run_id()
    db = connect(settings)
    try:
        db.execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
        db.execute(_AUDIT_DDL)
    finally:
        db.close()
    missing = [t for t in chosen if catalog.get(t).built_by != "serve" and not lake.exists(t)]
    if missing:
        raise C360Error(f"{', '.join(missing)} not built yet", where="serve load", fix="run `c360 run` first")
    workers = settings.serving.load_workers if isinstance(db, _Postgres) else 1

    def one(table_id: str) -> Loaded:
        if progress:
            progress(table_id)
        conn = connect(settings)
        try:
            return _load_table(conn, settings, lake, table_id, run_id)
        finally:
            conn.close()

    # the biggest tables first, so that the workers finish together
    order = sorted(chosen, key=lambda t: 0 if catalog.get(t).built_by == "serve" else -lake.count(t))
    with ThreadPoolExecutor(workers, thread_name_prefix="serve") as pool:
        futures = {t: pool.submit(one, t) for t in order}
        done = {t: f.result() for t, f in futures.items()}
    if isinstance(db, _Postgres):
        from c360.serve.policies import apply

        if progress:
            progress("roles, masked views, row-level security")
        pg = connect(settings)
        try:
            present = {t: n for t, n in SERVED.items() if pg.scalar(
                f"SELECT count(*) FROM pg_class c JOIN pg_namespace s ON s.oid = c.relnamespace "
                f"WHERE s.nspname = '{SCHEMA}' AND c.relname = '{n}'")}
            apply(settings, pg.con, present)
        finally:
            pg.close()
    return run_id, [done[t] for t in chosen]


def snapshot(settings: Settings, lake: Lake, table_id: str) -> pa.Table:
    """A served snapshot (catalog ``built_by="serve"``), computed from the run audit: the DQ
    scorecard, or the recent runs."""
    from c360.ops.audit import recent_runs
    from c360.quality.scorecard import scorecard

    spec = catalog.get(table_id)
    if table_id == "ops.dq_scorecard":
        rows = [{"table_id": t.table_id, "layer": t.table_id.split(".")[0], "status": t.status, "score": t.score,
                 "threshold": t.threshold, "dimensions": json.dumps(t.dimensions, sort_keys=True),
                 "failing_rules": json.dumps(t.failing_rules, sort_keys=True), "run_id": t.run_id,
                 "checked_at": t.checked_at, "error": t.error} for t in scorecard(lake, settings)]
    elif table_id == "ops.run_history":
        rows = []
        for run in recent_runs(lake, RUN_HISTORY):
            stages = run["stages"]
            rows.append({"run_id": run["run_id"], "command": run.get("command"), "status": run["status"],
                         "started_at": run.get("started_at"), "ended_at": run.get("ended_at"),
                         "stages": len(stages), "failed_stages": sum(s["status"] == "FAILED" for s in stages),
                         "rows_out": sum(s["rows_out"] or 0 for s in stages),
                         "rows_quarantined": sum(s["rows_quarantined"] or 0 for s in stages),
                         "error": run.get("error")})
    else:
        raise KeyError(table_id)
    return catalog.conform(pa.Table.from_pylist(rows), spec) if rows else spec.schema().empty_table()


def _load_table(db: _Target, settings: Settings, lake: Lake, table_id: str, run_id: str) -> Loaded:
    spec = catalog.get(table_id)
    name = SERVED[table_id]
    target = f"{SCHEMA}.{ident(name)}"
    started = datetime.now(UTC)
    if spec.built_by == "serve":
        data = snapshot(settings, lake, table_id)
    else:
        data = lake.decrypted(table_id, lake.read(table_id, [c.name for c in spec.columns]))
    try:
        with db.transaction():
            db.execute(_ddl(name, spec, db.types, SCHEMA))
            rows = catalog.conform(data, spec)
            if db.scalar(f"SELECT count(*) FROM {target}") == 0:
                # a first load (or an emptied table): straight in, no staging and no merge
                db.copy_into(target, spec, rows)
                counts = {"inserted": rows.num_rows, "updated": 0, "deleted": 0}
            else:
                sql = merge_sql(target, db.stage(name, spec, rows), spec)
                counts = {"updated": db.changed(sql["update"]) if sql["update"] else 0,
                          "inserted": db.changed(sql["insert"]), "deleted": db.changed(sql["delete"])}
            for col in INDEXES.get(name, ()):
                db.execute(f"CREATE INDEX IF NOT EXISTS {ident(f'ix_{name}_{col}')} ON {target} ({ident(col)})")
            done = Loaded(name, data.num_rows, counts["inserted"], counts["updated"], counts["deleted"], started,
                          datetime.now(UTC))
            _audit(db, run_id, done, "SUCCESS", None)
    except Exception as e:
        with db.transaction():
            _audit(db, run_id, Loaded(name, data.num_rows, 0, 0, 0, started, datetime.now(UTC)), "FAILED",
                   f"{type(e).__name__}: {str(e).splitlines()[0][:500]}")
        raise
    return done


def _audit(db: _Target, run_id: str, r: Loaded, status: str, error: str | None) -> None:
    def lit(v: Any) -> str:
        return "NULL" if v is None else literal(str(v))

    db.execute(f"INSERT INTO {SCHEMA}.load_audit VALUES ({lit(run_id)}, {lit(r.table)}, {r.rows}, {r.inserted}, "
               f"{r.updated}, {r.deleted}, {lit(r.started_at.isoformat())}, {lit(r.finished_at.isoformat())}, "
               f"{lit(status)}, {lit(error)})")
