from __future__ import annotations

from dataclasses import replace

import pyarrow as pa
import pytest

from c360 import catalog
from c360.catalog import Expectation
from c360.engine.duckdb import DuckDBEngine
from c360.errors import ExpectationFailed
from c360.quality.expectations import check


def _orders(amounts: list[float]) -> pa.Table:
    n = len(amounts)
    return catalog.conform(pa.table({
        "order_id": [f"O{i}" for i in range(n)], "line_no": [1] * n, "customer_id": [1] * n,
        "order_ts": pa.array([0] * n, pa.timestamp("us", tz="UTC")), "amount": amounts,
        "currency": ["EUR"] * n, "quantity": [1] * n, "unit_price": amounts, "customer_known": [True] * n,
    }), catalog.get("silver.orders"))


def test_drop_quarantines_with_rule_name() -> None:
    spec = catalog.get("silver.orders")
    res = check(DuckDBEngine(), spec, _orders([10.0, -5.0, 0.0, 7.5]))
    assert res.kept.column("amount").to_pylist() == [10.0, 7.5]
    assert sorted(r.rule for r in res.rejected) == ["amount_positive", "amount_positive"]
    assert all("O1" in r.locator or "O2" in r.locator for r in res.rejected)
    by = {r.name: r for r in res.results}
    assert by["amount_positive"].failed == 2 and by["amount_positive"].passed == 2
    assert res.dq_score == 0.5


def test_warn_keeps_and_counts() -> None:
    spec = replace(catalog.get("silver.orders"),
                   expectations=(Expectation("big", "amount < 100", "warn"),))
    res = check(DuckDBEngine(), spec, _orders([10.0, 500.0]))
    assert res.kept.num_rows == 2 and not res.rejected
    assert res.results[0].failed == 1 and res.dq_score == 0.5


def test_fail_stops_and_names_rows() -> None:
    spec = replace(catalog.get("silver.orders"),
                   expectations=(Expectation("no_negative", "amount >= 0", "fail"),))
    with pytest.raises(ExpectationFailed, match=r"no_negative.*1 row.*order_id=O1"):
        check(DuckDBEngine(), spec, _orders([1.0, -1.0]))


def test_null_rule_result_counts_as_broken() -> None:
    spec = catalog.get("silver.orders")
    res = check(DuckDBEngine(), spec, _orders([None, 3.0]))  # type: ignore[list-item]
    assert res.kept.num_rows == 1


def test_dimension_scores_average_rules_per_dimension() -> None:
    spec = replace(catalog.get("silver.orders"), expectations=(
        Expectation("a", "amount > 0", "warn", "validity"),       # 3 of 4 pass
        Expectation("b", "amount < 2", "warn", "validity"),       # 2 of 4 pass
        Expectation("c", "customer_id IS NOT NULL", "warn", "completeness"),  # 4 of 4
    ))
    res = check(DuckDBEngine(), spec, _orders([1.0, 2.0, 10.0, -1.0]))
    assert res.dimensions == {"completeness": 1.0, "validity": 0.625, "uniqueness": 1.0}
    assert res.dq_score == 0.25  # rows passing every rule: only the 1.0
    by = {r.name: r for r in res.results}
    assert by["primary_key_unique"].dimension == "uniqueness" and by["primary_key_unique"].failed == 0


def test_duplicate_primary_key_fails_before_any_write() -> None:
    spec = catalog.get("silver.orders")
    data = _orders([1.0, 2.0, 3.0])
    dup = data.set_column(0, "order_id", pa.array(["O1", "O1", "O2"]))
    with pytest.raises(ExpectationFailed, match=r"primary_key_unique.*1 key\(s\).*order_id=O1,line_no=1"):
        check(DuckDBEngine(), spec, dup)


def test_a_nan_prediction_fails_its_bound() -> None:
    # DuckDB orders NaN above every number: "x >= 0" alone would let a NaN CLV through
    spec = catalog.get("gold.customer_clv")
    rows = catalog.conform(pa.table({"person_id": ["a", "b"], "p_alive": [0.5, 0.5],
                                     "predicted_clv": [1.0, float("nan")], "expected_purchases": [1.0, 1.0]}), spec)
    with pytest.raises(ExpectationFailed, match=r"predicted_clv_not_negative.*1 row\(s\).*person_id=b"):
        check(DuckDBEngine(), spec, rows)


def test_an_order_whose_lines_disagree_fails_fact_orders_key() -> None:
    # fact_orders groups on the header: a line with another channel gives its order a second row,
    # which the unique-key check must stop (an aggregate such as min() would hide it)
    from c360.engine.models import model_sql

    lines = catalog.conform(pa.table({
        "order_id": ["O1", "O1", "O2"], "line_no": [1, 2, 1], "person_id": ["P1", "P1", "P2"],
        "order_ts": pa.array([0, 0, 0], pa.timestamp("us", tz="UTC")), "channel": ["web", "store", "web"],
        "quantity": [1, 1, 1], "amount": [1.0, 2.0, 3.0], "returned_amount": [0.0, 0.0, 0.0],
        "is_returned": [False, False, False],
    }), catalog.get("gold.fact_sales"))
    engine = DuckDBEngine()
    spec = catalog.get("gold.fact_orders")
    engine.register("gold_fact_sales", lines)
    headers = catalog.conform(engine.sql(model_sql(spec)), spec)
    with pytest.raises(ExpectationFailed, match=r"primary_key_unique.*1 key\(s\).*order_id=O1"):
        check(engine, spec, headers)
    engine.register("gold_fact_sales", lines.set_column(lines.schema.get_field_index("channel"),
                                                        "channel", pa.array(["web", "web", "web"])))
    agreed = catalog.conform(engine.sql(model_sql(spec)), spec)
    assert check(engine, spec, agreed).kept.num_rows == 2
