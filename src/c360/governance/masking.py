"""What a masking rule does to one column, as a SQL expression (DuckDB dialect; sqlglot
transpiles it for Spark). Masks keep a value recognisable to a person who already knows it
(``j***@example.com``, ``***1234``) without disclosing it; hashes are salted SHA-256 of the text,
so two tables' hashed emails still join, but the value cannot be looked up without the salt.

Which mask a column gets follows its meaning, from its name and type: e-mail addresses keep the
first letter and the domain, phones their last four digits, names their initial, postcodes their
first two characters (the region), dates their year; any other text is replaced by ``***`` and
numbers or flags by NULL.
"""

from __future__ import annotations

from typing import Literal

from c360.catalog import Column

MaskKind = Literal["email", "phone", "initial", "prefix2", "year", "redact", "null"]

# The salt is a function call in the generated SQL, defined per engine (a DuckDB macro in the
# governor connection, a secret() lookup on Databricks): view text never holds the salt itself.
SALT_FUNCTION = "c360_salt"


def mask_kind(col: Column) -> MaskKind:
    """How ``col`` is masked (module doc)."""
    name = col.name.lower()
    if col.type in ("date", "timestamp"):
        return "year"
    if col.type != "string":
        return "null"
    if "email" in name:
        return "email"
    if "phone" in name:
        return "phone"
    if name in ("first_name", "last_name", "name", "full_name") or name.endswith("_name"):
        return "initial"
    if "postcode" in name or "zip" in name or "postal" in name:
        return "prefix2"
    return "redact"


def masked_sql(col: Column, ref: str) -> str:
    """The masked value of ``ref`` (a quoted column reference) for ``col``; NULL stays NULL."""
    kind = mask_kind(col)
    if kind == "email":
        # CASE, not a regex: DuckDB (RE2) and Spark (Java) write back-references differently
        return (f"CASE WHEN {ref} IS NULL THEN NULL WHEN strpos({ref}, '@') > 1 THEN "
                f"left({ref}, 1) || '***' || substr({ref}, strpos({ref}, '@')) ELSE '***' END")
    if kind == "phone":
        return f"CASE WHEN {ref} IS NULL THEN NULL WHEN length({ref}) > 4 THEN '***' || right({ref}, 4) ELSE '***' END"
    if kind == "initial":
        return f"CASE WHEN {ref} IS NULL THEN NULL WHEN length({ref}) > 0 THEN left({ref}, 1) || '***' ELSE '***' END"
    if kind == "prefix2":
        return f"CASE WHEN {ref} IS NULL THEN NULL WHEN length({ref}) > 2 THEN left({ref}, 2) || '***' ELSE '***' END"
    if kind == "year":
        cast = "DATE" if col.type == "date" else "TIMESTAMP"
        return f"CAST(make_date(year({ref}), 1, 1) AS {cast})"
    if kind == "redact":
        return f"CASE WHEN {ref} IS NULL THEN NULL ELSE '***' END"
    return f"CAST(NULL AS {_SQL_TYPES[col.type]})"


def hashed_sql(col: Column, ref: str) -> str:
    """Salted SHA-256 (hex) of the value's text; NULL stays NULL (concatenating NULL gives NULL)."""
    return f"sha256({SALT_FUNCTION}() || CAST({ref} AS VARCHAR))"


_SQL_TYPES = {"string": "VARCHAR", "int64": "BIGINT", "int32": "INTEGER", "float64": "DOUBLE", "bool": "BOOLEAN",
              "date": "DATE", "timestamp": "TIMESTAMP"}
