"""Record validation for bronze: coerce raw values to the declared column types, or reject
the record naming the column and the rule it broke."""

from __future__ import annotations

import json
from typing import Any

from c360.catalog import TableSpec
from c360.lake.quarantine import Rejected


def _coerce(value: Any, typ: str) -> Any:
    """The value in ``typ``; raises ValueError/TypeError when it cannot be."""
    if value is None or value == "":
        return None
    if typ == "string":  # a nested value is kept as its JSON text (as Spark's from_json does)
        return json.dumps(value) if isinstance(value, (dict, list)) else str(value)
    if typ == "int64":  # integral numbers only, never rounded: 7, "7", 2.0, 1e3 yes; 1.5 no
        if isinstance(value, (bool, dict, list)):
            raise TypeError(f"expected an integer, got {value!r}")
        text = value.strip() if isinstance(value, str) else value
        if not float(text).is_integer():
            raise ValueError(f"expected an integer, got {value}")
        try:
            return int(text)
        except ValueError:
            return int(float(text))
    if typ == "float64":
        if isinstance(value, bool):
            raise TypeError("expected a number, got a boolean")
        return float(value)
    if typ == "bool":
        if isinstance(value, bool):
            return value
        s = str(value).strip().lower()
        if s in ("true", "1", "yes", "y", "t"):
            return True
        if s in ("false", "0", "no", "n", "f"):
            return False
        raise ValueError(f"expected a boolean, got {value!r}")
    raise TypeError(f"bronze does not coerce type {typ}")


def source_columns(spec: TableSpec) -> list[tuple[str, str]]:
    """(name, type) of the columns a source provides (not the lineage ``_`` columns)."""
    return [(c.name, c.type) for c in spec.columns if not c.name.startswith("_")]


def validate(records: list[tuple[str, Any]], spec: TableSpec, source: str,
             ) -> tuple[dict[str, list[Any]], list[Rejected]]:
    """Split (locator, parsed record) pairs into good columns and rejected records.

    A record is rejected when it is not an object, lacks a primary-key value, or has a value
    that does not fit its column's type.
    """
    cols = source_columns(spec)
    good: dict[str, list[Any]] = {name: [] for name, _ in cols}
    good["__locator"] = []
    bad: list[Rejected] = []
    for locator, rec in records:
        raw = rec if isinstance(rec, str) else None
        if not isinstance(rec, dict):
            bad.append(Rejected(source, locator, "record_is_object", "record is not a JSON/XML object",
                                raw or repr(rec)))
            continue
        row: dict[str, Any] = {}
        try:
            for name, typ in cols:
                try:
                    row[name] = _coerce(rec.get(name), typ)
                except (ValueError, TypeError) as e:
                    raise ValueError(f"type:{name}", f"column {name}: {e}") from None
            missing = [k for k in spec.primary_key if row.get(k) is None]
            if missing:
                raise ValueError("primary_key_present", f"missing primary key value(s): {', '.join(missing)}")
        except ValueError as e:
            rule, reason = e.args
            bad.append(Rejected(source, locator, rule, reason, _raw(rec)))
            continue
        for name, _ in cols:
            good[name].append(row[name])
        good["__locator"].append(locator)
    return good, bad


def _raw(rec: Any) -> str:
    import json

    return json.dumps(rec, default=str, sort_keys=True)
