"""CRM ingestion: incremental by ``updated_at`` with a primary-key tie-break. The watermark is
stored in the same Delta commit as the rows (commit metadata), so it never runs ahead of them.

Also: schema drift (a new source column is added to bronze as text; a declared column whose
source type changed incompatibly stops the table) and hard deletes (a periodic comparison of all
source keys with bronze marks vanished rows with ``_deleted_at``)."""

from __future__ import annotations

import dataclasses
import hashlib
from datetime import datetime, timedelta
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa

from c360 import catalog
from c360.catalog import Column, TableSpec
from c360.errors import C360Error
from c360.lake.bronze.columnar import source_columns, validate_table
from c360.lake.bronze.files import with_lineage
from c360.lake.bronze.reconcile import KeySample, reconcile
from c360.lake.quarantine import quarantine
from c360.ops.audit import StageRecord, dq_ratio, last_stage_detail, now
from c360.sources.crm import CrmDatabase

WATERMARK_KEY = "c360.watermark"
# bronze table -> (CRM table, primary key, watermark column)
CRM_TABLES = {
    "bronze.crm_customers": ("customers", "customer_id", "updated_at"),
    "bronze.crm_products": ("products", "product_id", "updated_at"),
    "bronze.crm_stores": ("stores", "store_id", "updated_at"),
    "bronze.crm_salespeople": ("salespeople", "salesperson_id", "updated_at"),
    "bronze.crm_returns": ("returns", "return_id", "updated_at"),
    "bronze.crm_support_tickets": ("support_tickets", "ticket_id", "updated_at"),
    "bronze.crm_support_emails": ("support_emails", "email_id", "updated_at"),
}


def ingest_crm(ctx: Any, crm: CrmDatabase, table_id: str, rec: StageRecord, full_refresh: bool = False) -> None:
    """Pull changed rows since the stored watermark and upsert them into bronze on the key."""
    lake, run_id = ctx.lake, ctx.audit.run_id
    source_table, pk, wm_col = CRM_TABLES[table_id]
    spec, drift = _drifted_spec(catalog.get(table_id), crm.column_types(source_table), source_table, (pk, wm_col))
    if drift:
        rec.details["schema_drift"] = drift
    wm = None if full_refresh else lake.last_metadata(table_id, WATERMARK_KEY)
    since = (wm["value"], wm["key"]) if wm else None
    expected: dict[str, tuple[str, int]] = {}
    # A first load (no bronze table yet) appends: keyset pagination reads each key once, and a
    # MERGE per batch would rescan the growing table (quadratic at a million customers).
    initial = not lake.exists(table_id)
    sample = KeySample(table_id)
    con = duckdb.connect()
    for text, (last_wm, last_key) in crm.read_batches(source_table, wm_col, pk, since, ctx.settings.crm.batch_rows):
        first_wm, first_key = text.column(wm_col)[0].as_py(), text.column(pk)[0].as_py()
        batch = hashlib.sha256(f"{source_table}@{first_wm}/{first_key}".encode()).hexdigest()[:16]
        locs = pc.binary_join_element_wise(source_table, text.column(pk), ":")
        good, bad = validate_table(text.append_column("__locator", locs), spec, source_table, "text", con)
        quarantine(lake, bad, run_id=run_id, batch_id=batch, stage=rec.stage, table_id=table_id)
        rows = with_lineage(good.drop_columns(["__locator"]), _source="crm", _source_file=source_table,
                            _ingested_at=now(), _batch_id=batch, _run_id=run_id)
        meta = {WATERMARK_KEY: {"value": last_wm, "key": last_key}}
        # Bronze keeps the latest version per key; silver's SCD2 (issue 5) keeps the history.
        # schema_merge: adds the source's new columns, and _deleted_at to a table from before it
        if initial:
            lake.append(table_id, rows, metadata=meta, schema_merge=True)
        else:
            lake.merge(table_id, rows, metadata=meta, schema_merge=True)
        expected[batch] = (f"crm:{source_table}", text.num_rows)
        sample.add(batch, good)
        rec.rows_in += text.num_rows
        rec.rows_out += good.num_rows
        rec.rows_quarantined += len(bad)
    con.close()
    rec.details["watermark"] = lake.last_metadata(table_id, WATERMARK_KEY)
    # Keyset pagination reads each key once per run, so every batch's rows still carry its id.
    rec.details["reconciliation"] = reconcile(lake, table_id, expected, sample)
    rec.dq_score = dq_ratio(rec.rows_out, rec.rows_in)
    cfg = ctx.settings.crm
    if initial:  # the first load read every key just now: the comparison is due from here on
        rec.details["key_check"] = {"checked_at": now().isoformat(), "initial_load": True, "deleted": 0}
        return
    last = None if full_refresh else last_stage_detail(lake, table_id, "key_check")
    if last is None or now() - datetime.fromisoformat(last["checked_at"]) >= timedelta(hours=cfg.delete_check_hours):
        rec.details["key_check"] = mark_hard_deletes(lake, crm, table_id, cfg.max_delete_fraction)


