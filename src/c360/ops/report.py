"""The summary report printed after a demo: KPIs, top customers, segments, quarantine by rule."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from c360 import catalog
from c360.analytics.questions import ask
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
               coalesce(sum(total_spend) / nullif(sum(order_count), 0), 0) AS aov,
               coalesce(avg(predicted_clv), 0) AS avg_clv
        FROM gold_customer_360""").to_pylist()[0]
    segments = eng.sql("""
        SELECT segment, count(*) AS n, round(avg(predicted_clv), 2) AS avg_clv FROM gold_customer_360
        WHERE segment IS NOT NULL GROUP BY segment ORDER BY n DESC, segment""").to_pylist()
    top = ask(lake, "top_customers_by_spend").to_pylist()[:5] if lake.exists("gold.customer_360") else []
    quarantined = eng.sql("""
        SELECT table_id, rule, count(*) AS n FROM ops_quarantine
        GROUP BY ALL ORDER BY n DESC, table_id, rule""").to_pylist()
    eng.close()
    return {"kpi": kpi, "top_customers": top, "segments": segments, "quarantine": quarantined}


def print_summary(console: Console, settings: Any) -> None:
    s = summary(settings)
    k = s["kpi"]
    t = Table(title="customer 360 — key figures")
    for col in ("customers", "buyers", "orders", "revenue", "avg order value", "avg 12-month CLV"):
        t.add_column(col, justify="right")
    t.add_row(f"{k['customers']:,}", f"{k['buyers']:,}", f"{k['orders']:,}", f"{k['revenue']:,.2f}",
              f"{k['aov']:,.2f}", f"{k['avg_clv']:,.2f}")
    console.print(t)
    t = Table(title="top customers by net spend")
    for col in ("person", "name", "country", "orders", "net spend", "segment"):
        t.add_column(col)
    for r in s["top_customers"]:
        name = " ".join(x for x in (r["first_name"], r["last_name"]) if x)
        t.add_row(r["person_id"], name, r["country"] or "", str(r["order_count"]), f"{r['net_spend']:,.2f}",
                  r["segment"] or "")
    console.print(t)
    t = Table(title="RFM segments")
    for col in ("segment", "customers", "avg 12-month CLV"):
        t.add_column(col)
    for r in s["segments"]:
        t.add_row(r["segment"], f"{r['n']:,}", f"{r['avg_clv'] or 0:,.2f}")
    console.print(t)
    t = Table(title="quarantined records by rule")
    for col in ("table", "rule", "records"):
        t.add_column(col)
    for r in s["quarantine"]:
        t.add_row(r["table_id"], r["rule"], f"{r['n']:,}")
    console.print(t)
