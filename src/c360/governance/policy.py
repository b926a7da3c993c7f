"""Policies: what one role sees of one gold table, from the catalog's column classifications and
the role's rules in config (``governance.roles``), and the SQL of the view that shows exactly that.

A view is ``SELECT <each column as the role may see it> FROM <base> [WHERE <row filter>]``,
written in DuckDB SQL and transpiled for Spark, so both engines enforce the same policy:

- a column encrypted at rest: decrypted by ``c360_decrypt`` for a role with ``decrypt``, left out
  for any other (the keys stay in the engine that runs the view, never in its rows or text);
- ``clear``: the column as is; ``masked`` / ``hashed``: governance/masking.py; ``hidden`` (and any
  classification the role does not name): the column is left out of the view.
- row filter ``{column, values}``: on the table's own column when it has it, else through the
  person's row in gold.dim_customer when the table has ``person_id``; a person-level table that
  can be filtered neither way is not shown to the role at all (fail closed), and a table without
  person-level rows (a product dimension, a daily report) is shown whole.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from c360 import catalog
from c360.catalog import Column, TableSpec
from c360.config import RoleConfig, Rule, Settings
from c360.engine.base import ident, literal
from c360.errors import C360Error
from c360.governance.crypto import DECRYPT_FUNCTION
from c360.governance.masking import hashed_sql, masked_sql

PERSON_TABLE = "gold.dim_customer"


@dataclass(frozen=True)
class ColumnPolicy:
    """One column of a view: its rule and the SQL that computes it."""

    column: Column
    rule: Rule
    sql: str


def role(settings: Settings, name: str) -> RoleConfig:
    """The role called ``name``; a clear error naming the known ones otherwise."""
    roles = settings.governance.roles
    if name not in roles:
        raise C360Error(f"unknown role {name!r}", where="governance.roles",
                        fix=f"use one of {', '.join(sorted(roles))} or add it to governance.roles")
    return roles[name]


def rule_for(r: RoleConfig, col: Column) -> Rule:
    """The rule of ``col`` for role ``r``: public is clear, an unnamed classification hidden."""
    if col.pii == "public":
        return "clear"
    return r.rules.get(col.pii, "hidden")


def columns(r: RoleConfig, spec: TableSpec) -> list[ColumnPolicy]:
    """The columns role ``r`` sees of ``spec``, in catalog order (hidden ones left out). A column
    encrypted at rest is decrypted first (``c360_decrypt``, an engine function holding the keys)
    for a role that may decrypt, and left out for any other."""
    out = []
    for col in spec.columns:
        rule = rule_for(r, col)
        ref = f"t.{ident(col.name)}"
        if col.encrypted:
            if not r.decrypt:
                continue
            ref = f"{DECRYPT_FUNCTION}({ref}, {literal(f'{spec.id}.{col.name}')})"
        if rule == "hidden":
            continue
        expr = ref if rule == "clear" else masked_sql(col, ref) if rule == "masked" else hashed_sql(col, ref)
        out.append(ColumnPolicy(col, rule, expr))
    return out


def row_filter_sql(r: RoleConfig, spec: TableSpec, base: Callable[[TableSpec], str]) -> str | None:
    """The WHERE condition of role ``r`` on ``spec`` ("" = every row); None = the role may not
    see the table at all (module doc). ``base`` names a table in the target engine."""
    f = r.row_filter
    if f is None:
        return ""
    values = ", ".join(literal(v) for v in f.values)
    names = {c.name for c in spec.columns}
    if f.column in names:
        return f"t.{ident(f.column)} IN ({values})"
    person = catalog.get(PERSON_TABLE)
    if "person_id" in names and f.column in {c.name for c in person.columns}:
        return (f"t.person_id IN (SELECT p.person_id FROM {base(person)} AS p "
                f"WHERE p.{ident(f.column)} IN ({values}))")
    if "person_id" in names:
        return None
    return ""


def select_list(cols: list[ColumnPolicy], sep: str = ", ") -> str:
    """The SELECT list of a view: each column as the role sees it, under its own name."""
    return sep.join(f"{c.sql} AS {ident(c.column.name)}" for c in cols)


def view_sql(r: RoleConfig, spec: TableSpec, base: Callable[[TableSpec], str]) -> str | None:
    """The SELECT of role ``r``'s view of ``spec`` (DuckDB SQL), or None when it may not see it."""
    where = row_filter_sql(r, spec, base)
    cols = columns(r, spec)
    if where is None or not cols:
        return None
    sep = ",\n    "
    sql = f"SELECT\n    {select_list(cols, sep)}\nFROM {base(spec)} AS t"
    return f"{sql}\nWHERE {where}" if where else sql


def role_views(settings: Settings, name: str, base: Callable[[TableSpec], str] | None = None) -> dict[str, str]:
    """Every gold table role ``name`` may see -> its view's SELECT (DuckDB SQL). ``base`` names
    the tables the views read (default: their SQL names, ``gold_customer_360``)."""
    r = role(settings, name)
    namer = base or (lambda s: s.sql_name)
    out = {}
    for spec in catalog.tables("gold"):
        sql = view_sql(r, spec, namer)
        if sql is not None:
            out[spec.name] = sql
    return out