# source column types a declared bronze type can still be read from (text reads anything)
_COMPATIBLE: dict[str, tuple[type, ...]] = {
    "int64": (sa.Integer,),
    "float64": (sa.Integer, sa.Numeric, sa.Float),
    "bool": (sa.Boolean, sa.Integer),  # MySQL's BOOLEAN is TINYINT(1)
}


def _drifted_spec(spec: TableSpec, source: dict[str, sa.types.TypeEngine], table: str,
                  required: tuple[str, ...]) -> tuple[TableSpec, dict[str, Any]]:
    """The spec to validate this extract with, and what drifted: source columns the catalog
    does not declare are added as text; a declared column whose source type can no longer be
    read as its bronze type stops the table (rows would all be quarantined otherwise)."""
    declared = dict(source_columns(spec))
    for name in required:
        if name not in source:
            raise C360Error(f"CRM table {table} has no column {name!r} any more (key or watermark)",
                            where=f"{spec.id} ← {table}", fix="restore the column or change CRM_TABLES")
    for name, typ in declared.items():
        src = source.get(name)
        ok = _COMPATIBLE.get(typ)
        if src is not None and ok and not isinstance(src, sa.types.NullType) and not isinstance(src, ok):
            raise C360Error(
                f"incompatible schema change in CRM table {table}: column {name!r} is now {src} at the "
                f"source, bronze declares {typ}", where=f"{spec.id} ← {table}.{name}",
                fix="revert the column type at the source, or change the catalog (and migrate the bronze table)")
    added = [n for n in source if n not in declared and not n.startswith("_")]
    missing = [n for n in declared if n not in source]
    drift = {k: v for k, v in (("added", added), ("missing", missing)) if v}
    if added:
        spec = dataclasses.replace(spec, columns=spec.columns + tuple(Column(n) for n in added))
    return spec, drift


def mark_hard_deletes(lake: Any, crm: CrmDatabase, table_id: str, max_fraction: float) -> dict[str, Any]:
    """Compare every source key with the bronze rows not yet marked deleted; mark the vanished
    ones with ``_deleted_at`` (one MERGE). A vanished share above ``max_fraction`` stops the
    table instead: an emptied or wrongly configured source is not a mass deletion."""
    source_table, pk, _ = CRM_TABLES[table_id]
    checked = now()
    keys = crm.read_keys(source_table, pk)
    name = catalog.get(table_id).sql_name
    con = duckdb.connect()
    try:
        con.register(name, lake.dataset(table_id))
        con.register("source_keys", pa.table({"k": keys}))
        live = con.sql(f'SELECT count(*) FROM {name} WHERE "_deleted_at" IS NULL').arrow().read_all()[0][0].as_py()
        gone = con.sql(f'SELECT b."{pk}" FROM {name} b ANTI JOIN source_keys s ON CAST(b."{pk}" AS VARCHAR) = s.k '
                       f'WHERE b."_deleted_at" IS NULL').arrow().read_all()
    finally:
        con.close()
    result = {"checked_at": checked.isoformat(), "source_keys": len(keys), "bronze_live": live,
              "deleted": gone.num_rows}
    if live and gone.num_rows / live > max_fraction:
        raise C360Error(f"hard-delete check: {gone.num_rows} of {live} rows of {table_id} are gone from CRM table "
                        f"{source_table} (more than crm.max_delete_fraction={max_fraction}); nothing was marked",
                        where=f"{table_id} ← {source_table}",
                        fix="check crm.url points at the right database; if the deletions are real, raise "
                            "crm.max_delete_fraction for one run")
    if gone.num_rows:
        marks = gone.append_column("_deleted_at", pa.array([checked] * gone.num_rows, pa.timestamp("us", tz="UTC")))
        lake.update_matching(table_id, marks, ["_deleted_at"], metadata={"c360.hard_deletes": gone.num_rows})
    return result
