"""Serving: gold tables in a database BI tools and the API read (PostgreSQL, or a local DuckDB
file by default). ``load`` copies and merges them (``c360 serve load``)."""
