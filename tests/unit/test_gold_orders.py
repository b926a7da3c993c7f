"""gold.fact_orders from the lines in memory (lake/gold/orders.py) equals its SQL model: split
orders, guests without a customer or person, lines that disagree on the header, money in cents."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from c360 import catalog
from c360.engine.duckdb import DuckDBEngine
from c360.engine.models import model_sql
from c360.lake.gold.orders import orders_from_lines

pytestmark = pytest.mark.unit


def _lines(n_orders: int, seed: int, shuffle: float) -> pa.Table:
    """Order lines as fact_sales has them: an order's lines adjacent, except a share ``shuffle``
    of lines moved elsewhere (orders split over runs)."""
    rng = np.random.default_rng(seed)
    per = rng.integers(1, 5, n_orders)
    order = np.repeat(np.arange(n_orders), per)
    moved = rng.random(len(order)) < shuffle
    idx = np.concatenate([np.flatnonzero(~moved), rng.permutation(np.flatnonzero(moved))])
    order = order[idx]
    guest = order % 7 == 0
    orphan = order % 11 == 0
    channels = np.array(["web", "store", "app"])
    amount = np.round(rng.integers(1, 100_000, len(order)) / 100 + rng.choice([0, 0.005], len(order)), 3)
    return catalog.conform(pa.table({
        "order_id": [f"O{o}" for o in order],
        "line_no": np.concatenate([np.arange(k) for k in per])[idx] + 1,
        "person_id": pa.array([None if x else f"P{o % 97}" for o, x in zip(order, orphan, strict=True)]),
        "customer_id": pa.array([None if g else int(o % 53) for o, g in zip(order, guest, strict=True)], pa.int64()),
        "product_id": [f"SKU{o % 13}" for o in order],
        "store_id": pa.array([None if o % 5 == 0 else f"S{o % 3}" for o in order]),
        "salesperson_id": [f"E{o % 4}" for o in order],
        "date_key": (20240101 + order % 28).astype(np.int32),
        "order_ts": pa.array((order * 3_600_000_000).astype("datetime64[us]")).cast(pa.timestamp("us", tz="UTC")),
        "order_date": pa.array((order % 28).astype("datetime64[D]")),
        "channel": channels[order % 3],
        "quantity": rng.integers(1, 4, len(order)),
        "amount": amount,
        "returned_amount": np.where(rng.random(len(order)) < 0.1, amount, 0.0),
        "is_returned": rng.random(len(order)) < 0.1,
    }), catalog.get("gold.fact_sales"))


def _differences(engine: DuckDBEngine, lines: pa.Table) -> tuple[int, int, int]:
    spec = catalog.get("gold.fact_orders")
    engine.register("gold_fact_sales", lines)
    expected = catalog.conform(engine.sql(model_sql(spec)), spec)
    got = catalog.conform(orders_from_lines(lines, engine), spec)
    engine.register("a", got)
    engine.register("b", expected)
    missing = engine.sql("SELECT count(*) AS n FROM (SELECT * FROM b EXCEPT ALL SELECT * FROM a)").column("n")[0]
    extra = engine.sql("SELECT count(*) AS n FROM (SELECT * FROM a EXCEPT ALL SELECT * FROM b)").column("n")[0]
    return got.num_rows, missing.as_py(), extra.as_py()


@pytest.mark.parametrize("shuffle", [0.0, 0.05, 0.5])
def test_equals_the_model(shuffle: float) -> None:
    lines = _lines(3_000, seed=7, shuffle=shuffle)
    rows, missing, extra = _differences(DuckDBEngine(), lines)
    assert rows == len(set(lines.column("order_id").to_pylist()))
    assert (missing, extra) == (0, 0)


def test_lines_that_disagree_stay_apart_as_in_the_model() -> None:
    # one line of an order with two or more lines is in another channel: two rows for that order
    # (which the unique-key check then stops, as it does the model's)
    lines = _lines(40, seed=3, shuffle=0.0)
    ids = lines.column("order_id").to_pylist()
    first = next(o for o in ids if ids.count(o) > 1)
    channel = lines.column("channel").to_pylist()
    channel[max(i for i, o in enumerate(ids) if o == first)] = "phone"
    lines = lines.set_column(lines.schema.get_field_index("channel"), "channel", pa.array(channel))
    rows, missing, extra = _differences(DuckDBEngine(), lines)
    assert (missing, extra) == (0, 0)
    assert rows == len(set(lines.column("order_id").to_pylist())) + 1


def test_no_lines_give_no_orders() -> None:
    lines = catalog.get("gold.fact_sales").schema().empty_table()
    assert orders_from_lines(lines, DuckDBEngine()).num_rows == 0
