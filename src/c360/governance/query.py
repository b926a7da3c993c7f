"""SQL as a role (``c360 query --role ROLE "SQL"``): the query can reach that role's views and
nothing else.

Two connections, so that nothing the query can name holds more than the role may see:

1. the *governor* (a DuckDB engine over the lake) creates the role's views (governance/policy.py)
   in a schema named after the role and computes the ones the query uses;
2. the *sandbox*, a fresh DuckDB connection, receives only those computed rows, as tables named
   like the gold tables (``customer_360``, also ``gold.customer_360`` and ``<role>.customer_360``);
   then its file access, Python-variable scans and configuration are locked, and the query runs
   there. A query naming anything else, calling a table function, or not being a single SELECT
   is refused before it runs, with the tables the role may read; the lock is the second wall.
"""

from __future__ import annotations

import duckdb
import pyarrow as pa
import sqlglot
from sqlglot import exp

from c360 import catalog
from c360.config import Settings
from c360.engine.base import literal
from c360.engine.duckdb import DuckDBEngine
from c360.engine.models import register_table
from c360.errors import C360Error
from c360.governance.crypto import DECRYPT_FUNCTION
from c360.governance.keys import hash_salt
from c360.governance.masking import SALT_FUNCTION
from c360.governance.policy import PERSON_TABLE, role_views
from c360.lake.store import Lake

_LOCKDOWN = ("SET python_enable_replacements = false", "SET enable_external_access = false",
             "SET lock_configuration = true")


def referenced_tables(sql: str, role_name: str, allowed: set[str]) -> set[str]:
    """The gold tables a single SELECT reads (names without schema), after checking it reads
    only ``allowed`` tables; a C360Error says what is refused otherwise."""
    where = f"query as {role_name}"
    fix = f"query {role_name}'s tables: {', '.join(sorted(allowed))}"
    try:
        statements = [s for s in sqlglot.parse(sql, read="duckdb") if s is not None]
    except sqlglot.errors.ParseError as e:
        raise C360Error(f"the query is not valid SQL: {str(e).splitlines()[0]}", where=where) from None
    if len(statements) != 1 or not isinstance(statements[0], exp.Query):
        raise C360Error("only a single SELECT query is allowed", where=where, fix=fix)
    tree = statements[0]
    ctes = {c.alias_or_name for c in tree.find_all(exp.CTE)}
    used = set()
    for t in tree.find_all(exp.Table):
        if not isinstance(t.this, exp.Identifier):
            raise C360Error(f"table functions are not allowed ({t.this.sql('duckdb')[:60]})", where=where, fix=fix)
        if not t.db and not t.catalog and t.name in ctes:
            continue
        if t.catalog or (t.db and t.db not in ("gold", role_name)) or t.name not in allowed:
            name = ".".join(p for p in (t.catalog, t.db, t.name) if p)
            raise C360Error(f"role {role_name} cannot read {name}", where=where, fix=fix)
        used.add(t.name)
    return used


class Governor:
    """A role's views over the lake (the governor connection of the module doc)."""

    def __init__(self, settings: Settings, lake: Lake, role_name: str) -> None:
        self.role = role_name
        self.views = role_views(settings, role_name)
        self.engine = DuckDBEngine()
        self._salt(hash_salt(settings))
        if lake.keyring is not None and settings.governance.roles[role_name].decrypt:
            self.engine.register_function(DECRYPT_FUNCTION, lake.keyring.sql_function(), 2, "string")
        self.lake = lake
        self._registered: set[str] = set()
        self.engine.con.execute(f'CREATE SCHEMA "{role_name}"')

    def _salt(self, salt: str) -> None:
        # a macro returning a literal: prepared parameters are not allowed in a macro body
        self.engine.con.execute(f"CREATE MACRO {SALT_FUNCTION}() AS {literal(salt)}")

    def view(self, name: str) -> pa.Table:
        """The rows of the role's view of gold table ``name``."""
        spec = catalog.get(f"gold.{name}")
        for table_id in (spec.id, PERSON_TABLE):
            if table_id not in self._registered:
                register_table(self.engine, self.lake, table_id, decrypt=False)  # the views decrypt
                self._registered.add(table_id)
        self.engine.con.execute(f'CREATE OR REPLACE VIEW "{self.role}"."{name}" AS {self.views[name]}')
        return self.engine.con.sql(f'SELECT * FROM "{self.role}"."{name}"').arrow().read_all()

    def close(self) -> None:
        self.engine.close()


def query_as_role(settings: Settings, lake: Lake, role_name: str, sql: str) -> pa.Table:
    """Run ``sql`` as ``role_name`` (module doc) and return its result."""
    gov = Governor(settings, lake, role_name)
    try:
        used = referenced_tables(sql, role_name, set(gov.views))
        data = {name: gov.view(name) for name in sorted(used)}
    finally:
        gov.close()
    con = sandbox(role_name, data)
    del data
    try:
        return con.sql(sql).arrow().read_all()
    except duckdb.Error as e:
        raise C360Error(f"query failed: {str(e).splitlines()[0]}", where=f"query as {role_name}") from None
    finally:
        con.close()


def sandbox(role_name: str, data: dict[str, pa.Table]) -> duckdb.DuckDBPyConnection:
    """A fresh connection holding only ``data`` (view rows by gold table name), locked: no file
    or network access, no scans of Python variables, no configuration changes."""
    con = duckdb.connect(":memory:")
    con.execute("SET TimeZone = 'UTC'")
    con.execute("CREATE SCHEMA gold")
    con.execute(f'CREATE SCHEMA "{role_name}"')
    for name, rows in data.items():
        con.register("c360_incoming", rows)
        con.execute(f'CREATE TABLE gold."{name}" AS SELECT * FROM c360_incoming')
        con.unregister("c360_incoming")
        con.execute(f'CREATE VIEW main."{name}" AS SELECT * FROM gold."{name}"')
        con.execute(f'CREATE VIEW "{role_name}"."{name}" AS SELECT * FROM gold."{name}"')
    for statement in _LOCKDOWN:
        con.execute(statement)
    return con
