"""Silver: cleaned, standardised, deduplicated tables. One ``<table>.sql`` model per table."""

# Build order: a table starts once the tables it reads are built, the first ready one in this
# order first. The slow ones lead (orders, the customer history's first-time phone parsing, web
# events), so that the two build threads finish together instead of one queueing the tail.
SILVER_TABLES = ("silver.orders", "silver.customers_history", "silver.web_events", "silver.customers",
                 "silver.partner_profiles", "silver.feedback", "silver.surveys", "silver.returns", "silver.products",
                 "silver.stores", "silver.salespeople", "silver.identity_map")
