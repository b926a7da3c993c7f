"""The sparse-matrix recommender against a plain-Python reading of its definition, on random
small order books (ties included: few products, few timestamps)."""

from __future__ import annotations

import math
import random

import numpy as np
import pyarrow as pa
import pytest
from scipy import sparse

from c360 import catalog
from c360.analytics.recommend import (
    NEIGHBOURS,
    ORDERS_SQL,
    PERSONS_SQL,
    PRODUCTS_SQL,
    RECENT,
    _csr,
    _latest,
    neighbours,
    order_book,
    owned_matrix,
    recommend,
    recommendations,
)
from c360.engine.duckdb import DuckDBEngine
from c360.errors import C360Error

pytestmark = pytest.mark.unit


def reference(lines: list[tuple[int, int, int, int]], top: int) -> dict[int, list[tuple[int, float, int]]]:
    """lines: (order, person, product, time). Cosine co-occurrence over orders, NEIGHBOURS per
    product (ties: smaller product), candidates from a person's RECENT latest products (ties:
    smaller product), owned products never recommended, because_of = the most similar recent
    product (ties: the larger)."""
    orders: dict[int, set[int]] = {}
    for o, _, p, _ in lines:
        orders.setdefault(o, set()).add(p)
    n = {p: sum(p in s for s in orders.values()) for p in {p for _, _, p, _ in lines}}
    together: dict[tuple[int, int], int] = {}
    for s in orders.values():
        for p in s:
            for q in s:
                if p != q:
                    together[p, q] = together.get((p, q), 0) + 1
    near: dict[int, list[tuple[int, float]]] = {}
    for (p, q), c in together.items():
        near.setdefault(p, []).append((q, c / math.sqrt(n[p] * n[q])))
    near = {p: sorted(v, key=lambda t: (-t[1], t[0]))[:NEIGHBOURS] for p, v in near.items()}
    out = {}
    for person in {c for _, c, _, _ in lines}:
        last: dict[int, int] = {}
        for _, c, p, t in lines:
            if c == person:
                last[p] = max(last.get(p, t), t)
        recent = sorted(last, key=lambda p: (-last[p], p))[:RECENT]
        scores: dict[int, float] = {}
        best: dict[int, tuple[float, int]] = {}
        for p in recent:
            for q, s in near.get(p, []):
                if q not in last:
                    scores[q] = scores.get(q, 0.0) + s
                    best[q] = max(best.get(q, (-1.0, -1)), (s, p))
        ranked = sorted(scores.items(), key=lambda t: (-t[1], t[0]))[:top]
        if ranked:
            out[person] = [(q, s, best[q][1]) for q, s in ranked]
    return out


def _inputs(lines: list[tuple[int, int, int, int]], n_persons: int,
            n_products: int) -> tuple[sparse.csr_matrix, sparse.csr_matrix]:
    """The orders matrix and the owned matrix, from the per-order rows the engine returns."""
    by_order: dict[int, list[int]] = {}
    header: dict[int, tuple[int, int]] = {}
    for o, c, p, t in lines:
        by_order.setdefault(o, []).append(p)
        header[o] = (c, t)
    orders = _csr(pa.chunked_array([pa.array(list(by_order.values()), pa.list_(pa.int32()))]), n_products)
    owned = owned_matrix(orders, np.array([header[o][0] for o in by_order]), np.array([header[o][1] for o in by_order]),
                         n_persons)
    return orders, owned


@pytest.mark.parametrize("seed", range(12))
def test_recommend_matches_the_definition(seed: int) -> None:
    rng = random.Random(seed)
    n_persons, n_products, top = rng.randint(3, 25), rng.randint(4, 18), rng.randint(1, 6)
    lines = []
    for o in range(rng.randint(5, 80)):
        person, t = rng.randrange(n_persons), rng.randrange(6)  # few times: recency ties
        lines += [(o, person, rng.randrange(n_products), t) for _ in range(rng.randint(1, 5))]
    orders, owned = _inputs(lines, n_persons, n_products)
    r = recommend(orders, owned, top)
    got: dict[int, list[tuple[int, float, int]]] = {}
    for person, rank, q, s, b in zip(r["person"], r["rank"], r["product"], r["score"], r["because_of"], strict=True):
        got.setdefault(int(person), []).append((int(rank), int(q), float(s), int(b)))
    expected = reference(lines, top)
    assert set(got) == set(expected)
    for person, recs in got.items():
        assert [k for k, *_ in recs] == list(range(1, len(recs) + 1))
        assert [q for _, q, _, _ in recs] == [q for q, _, _ in expected[person]]
        assert [b for *_, b in recs] == [b for _, _, b in expected[person]]
        assert np.allclose([s for _, _, s, _ in recs], [s for _, s, _ in expected[person]])


