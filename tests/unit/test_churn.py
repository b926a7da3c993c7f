"""Churn features come back per cutoff in person order, whatever order the engine returned."""

from __future__ import annotations

import random
from datetime import date

import pyarrow as pa
import pytest

from c360.analytics.churn import features

pytestmark = pytest.mark.unit


class _Engine:
    """Returns fixed rows for the features query (an engine that ignored its ORDER BY)."""

    def __init__(self, rows: pa.Table) -> None:
        self.rows = rows

    def register(self, name: str, data: pa.Table) -> None:
        assert name == "c360_cutoff"

    def sql(self, sql: str) -> pa.Table:
        assert "ORDER BY b.cutoff, b.person_id" in sql
        return self.rows


@pytest.mark.parametrize("shuffled", [False, True])
def test_features_are_in_person_order_per_cutoff(shuffled: bool) -> None:
    cutoffs = [date(2024, 1, 1), date(2024, 4, 1)]
    rows = [(c, f"P{i:03d}", i) for c in cutoffs for i in range(0, 50, 1 + cutoffs.index(c))]
    if shuffled:
        random.Random(3).shuffle(rows)
    table = pa.table({"cutoff": pa.array([r[0] for r in rows], pa.date32()), "person_id": [r[1] for r in rows],
                      "frequency": [r[2] for r in rows]})
    out = features(_Engine(table), cutoffs, 90)  # type: ignore[arg-type]
    assert list(out) == cutoffs
    for c in cutoffs:
        expected = sorted((p, f) for cc, p, f in rows if cc == c)
        assert list(zip(out[c].column("person_id").to_pylist(), out[c].column("frequency").to_pylist(),
                        strict=True)) == expected
        assert "cutoff" not in out[c].column_names
