"""Standardisation rules as SQL expressions: each rule lives once and every model uses it.

Models call them as ``{{ rule(column) }}``; ``expand`` substitutes the expression before the
model runs (so they transpile to Spark like any other SQL). Written in the subset DuckDB and
Spark share.
"""

from __future__ import annotations

import re
from collections.abc import Callable

RULES: dict[str, Callable[[str], str]] = {
    # "  jOHN " -> "John" (DuckDB has no initcap; this is portable)
    "proper_name": lambda c: f"upper(substr(trim({c}), 1, 1)) || lower(substr(trim({c}), 2))",
    # " A.B@X.COM " -> "a.b@x.com"; empty -> NULL
    "clean_email": lambda c: f"nullif(lower(trim({c})), '')",
    # a syntactically valid address (after clean_email); NULL counts as not valid
    "email_is_valid": lambda c: (
        f"coalesce(regexp_matches({c}, '^[a-z0-9._%+-]+@[a-z0-9.-]+\\.[a-z]{{2,}}$'), false)"),
    # "+44 1234-567" -> "+441234567"; E.164 with phonenumbers arrives with issue 5
    "clean_phone": lambda c: f"nullif(regexp_replace({c}, '[^0-9+]', '', 'g'), '')",
    # country codes upper case, trimmed
    "clean_code": lambda c: f"upper(trim({c}))",
    # timestamps as sources write them: ISO 'YYYY-MM-DD HH:MM:SS', ISO-8601 'YYYY-MM-DDTHH:MM:SSZ',
    # or day-first 'DD/MM/YYYY[ HH:MM]'; anything else is NULL. Built from substr/replace only,
    # because DuckDB's try_strptime has no Spark twin that sqlglot can transpile.
    "parse_ts": lambda c: (
        f"coalesce(TRY_CAST(replace(replace(trim({c}), 'T', ' '), 'Z', '') AS TIMESTAMP), "
        f"CASE WHEN trim({c}) LIKE '__/__/____%' THEN TRY_CAST(substr(trim({c}), 7, 4) || '-' || "
        f"substr(trim({c}), 4, 2) || '-' || substr(trim({c}), 1, 2) || ' ' || "
        f"coalesce(nullif(substr(trim({c}), 12, 5), ''), '00:00') || ':00' AS TIMESTAMP) END)"),
}

_CALL = re.compile(r"\{\{\s*(\w+)\(\s*([\w.]+)\s*\)\s*\}\}")


def expand(sql: str) -> str:
    """Replace every ``{{ rule(column) }}`` in ``sql``; an unknown rule is an error."""

    def sub(m: re.Match[str]) -> str:
        name, col = m.group(1), m.group(2)
        if name not in RULES:
            raise KeyError(f"unknown rule {name!r} in a model; known: {', '.join(RULES)}")
        return f"({RULES[name](col)})"

    return _CALL.sub(sub, sql)
