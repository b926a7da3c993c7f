"""Gold: business-level tables. One ``<table>.sql`` model per table."""

GOLD_TABLES = ("gold.customer_360",)