@pytest.mark.parametrize("seed", range(8))
def test_dense_and_sparse_neighbours_agree(seed: int) -> None:
    # small catalogs take the dense pair counts, large ones the sparse product: same neighbours,
    # ties included (k larger than some products' neighbour counts, and larger than the catalog)
    rng = random.Random(seed)
    n_products = rng.randint(2, 30)
    books = [[rng.randrange(n_products) for _ in range(rng.randint(1, 6))] for _ in range(rng.randint(1, 120))]
    orders = _csr(pa.chunked_array([pa.array(books, pa.list_(pa.int32()))]), n_products)
    for k in (1, 3, NEIGHBOURS, n_products + 2):
        dense, sparse_ = neighbours(orders, k, dense_products=n_products), neighbours(orders, k, dense_products=0)
        assert dense.nnz == sparse_.nnz
        assert (dense != sparse_).nnz == 0
        assert np.array_equal(dense.indptr, sparse_.indptr) and np.array_equal(dense.indices, sparse_.indices)


def test_neighbours_refuse_orders_with_repeated_products() -> None:
    orders = sparse.csr_matrix((np.ones(3), np.array([1, 1, 0]), np.array([0, 2, 3])), shape=(2, 3))
    with pytest.raises(ValueError, match="sorted and unique"):
        neighbours(orders)


def _engine(facts: pa.Table, products: list[str], persons: list[str]) -> DuckDBEngine:
    """An engine holding gold_fact_sales and the two dimensions recommendations number from."""
    engine = DuckDBEngine()
    engine.register("gold_fact_sales", catalog.conform(facts, catalog.get("gold.fact_sales")))
    engine.register("gold_dim_product", pa.table({"product_id": products}))
    engine.register("gold_dim_customer", pa.table({"person_id": persons}))
    return engine


_FACTS = pa.table({
    "order_id": ["O1", "O1", "O2", "O3", "O4", "O5"], "line_no": [1, 2, 1, 1, 1, 1],
    "person_id": ["b", "b", "b", "a", None, "a"], "product_id": ["P3", "P1", "P3", "P2", "P1", "P9"],
    "order_ts": pa.array([5, 7, 9, 4, 8, 6], pa.timestamp("us", tz="UTC")),
    "product_known": [True, True, True, True, True, False],
})


def test_owned_is_each_product_once_at_its_latest_time() -> None:
    # the engine's side: persons and products numbered in id order by their dimensions, one row
    # per order, a product bought twice owned once at the later time, lines of unknown products
    # and of nobody left out
    engine = _engine(_FACTS, ["P3", "P1", "P2"], ["b", "a", "c"])
    products = engine.sql(PRODUCTS_SQL).sort_by("pn")
    persons = engine.sql(PERSONS_SQL).sort_by("person_n")
    assert products.to_pylist() == [{"product_id": "P1", "pn": 0}, {"product_id": "P2", "pn": 1},
                                    {"product_id": "P3", "pn": 2}]
    assert persons.to_pylist() == [{"person_id": "a", "person_n": 0}, {"person_id": "b", "person_n": 1},
                                   {"person_id": "c", "person_n": 2}]
    engine.register("c360_rec_products", products)
    engine.register("c360_rec_persons", persons)
    grouped = engine.sql(ORDERS_SQL)
    # O1's two lines disagree on the time (5 and 7): two orders, each product owned at its own time
    assert grouped.num_rows == 4
    orders = _csr(grouped.column("products"), products.num_rows)
    owned = owned_matrix(orders, grouped.column("person_n").to_numpy(),
                         grouped.column("bought_at").cast(pa.int64()).to_numpy(), persons.num_rows)
    got = sorted((int(r), int(c), int(v)) for r, c, v in zip(*sparse.find(owned), strict=True))
    assert got == [(0, 1, 4), (1, 0, 7), (1, 2, 9)]
    assert owned.has_canonical_format


def test_recommendations_refuse_lines_the_dimensions_lack() -> None:
    with pytest.raises(C360Error, match=r"1 order\(s\) of a buyer gold.dim_customer lacks, 0 line"):
        recommendations(_engine(_FACTS, ["P1", "P2", "P3"], ["b"]), 3)
    with pytest.raises(C360Error, match=r"0 order\(s\).* 1 line\(s\) of a known product gold.dim_product lacks"):
        recommendations(_engine(_FACTS, ["P2", "P3"], ["a", "b"]), 3)


def test_recommendations_without_sales_are_empty() -> None:
    out = recommendations(_engine(_FACTS.slice(0, 0), ["P1", "P2"], ["a"]), 3)
    assert out.num_rows == 0
    assert out.schema.names == catalog.get("gold.recommendations").schema().names


