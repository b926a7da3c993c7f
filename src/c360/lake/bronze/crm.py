"""CRM ingestion: incremental by ``updated_at`` with a primary-key tie-break. The watermark is
stored in the same Delta commit as the rows (commit metadata), so it never runs ahead of them."""

from __future__ import annotations

import hashlib
from typing import Any

import pyarrow as pa

from c360 import catalog
from c360.lake.bronze.reconcile import reconcile
from c360.lake.bronze.records import validate
from c360.lake.quarantine import quarantine
from c360.ops.audit import StageRecord, now
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
    spec = catalog.get(table_id)
    wm = None if full_refresh else lake.last_metadata(table_id, WATERMARK_KEY)
    since = (wm["value"], wm["key"]) if wm else None
    expected: dict[str, tuple[str, int]] = {}
    for rows in crm.read_since(source_table, wm_col, pk, since, ctx.settings.crm.batch_rows):
        first = rows[0]
        batch = hashlib.sha256(f"{source_table}@{first[wm_col]}/{first[pk]}".encode()).hexdigest()[:16]
        good, bad = validate([(f"{source_table}:{r[pk]}", r) for r in rows], spec, source_table)
        quarantine(lake, bad, run_id=run_id, batch_id=batch, stage=rec.stage, table_id=table_id)
        n = len(good.pop("__locator"))
        good.update(_source=["crm"] * n, _source_file=[source_table] * n, _ingested_at=[now()] * n,
                    _batch_id=[batch] * n, _run_id=[run_id] * n)
        last = rows[-1]
        # Bronze keeps the latest version per key; silver's SCD2 (issue 5) keeps the history.
        lake.merge(table_id, pa.table(good),
                   metadata={WATERMARK_KEY: {"value": last[wm_col], "key": last[pk]}})
        expected[batch] = (f"crm:{source_table}", len(rows))
        rec.rows_in += len(rows)
        rec.rows_out += n
        rec.rows_quarantined += len(bad)
    rec.details["watermark"] = lake.last_metadata(table_id, WATERMARK_KEY)
    # Keyset pagination reads each key once per run, so every batch's rows still carry its id.
    rec.details["reconciliation"] = reconcile(lake, table_id, expected)
    rec.dq_score = round(rec.rows_out / rec.rows_in, 6) if rec.rows_in else 1.0
