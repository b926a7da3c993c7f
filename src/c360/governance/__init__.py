"""Governance: who sees what of the lake. The catalog tags every column (public, pii.direct,
pii.quasi, sensitive); ``governance.roles`` says per role what each tag shows (clear, masked,
hashed, hidden) and which rows. ``policy`` compiles that into one view per role and gold table,
``query`` runs SQL as a role in a locked sandbox, ``export`` writes the views for DuckDB and
Spark/Databricks, ``scanner`` finds personal data the catalog does not tag yet, and ``crypto``
encrypts marked columns at rest. (Nothing is imported here: the lake imports ``crypto``.)"""
