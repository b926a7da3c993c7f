"""The governance policies enforced inside PostgreSQL, so that a BI tool connecting as a member of
``c360_<role>`` sees only what that c360 role may see (governance/policy.py):

- a group role ``c360_<role>`` (NOLOGIN: grant it to login users, ``GRANT c360_analyst TO bob``);
- per c360 role, its views in schema ``c360_<role>``, owned by ``c360_owner_<role>``, a NOLOGIN
  non-superuser that alone may read the base tables — so a view runs with its owner's rights
  and the group role gets the views, never the base tables in schema ``c360``;
- row filters as row-level security on the base tables: a policy per owner role, so each role's
  views return only its rows, whatever the query;
- hashes by ``c360.c360_hash(text)``, a SECURITY DEFINER function reading the salt from
  ``c360_private.salt`` (function text is public in pg_proc; the salt is not in it); a view's
  function calls are checked against its caller, so the group roles may execute it, but without
  USAGE on schema ``c360`` they cannot call it outside their views;
- nothing in ``c360`` or ``c360_private`` is granted to PUBLIC.

Applied by ``c360 serve load`` after the tables are loaded; PostgreSQL only (the embedded DuckDB
file is read through ``c360 query``'s sandbox instead).
"""

from __future__ import annotations

import sqlglot
from sqlglot import exp

from c360 import catalog
from c360.catalog import TableSpec
from c360.config import RoleConfig, Settings
from c360.engine.base import ident, literal
from c360.governance.keys import hash_salt
from c360.governance.masking import SALT_FUNCTION
from c360.governance.policy import ColumnPolicy, columns, role, row_filter_sql, select_list

SCHEMA = "c360"
PRIVATE = "c360_private"


def _to_postgres(select: str) -> str:
    """A view's SELECT (DuckDB SQL) in PostgreSQL: salted hashes become ``c360.c360_hash``,
    ``make_date`` stays ``make_date`` (sqlglot would write DATE_FROM_PARTS)."""
    tree = sqlglot.parse_one(select, read="duckdb")

    def swap(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.SHA2) and isinstance(node.this, exp.DPipe) \
                and isinstance(node.this.this, exp.Anonymous) and node.this.this.name.lower() == SALT_FUNCTION:
            return exp.Anonymous(this="C360_HASH", expressions=[node.this.expression])
        if isinstance(node, exp.DateFromParts):
            # EXTRACT gives numeric in PostgreSQL; make_date takes integers
            return exp.Anonymous(this="MAKE_DATE", expressions=[exp.cast(node.args[k], "INT")
                                                                 for k in ("year", "month", "day")])
        return node

    sql = tree.transform(swap).sql(dialect="postgres")
    return sql.replace("C360_HASH(", f"{SCHEMA}.c360_hash(")


def served_policy(r: RoleConfig, spec: TableSpec, served: dict[str, str]) -> tuple[list[ColumnPolicy], str] | None:
    """What role ``r`` sees of served table ``spec``: its columns and row filter (over alias ``t``,
    "" = every row) on the served tables of schema ``c360`` (``served``: table id -> served name;
    persons are filtered through customer360_golden), or None when it may see nothing — no
    column, or a filter through a person table that is not served (fail closed). Both serving
    databases build their views from this."""
    def base(s: TableSpec) -> str:
        name = served.get(s.id) or served.get("gold.customer_360")
        return f"{SCHEMA}.{ident(name or s.name)}"

    where = row_filter_sql(r, spec, base)
    if where and "person_id IN" in where and "gold.customer_360" not in served:
        where = None
    cols = columns(r, spec)
    if where is None or not cols:
        return None
    return cols, where


