"""gold.product_sales from the lines in memory (lake/gold/product_sales.py) equals its SQL model:
buyers counted once per product, guests without a person, lines of products outside the catalog,
catalog products that never sold, money in cents."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from c360 import catalog
from c360.engine.duckdb import DuckDBEngine
from c360.engine.models import model_sql
from c360.lake.gold.product_sales import SOLD, sold, sql_from_sold

pytestmark = pytest.mark.unit

SPEC = catalog.get("gold.product_sales")


def _lines(n: int, seed: int) -> pa.Table:
    rng = np.random.default_rng(seed)
    person = rng.integers(0, 40, n)  # few buyers: a buyer buys a product several times
    product = rng.integers(0, 12, n)  # SKU10 and SKU11 are not in the catalog
    amount = np.round(rng.integers(1, 100_000, n) / 100 + rng.choice([0, 0.005], n), 3)
    return catalog.conform(pa.table({
        "order_id": [f"O{i // 3}" for i in range(n)],
        "line_no": np.arange(n) % 3 + 1,
        "person_id": pa.array([None if p % 9 == 0 else f"P{p}" for p in person]),
        "product_id": pa.array([None if i % 97 == 0 else f"SKU{p}" for i, p in enumerate(product)]),
        "quantity": rng.integers(1, 4, n),
        "amount": amount,
        "returned_amount": np.where(rng.random(n) < 0.1, amount, 0.0),
    }), catalog.get("gold.fact_sales"))


# SKU8 and SKU9 never sell; two categories, so category ranks are compared too
_CATALOG = pa.table({"product_id": [f"SKU{i}" for i in range(10)], "name": [f"Thing {i}" for i in range(10)],
                     "category": ["tools" if i % 2 else "toys" for i in range(10)]})


def _compare(lines: pa.Table) -> tuple[int, int, int]:
    engine = DuckDBEngine()
    engine.register("gold_fact_sales", lines)
    engine.register("gold_dim_product", _CATALOG)
    engine.register("a", catalog.conform(engine.sql(model_sql(SPEC)), SPEC))
    engine.register(SOLD, sold(lines, _CATALOG.column("product_id").combine_chunks()))
    engine.register("b", catalog.conform(engine.sql(sql_from_sold(SPEC)), SPEC))
    row = engine.sql("SELECT (SELECT count(*) FROM b) AS n, "
                     "(SELECT count(*) FROM (SELECT * FROM a EXCEPT ALL SELECT * FROM b)) AS missing, "
                     "(SELECT count(*) FROM (SELECT * FROM b EXCEPT ALL SELECT * FROM a)) AS extra").to_pylist()[0]
    return row["n"], row["missing"], row["extra"]


@pytest.mark.parametrize("seed", range(5))
def test_equals_the_model(seed: int) -> None:
    assert _compare(_lines(2_000, seed)) == (10, 0, 0)


def test_buyers_are_distinct_known_persons() -> None:
    # against a plain count, not only the model: SKU0's buyers are the distinct non-null persons
    lines = _lines(500, 1)
    got = {r["product_id"]: r["customers"] for r in sold(lines, _CATALOG.column("product_id")).to_pylist()}
    for sku in ("SKU0", "SKU3"):
        expected = {p for p, q in zip(lines.column("person_id").to_pylist(), lines.column("product_id").to_pylist(),
                                      strict=True) if q == sku and p is not None}
        assert got[sku] == len(expected)


def test_no_lines_sell_nothing() -> None:
    assert _compare(catalog.get("gold.fact_sales").schema().empty_table()) == (10, 0, 0)
