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

    def register_query(self, name: str, sql: str) -> None:
        assert name == "c360_churn_buyers"

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


def test_order_features_and_labels_match_a_plain_computation() -> None:
    """Recency, frequency, spend, tenure and the label per cutoff, on DuckDB, against a plain
    reading of the definition (orders up to the cutoff; churned = none in the next H days)."""
    from datetime import timedelta

    from c360.engine.duckdb import DuckDBEngine

    rnd = random.Random(11)
    start, horizon = date(2024, 1, 1), 30
    orders = [(f"P{rnd.randrange(40):02d}", start + timedelta(days=rnd.randrange(200)), round(rnd.uniform(1, 90), 2))
              for _ in range(600)] + [(None, start, 5.0)]  # an orphan order counts for nobody
    cutoffs = [date(2024, 3, 1), date(2024, 5, 15), date(2024, 7, 18)]
    e = DuckDBEngine(threads=1)
    e.register("gold_fact_orders", pa.table({"person_id": [o[0] for o in orders],
                                             "order_date": pa.array([o[1] for o in orders], pa.date32()),
                                             "amount": [o[2] for o in orders]}))
    e.register("gold_fact_sales", pa.table({"order_id": pa.array([], pa.string()), "line_no": pa.array([], pa.int64()),
                                            "person_id": pa.array([], pa.string()),
                                            "order_date": pa.array([], pa.date32()),
                                            "is_returned": pa.array([], pa.bool_())}))
    e.register("silver_returns", pa.table({"order_id": pa.array([], pa.string()), "line_no": pa.array([], pa.int64()),
                                           "returned_at": pa.array([], pa.timestamp("us", "UTC"))}))
    e.register("silver_web_events", pa.table({"event_ts": pa.array([], pa.timestamp("us", "UTC")),
                                              "cookie_id": pa.array([], pa.string()),
                                              "session_id": pa.array([], pa.string()),
                                              "customer_id": pa.array([], pa.int64())}))
    e.register("silver_identity_map", pa.table({"source": pa.array([], pa.string()),
                                                "record_id": pa.array([], pa.string()),
                                                "person_id": pa.array([], pa.string())}))
    e.register("silver_feedback", pa.table({"customer_id": pa.array([], pa.int64()),
                                            "submitted_at": pa.array([], pa.timestamp("us", "UTC")),
                                            "rating": pa.array([], pa.int64())}))
    out = features(e, cutoffs, horizon)
    for c in cutoffs:
        expected = []
        for p in sorted({o[0] for o in orders if o[0] and o[1] <= c}):
            mine = [o for o in orders if o[0] == p]
            known = [o for o in mine if o[1] <= c]
            future = [o for o in mine if c < o[1] <= c + timedelta(days=horizon)]
            expected.append((p, (c - max(o[1] for o in known)).days, len(known),
                             sum(round(o[2] * 100) for o in known) / 100, (c - min(o[1] for o in known)).days,
                             not future))
        got = out[c]
        assert list(zip(*(got.column(k).to_pylist() for k in ("person_id", "recency_days", "frequency", "monetary",
                                                              "tenure_days", "churned")), strict=True)) == expected
