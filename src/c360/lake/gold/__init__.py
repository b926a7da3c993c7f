"""Gold: business-level tables. One ``<table>.sql`` model per table, except the tables an analytics
module fits a model for (their spec says ``built_by="analytics"``)."""

# Build order: a table starts once the tables it reads are built, the first ready one in this
# order first: the fact table everything reads, then the slow ones (recommendations, the golden
# record, CLV, churn) so that the build threads finish together.
GOLD_TABLES = (
    "gold.fact_sales", "gold.dim_customer", "gold.recommendations", "gold.customer_clv", "gold.churn_risk",
    "gold.sentiment", "gold.customer_rfm", "gold.dim_product", "gold.dim_store", "gold.dim_salesperson",
    "gold.dim_date", "gold.cx_summary", "gold.cx_daily", "gold.sales_team_monthly", "gold.daily_report",
    "gold.monthly_report", "gold.coupon_offers", "gold.customer_360",
)
