"""The summary report printed after a demo: KPIs, top customers, quarantine by rule."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from c360 import catalog
from c360.engine.base import LakeTableRef
from c360.engine.duckdb import DuckDBEngine
from c360.lake.store import lake_from_settings


def summary(settings: Any) -> dict[str, Any]:
    """KPIs and lists from gold and ops tables (computed by DuckDB over the Delta tables)."""
    lake = lake_from_settings(settings)
    eng = DuckDBEngine()
    for tid in ("gold.customer_360", "ops.quarantine"):
        spec = catalog.get(tid)
        eng.register(spec.sql_name, LakeTableRef(lake.uri(tid), lake.storage_options) if lake.exists(tid)
                     else spec.schema().empty_table())
    kpi = eng.sql("""
        SELECT count(*) AS customers,
               count(*) FILTER (WHERE order_count > 0) AS buyers,
               coalesce(sum(total_spend), 0) AS revenue,
               coalesce(sum(order_count), 0) AS orders,
               coalesce(sum(total_spend) / nullif(sum(order_count), 0), 0) AS aov
        FROM gold_customer_360""").to_pylist()[0]
    top = eng.sql("""
        SELECT customer_id, first_name || ' ' || last_name AS name, country, order_count, total_spend
        FROM gold_customer_360 ORDER BY total_spend DESC, customer_id LIMIT 5""").to_pylist()
    quarantined = eng.sql("""
        SELECT table_id, rule, count(*) AS n FROM ops_quarantine
        GROUP BY ALL ORDER BY n DESC, table_id, rule""").to_pylist()
    eng.close()
    return {"kpi": kpi, "top_customers": top, "quarantine": quarantined}


def print_summary(console: Console, settings: Any) -> None:
    s = summary(settings)
    k = s["kpi"]
    t = Table(title="customer 360 — key figures")
    for col in ("customers", "buyers", "orders", "revenue", "avg order value"):
        t.add_column(col, justify="right")
    t.add_row(f"{k['customers']:,}", f"{k['buyers']:,}", f"{k['orders']:,}", f"{k['revenue']:,.2f}",
              f"{k['aov']:,.2f}")
    console.print(t)
    t = Table(title="top customers by spend")
    for col in ("customer", "name", "country", "orders", "spend"):
        t.add_column(col)
    for r in s["top_customers"]:
        t.add_row(str(r["customer_id"]), r["name"] or "", r["country"] or "", str(r["order_count"]),
                  f"{r['total_spend']:,.2f}")
    console.print(t)
    t = Table(title="quarantined records by rule")
    for col in ("table", "rule", "records"):
        t.add_column(col)
    for r in s["quarantine"]:
        t.add_row(r["table_id"], r["rule"], f"{r['n']:,}")
    console.print(t)
