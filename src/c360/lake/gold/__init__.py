"""Gold: business-level tables. One ``<table>.sql`` model per table, except the tables an analytics
module fits a model for (their spec says ``built_by="analytics"``)."""

from __future__ import annotations

from datetime import date
from typing import Any

# Build order: a table starts once the tables it reads are built, the first ready one in this
# order first: the fact tables everything reads, then the slow ones (the golden record and web
# engagement, which need only silver and so run beside fact_sales; the per-buyer purchases,
# recommendations, CLV, churn)
# and customer_360, which waits for all of them, so that it starts as soon as it can; the quick
# marts and reports fill the other build thread meanwhile.
GOLD_TABLES = (
    "gold.fact_sales", "gold.fact_orders", "gold.dim_customer", "gold.dim_product", "gold.customer_engagement",
    "gold.customer_purchases", "gold.recommendations", "gold.customer_clv",
    "gold.churn_risk", "gold.sentiment", "gold.customer_rfm", "gold.customer_360",
    "gold.coupon_offers", "gold.dim_store", "gold.dim_salesperson", "gold.dim_date", "gold.cx_summary",
    "gold.cx_daily", "gold.sales_team_monthly", "gold.product_sales", "gold.daily_report", "gold.monthly_report",
)


def last_order_day(engine: Any) -> date | None:
    """The as-of day of gold's analytics: the last order day in gold.fact_orders (registered on
    ``engine``), not today, so a re-run on the same data gives the same gold; None without sales.
    The SQL models (RFM, customer_360) compute the same day inline."""
    return engine.sql("SELECT max(order_date) AS d FROM gold_fact_orders").column("d")[0].as_py()
