"""Silver: cleaned, standardised, deduplicated tables. One ``<table>.sql`` model per table."""

SILVER_TABLES = ("silver.customers_history", "silver.customers", "silver.orders", "silver.feedback",
                 "silver.partner_profiles", "silver.web_events", "silver.identity_map")
