"""Expectations: the catalog's row rules applied to a model's result before it is written.

``warn`` keeps and counts, ``drop`` sends the row to quarantine with the rule's name, ``fail``
stops the stage before anything is written (nothing half-written).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from c360.catalog import DIMENSIONS, TableSpec
from c360.engine.base import MODEL_DIALECT, Engine
from c360.errors import ExpectationFailed
from c360.lake.quarantine import Rejected


@dataclass(frozen=True)
class ExpectationResult:
    name: str
    action: str
    passed: int
    failed: int
    dimension: str = "validity"

    @property
    def ratio(self) -> float:
        total = self.passed + self.failed
        return self.passed / total if total else 1.0


@dataclass(frozen=True)
class Checked:
    """A result after its expectations: rows to keep, rows rejected, per-rule counts, DQ score."""

    kept: pa.Table
    rejected: list[Rejected]
    results: list[ExpectationResult]
    dq_score: float

    @property
    def dimensions(self) -> dict[str, float]:
        """Per DQ dimension, the mean pass rate of its rules (only dimensions some rule measures)."""
        return dimension_scores(self.results)


def dimension_scores(results: list[ExpectationResult]) -> dict[str, float]:
    by: dict[str, list[float]] = {}
    for r in results:
        by.setdefault(r.dimension, []).append(r.ratio)
    return {d: round(sum(v) / len(v), 6) for d in DIMENSIONS if (v := by.get(d))}


def unique_keys(engine: Engine, spec: TableSpec, name: str, rows: int) -> ExpectationResult:
    """The primary key is unique (a silver or gold model that duplicates keys is broken: fail)."""
    if not spec.primary_key or rows == 0:
        return ExpectationResult("primary_key_unique", "fail", rows, 0, "uniqueness")
    keys = ", ".join(spec.primary_key)
    if engine.dialect == MODEL_DIALECT:
        # No two equal 64-bit key hashes proves the keys unique (equal keys hash equally); only a
        # hash collision or a real duplicate needs the exact GROUP BY below. The hashes are sorted
        # in numpy rather than counted distinct in DuckDB's hash table: on 18.2M fact_sales keys
        # 1.8 s instead of 3.5 s (and 4.0 s for the GROUP BY).
        hashes = np.sort(engine.sql(f"SELECT hash({keys}) AS h FROM {name}").column("h").to_numpy())
        if not (hashes[1:] == hashes[:-1]).any():
            return ExpectationResult("primary_key_unique", "fail", rows, 0, "uniqueness")
    dup = engine.sql(f"SELECT {keys}, count(*) AS n FROM {name} GROUP BY {keys} HAVING count(*) > 1")
    if dup.num_rows:
        extra = sum(dup.column("n").to_pylist()) - dup.num_rows
        sample = "; ".join(",".join(f"{k}={r[k]}" for k in spec.primary_key) for r in dup.slice(0, 3).to_pylist())
        raise ExpectationFailed(
            f"expectation 'primary_key_unique' failed on {spec.id}: {dup.num_rows} key(s) appear more than once "
            f"({extra} extra rows), e.g. {sample}", where=spec.id, fix="the model must deduplicate on its key; "
            "nothing was written")
    return ExpectationResult("primary_key_unique", "fail", rows, 0, "uniqueness")


def _key(row: dict, spec: TableSpec) -> str:
    return ",".join(f"{k}={row.get(k)}" for k in spec.primary_key)


def check(engine: Engine, spec: TableSpec, data: pa.Table) -> Checked:
    """Evaluate ``spec.expectations`` on ``data`` with ``engine`` (rules are DuckDB SQL)."""
    engine.register("__c360_result", data)
    unique = unique_keys(engine, spec, "__c360_result", data.num_rows)
    if not spec.expectations or data.num_rows == 0:
        return Checked(data, [], [ExpectationResult(e.name, e.action, data.num_rows, 0, e.dimension)
                                  for e in spec.expectations] + [unique], 1.0)
    flags = ", ".join(f"coalesce(({e.rule}), false) AS __e{i}" for i, e in enumerate(spec.expectations))
    flagged = engine.sql(f"SELECT {flags} FROM __c360_result")
    # Row order is preserved for a projection-only query on both engines' Arrow inputs.
    results, drop_mask, all_ok = [], None, None
    for i, e in enumerate(spec.expectations):
        ok = flagged.column(f"__e{i}").combine_chunks()
        failed = data.num_rows - pc.sum(ok).as_py() if data.num_rows else 0
        results.append(ExpectationResult(e.name, e.action, data.num_rows - failed, failed, e.dimension))
        all_ok = ok if all_ok is None else pc.and_(all_ok, ok)
        if e.action == "fail" and failed:
            bad = data.filter(pc.invert(ok)).slice(0, 3).to_pylist()
            keys = "; ".join(_key(r, spec) for r in bad)
            raise ExpectationFailed(
                f"expectation '{e.name}' ({e.rule}) failed on {failed} row(s) of {spec.id}, e.g. {keys}",
                where=spec.id, fix="fix the input or the model; nothing was written",
            )
        if e.action == "drop":
            drop_mask = ok if drop_mask is None else pc.and_(drop_mask, ok)
    rejected: list[Rejected] = []
    for i, e in enumerate(spec.expectations):
        if e.action != "drop" or results[i].failed == 0:
            continue
        for row in data.filter(pc.invert(flagged.column(f"__e{i}"))).to_pylist():
            rejected.append(Rejected(
                source=spec.id, locator=f"{spec.id}:{_key(row, spec)}", rule=e.name,
                reason=f"expectation {e.name} ({e.rule}) is false", raw=json.dumps(row, default=str),
            ))
    kept = data if drop_mask is None else data.filter(drop_mask)
    score = pc.sum(all_ok).as_py() / data.num_rows if all_ok is not None else 1.0
    return Checked(kept, rejected, [*results, unique], round(float(score), 6))
