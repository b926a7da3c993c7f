"""Governance: who sees what of the lake. The catalog tags every column (public, pii.direct,
pii.quasi, sensitive); ``governance.roles`` says per role what each tag shows (clear, masked,
hashed, hidden) and which rows. ``policy`` compiles that into one view per role and gold table,
``query`` runs SQL as a role in a locked sandbox, ``export`` writes the views for DuckDB and
Spark/Databricks, and ``scanner`` finds personal data the catalog does not tag yet."""

from c360.governance.policy import role_views
from c360.governance.query import query_as_role
from c360.governance.scanner import scan

__all__ = ["query_as_role", "role_views", "scan"]