@pytest.mark.parametrize("seed", range(6))
def test_owned_matrix_keeps_each_pair_once_at_its_latest_time(seed: int) -> None:
    rng = random.Random(seed)
    n_persons, n_products = rng.randint(1, 8), rng.randint(1, 6)
    books = [[rng.randrange(n_products) for _ in range(rng.randint(1, 4))] for _ in range(rng.randint(1, 40))]
    person = [rng.randrange(n_persons) for _ in books]
    when = [rng.randrange(5) for _ in books]
    last: dict[tuple[int, int], int] = {}
    for b, c, t in zip(books, person, when, strict=True):
        for p in b:
            last[c, p] = max(last.get((c, p), t), t)
    orders = _csr(pa.chunked_array([pa.array(books, pa.list_(pa.int32()))]), n_products)
    owned = owned_matrix(orders, np.array(person), np.array(when), n_persons)
    assert owned.nnz == len(last)
    stored = owned.tocoo()  # every stored value, a time of 0 included
    assert {(int(r), int(c)): int(v) for r, c, v in zip(stored.row, stored.col, stored.data, strict=True)} == last
    assert all(np.all(np.diff(owned.indices[owned.indptr[i]:owned.indptr[i + 1]]) > 0) for i in range(n_persons))


def test_latest_breaks_ties_on_the_smaller_column() -> None:
    owned = sparse.csr_matrix(np.array([[3, 5, 5, 1], [0, 0, 2, 0], [0, 0, 0, 0]]))
    rows, cols, ranks = _latest(owned, 2)
    assert list(zip(rows.tolist(), cols.tolist(), ranks.tolist(), strict=True)) == [(0, 1, 0), (0, 2, 1), (1, 2, 0)]


def _random_lines(seed: int) -> tuple[pa.Table, list[str], list[str]]:
    """fact_sales-like lines: an order's lines mostly adjacent, some moved elsewhere (orders split
    over runs), guests without a person, unknown products, a product repeated in an order, and
    lines of one order that disagree on the time (two orders to both paths)."""
    rng = random.Random(seed)
    persons = [f"P{i:02d}" for i in range(rng.randint(1, 9))]
    products = [f"SKU{i}" for i in range(rng.randint(1, 7))]
    rows = []
    for o in range(rng.randint(1, 60)):
        person = rng.choice([*persons, None])
        t = rng.randrange(4)  # few times: orders of one buyer at the same time
        for line in range(rng.randint(1, 4)):
            known = rng.random() > 0.1
            rows.append({"order_id": f"O{o}", "line_no": line + 1, "person_id": person,
                         "product_id": rng.choice(products) if known else "GONE", "product_known": known,
                         "order_ts": t + (1 if rng.random() < 0.05 else 0)})
    for _ in range(rng.randint(0, len(rows) // 3)):  # move a line elsewhere
        rows.insert(rng.randrange(len(rows) + 1), rows.pop(rng.randrange(len(rows))))
    lines = pa.table({k: [r[k] for r in rows] for k in rows[0]})
    lines = lines.set_column(lines.schema.get_field_index("order_ts"), "order_ts",
                             lines.column("order_ts").cast(pa.timestamp("us", tz="UTC")))
    return catalog.conform(lines, catalog.get("gold.fact_sales")), persons, products


@pytest.mark.parametrize("seed", range(20))
def test_order_book_from_lines_equals_the_engines_grouping(seed: int) -> None:
    # the in-memory path (runs of adjacent lines, split orders merged) gives the orders the
    # engine's GROUP BY gives: each order's buyer, time and products (with their repeats)
    lines, persons, products = _random_lines(seed)
    engine = _engine(lines, products, persons)
    engine.register("c360_rec_products", engine.sql(PRODUCTS_SQL))
    engine.register("c360_rec_persons", engine.sql(PERSONS_SQL))
    grouped = engine.sql(ORDERS_SQL)
    expected = sorted((p, t, tuple(sorted(items))) for p, t, items in zip(
        grouped.column("person_n").to_pylist(), grouped.column("bought_at").cast(pa.int64()).to_pylist(),
        grouped.column("products").to_pylist(), strict=True))
    orders, person, bought_at = order_book(lines, pa.array(sorted(persons)), pa.array(sorted(products)))
    assert orders.has_canonical_format
    got = sorted((int(p), int(t), tuple(c for c, n in zip(orders[i].indices, orders[i].data, strict=True)
                                        for _ in range(int(n))))
                 for i, (p, t) in enumerate(zip(person, bought_at, strict=True)))
    assert got == expected


def test_recommendations_from_lines_equal_the_engines() -> None:
    lines, persons, products = _random_lines(3)
    engine = _engine(lines, products, persons)
    assert recommendations(engine, 3, lines).equals(recommendations(engine, 3))
    facts = catalog.conform(_FACTS, catalog.get("gold.fact_sales"))
    with pytest.raises(C360Error, match=r"1 order\(s\) of a buyer gold.dim_customer lacks, 0 line"):
        recommendations(_engine(_FACTS, ["P1", "P2", "P3"], ["b"]), 3, facts)
    with pytest.raises(C360Error, match=r"0 order\(s\).* 1 line\(s\) of a known product gold.dim_product lacks"):
        recommendations(_engine(_FACTS, ["P2", "P3"], ["a", "b"]), 3, facts)
