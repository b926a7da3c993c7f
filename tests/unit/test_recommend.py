"""The sparse-matrix recommender against a plain-Python reading of its definition, on random
small order books (ties included: few products, few timestamps)."""

from __future__ import annotations

import math
import random

import numpy as np
import pyarrow as pa
import pytest
from scipy import sparse

from c360.analytics.recommend import NEIGHBOURS, RECENT, _csr, _latest, recommend

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
    by_order: dict[int, list[int]] = {}
    by_person: dict[int, list[tuple[int, int]]] = {c: [] for c in range(n_persons)}
    for o, c, p, t in lines:
        by_order.setdefault(o, []).append(p)
        by_person[c].append((p, t))
    orders = _csr(pa.chunked_array([pa.array(list(by_order.values()), pa.list_(pa.int32()))]), n_products)
    owned = _csr(pa.chunked_array([pa.array([[p for p, _ in v] for v in by_person.values()], pa.list_(pa.int32()))]),
                 n_products,
                 pa.chunked_array([pa.array([[t for _, t in v] for v in by_person.values()], pa.list_(pa.int64()))]))
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


def test_owned_keeps_the_latest_time_of_a_repeated_product() -> None:
    m = _csr(pa.chunked_array([pa.array([[2, 0, 2], [], [1]], pa.list_(pa.int32()))]), 3,
             pa.chunked_array([pa.array([[5, 7, 9], [], [4]], pa.list_(pa.int64()))]))
    assert m.toarray().tolist() == [[7, 0, 9], [0, 0, 0], [0, 4, 0]]


def test_latest_breaks_ties_on_the_smaller_column() -> None:
    owned = sparse.csr_matrix(np.array([[3, 5, 5, 1], [0, 0, 2, 0], [0, 0, 0, 0]]))
    rows, cols, ranks = _latest(owned, 2)
    assert list(zip(rows.tolist(), cols.tolist(), ranks.tolist(), strict=True)) == [(0, 1, 0), (0, 2, 1), (1, 2, 0)]