def statements(settings: Settings, served: dict[str, str]) -> list[str]:
    """Every statement that (re)applies the policies over the served tables (``served``: gold
    table id -> served name), idempotently."""
    salt = hash_salt(settings)
    out = [
        f"CREATE SCHEMA IF NOT EXISTS {PRIVATE}",
        f"REVOKE ALL ON SCHEMA {SCHEMA}, {PRIVATE} FROM PUBLIC",
        f"CREATE TABLE IF NOT EXISTS {PRIVATE}.salt (salt text NOT NULL)",
        f"REVOKE ALL ON {PRIVATE}.salt FROM PUBLIC",
        f"DELETE FROM {PRIVATE}.salt",
        f"INSERT INTO {PRIVATE}.salt VALUES ({literal(salt)})",
        f"CREATE OR REPLACE FUNCTION {SCHEMA}.c360_hash(v text) RETURNS text LANGUAGE sql STABLE "
        f"SECURITY DEFINER SET search_path = pg_catalog AS $$ SELECT encode(sha256(convert_to((SELECT salt FROM "
        f"{PRIVATE}.salt LIMIT 1) || v, 'UTF8')), 'hex') $$",
        f"REVOKE ALL ON FUNCTION {SCHEMA}.c360_hash(text) FROM PUBLIC",
    ]
    for name in sorted(settings.governance.roles):
        r = role(settings, name)
        group, owner, schema = f"c360_{name}", f"c360_owner_{name}", f"c360_{name}"
        out += [_create_role(group), _create_role(owner), f"CREATE SCHEMA IF NOT EXISTS {ident(schema)}",
                f"GRANT USAGE ON SCHEMA {SCHEMA} TO {ident(owner)}",
                f"GRANT EXECUTE ON FUNCTION {SCHEMA}.c360_hash(text) TO {ident(owner)}",
                f"GRANT USAGE ON SCHEMA {ident(schema)} TO {ident(group)}",
                # a function a view calls is checked against the caller, not the view's owner; the
                # caller still cannot call it directly (no USAGE on schema c360)
                f"GRANT EXECUTE ON FUNCTION {SCHEMA}.c360_hash(text) TO {ident(group)}",
                f"ALTER SCHEMA {ident(schema)} OWNER TO {ident(owner)}"]
        for table_id, served_name in served.items():
            spec = catalog.get(table_id)
            target = f"{SCHEMA}.{ident(served_name)}"
            view = f"{ident(schema)}.{ident(served_name)}"
            policy = served_policy(r, spec, served)
            out.append(f"DROP VIEW IF EXISTS {view}")
            if policy is None:
                continue
            cols, where = policy
            select = select_list(cols)
            out += [f"GRANT SELECT ON {target} TO {ident(owner)}",
                    f"ALTER TABLE {target} ENABLE ROW LEVEL SECURITY",
                    f"DROP POLICY IF EXISTS {ident(f'c360_{name}')} ON {target}",
                    f"CREATE POLICY {ident(f'c360_{name}')} ON {target} FOR SELECT TO {ident(owner)} "
                    f"USING ({_condition(where)})",
                    f"CREATE VIEW {view} AS {_to_postgres(f'SELECT {select} FROM {target} AS t')}",
                    f"ALTER VIEW {view} OWNER TO {ident(owner)}",
                    f"GRANT SELECT ON {view} TO {ident(group)}"]
    return out


def _condition(where: str) -> str:
    """A row filter (written over alias ``t``) as an RLS condition on the table itself."""
    if not where:
        return "true"
    cond = sqlglot.parse_one(f"SELECT 1 FROM x AS t WHERE {where}", read="duckdb").args["where"].this

    def unqualify(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Column) and node.table == "t":
            return exp.column(node.name, quoted=True)
        return node

    return cond.transform(unqualify).sql(dialect="postgres")


def _create_role(name: str) -> str:
    return (f"DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = {literal(name)}) THEN "
            f"CREATE ROLE {ident(name)} NOLOGIN; END IF; END $$")


def apply(settings: Settings, con: object, served: dict[str, str]) -> int:
    """Run ``statements`` on a PostgreSQL connection in one transaction; returns how many ran."""
    stmts = statements(settings, served)
    with con.transaction():  # type: ignore[attr-defined]
        for s in stmts:
            con.execute(s)  # type: ignore[attr-defined]
    return len(stmts)

