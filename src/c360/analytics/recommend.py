"""Next-best products (gold.recommendations) by item-item co-occurrence, and their offline
evaluation (hit-rate@k on a holdout period against a popularity baseline).

Two products are similar when they are bought in the same orders: cosine similarity of their
order sets, n(p and q) / sqrt(n(p) × n(q)); each product keeps its ``NEIGHBOURS`` nearest (ties:
the smaller product id). A buyer's candidates are the neighbours of their ``RECENT`` most
recently bought products, scored by summed similarity; a product they already bought is never
recommended. ``because_of`` is the recent product that contributes most (ties: the larger id).
Co-occurrence within orders (not within a buyer's whole history) keeps the pair count linear in
orders. (20 neighbours of 5 products hit 0.52 instead of 0.45 at XS but cost 2.8x the time at M:
decision 0013.)

The co-occurrence counts are (orders × products)ᵀ(orders × products) — counted pair by pair into a
dense array for a catalogue of up to ``DENSE_PRODUCTS``, a sparse product beyond — and a buyer's
scores a sparse product ((buyers × recent products)(products × neighbours)), so this runs in
numpy/scipy on integer codes: at M the same logic as SQL joins, group-bys and windows over 15-25M
rows took ~45 s (decision 0013). The lines are grouped by the pipeline's engine, so it runs the
same behind DuckDB or Spark.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from scipy import sparse

from c360 import catalog
from c360.engine.base import MODEL_DIALECT
from c360.engine.duckdb import DuckDBEngine
from c360.errors import C360Error
from c360.lake.store import Lake

NEIGHBOURS = 10  # nearest products kept per product
RECENT = 3  # a buyer's most recently bought products the candidates come from

# Products and buyers numbered in id order by their dimensions (gold.dim_product, gold.dim_customer:
# a scan of a few thousand and a million rows, where numbering the ones in the lines cost two more
# passes over them, 2 s at M); ties break on the number, so on the id. The engine returns each
# order once — its buyer's number, its time and its products as a list, whose offsets are the
# index pointers of the orders matrix — and what each buyer owns is derived from those here: no
# string keys reach Python, and the lines are grouped once (a second GROUP BY (buyer, product)
# over them cost 5.6 s at M). An order is its id's hash, buyer and time: integer keys group
# faster than the id (7.5 s against 5.3 s at M), and two orders merge only if one buyer placed
# both at the same microsecond and their ids' hashes collide; lines of one order that disagreed on
# buyer or time would make two orders, so what a buyer owns is exact whatever the lines say.
PRODUCTS_SQL = """
    SELECT product_id, CAST(row_number() OVER (ORDER BY product_id) - 1 AS INTEGER) AS pn FROM gold_dim_product
"""
PERSONS_SQL = """
    SELECT person_id, CAST(row_number() OVER (ORDER BY person_id) - 1 AS INTEGER) AS person_n FROM gold_dim_customer
"""
# outer joins: a line whose buyer or product the dimensions lack is refused, not dropped
ORDERS_SQL = """
    SELECT b.person_n, l.order_ts AS bought_at, list(p.pn) AS products
    FROM gold_fact_sales AS l
    LEFT JOIN c360_rec_products AS p USING (product_id)
    LEFT JOIN c360_rec_persons AS b USING (person_id)
    WHERE l.person_id IS NOT NULL AND l.product_known
    GROUP BY hash(l.order_id), b.person_n, l.order_ts
"""


def _csr(lists: pa.ChunkedArray, n_cols: int) -> sparse.csr_matrix:
    """A list column as a sparse matrix: row i holds list i's values as column numbers, a value
    repeated in a list counted once per repeat (duplicates summed, indices sorted)."""
    arr = lists.combine_chunks()
    offsets = arr.offsets.to_numpy().astype(np.int64)  # a copy: Arrow's buffers are read-only
    lo, hi = int(offsets[0]), int(offsets[-1])
    cols = arr.values.to_numpy(zero_copy_only=False)[lo:hi].astype(np.int32)
    m = sparse.csr_matrix((np.ones(len(cols), np.int64), cols, offsets - lo), shape=(len(arr), n_cols))
    m.sum_duplicates()
    return m


def owned_matrix(orders: sparse.csr_matrix, person: np.ndarray, bought_at: np.ndarray,
                 n_persons: int) -> sparse.csr_matrix:
    """Persons × products, the latest time each was bought (each pair once, indices sorted), from
    the orders matrix and each order's buyer and time: the orders regrouped by buyer (a counting
    sort), their products sorted within each buyer, a product bought in several orders kept once
    at its latest time."""
    n_orders, n_products = orders.shape
    by_person = sparse.csr_matrix((np.ones(n_orders, np.int8), (person, np.arange(n_orders))),
                                  shape=(n_persons, n_orders))
    perm = by_person.indices  # each buyer's orders, in order number
    lines = orders[perm]
    m = sparse.csr_matrix((np.repeat(bought_at[perm].astype(np.int64), np.diff(lines.indptr)), lines.indices,
                           lines.indptr[by_person.indptr]), shape=(n_persons, n_products))
    m.sort_indices()  # a repeated product is now next to itself
    new = np.ones(m.nnz, bool)
    new[1:] = m.indices[1:] != m.indices[:-1]
    new[m.indptr[:-1][np.diff(m.indptr) > 0]] = True  # a row's first value starts a run
    starts = np.flatnonzero(new)
    if len(starts) == 0:
        return sparse.csr_matrix((n_persons, n_products), dtype=np.int64)
    kept = np.r_[0, np.cumsum(new)]
    owned = sparse.csr_matrix((np.maximum.reduceat(m.data, starts), m.indices[starts], kept[m.indptr]),
                              shape=(n_persons, n_products))
    owned.has_sorted_indices = True
    return owned


def _row_numbers(m: sparse.csr_matrix) -> np.ndarray:
    """The row of every stored value of a CSR matrix."""
    return np.repeat(np.arange(m.shape[0]), np.diff(m.indptr))


# Co-occurrence counts are kept dense (products × products) up to this many products: at M
# (5,000 products) 60 % of the pairs occur, and counting pairs into an array took 2.6 s against
# 4.4-5.9 s for the sparse product (decision 0013); past it, memory (8 bytes × products²) is the
# limit and the sparse product is used.
DENSE_PRODUCTS = 8_192
_ROW_BLOCK = 1_024  # products whose similarities are ranked at once on the dense path


def neighbours(orders: sparse.csr_matrix, k: int = NEIGHBOURS, dense_products: int = DENSE_PRODUCTS
               ) -> sparse.csr_matrix:
    """Each product's ``k`` most similar products (cosine of their order sets; ties: the smaller
    number) from the orders × products matrix (as ``_csr`` builds it: each row's products sorted,
    each once), as a products × products matrix of similarities."""
    if not orders.has_canonical_format:
        raise ValueError("orders matrix: each order's products must be sorted and unique")
    n_products = orders.shape[1]
    in_orders = np.bincount(orders.indices, minlength=n_products).astype(float)
    if n_products <= dense_products:
        rows, cols, sims = _nearest_dense(_pair_counts(orders), in_orders, k)
    else:
        rows, cols, sims = _nearest_sparse(orders, in_orders, k)
    return sparse.csr_matrix((sims, (rows, cols)), shape=(n_products, n_products))


def _pair_counts(orders: sparse.csr_matrix) -> np.ndarray:
    """Products × products: the orders holding both (symmetric, zero diagonal). Each pair of an
    order is its products at positions i and i + d: one vectorised pass per distance d (an order
    holds a handful of products, so a few passes over ever fewer orders)."""
    n_products = orders.shape[1]
    lens = np.diff(orders.indptr)
    multi = lens >= 2
    starts, lens = orders.indptr[:-1][multi], lens[multi]
    keys = []
    for d in range(1, int(lens.max()) if len(lens) else 1):
        keep = lens > d
        starts, lens = starts[keep], lens[keep]
        n = lens - d  # pairs at distance d in each order
        first = np.repeat(starts - np.cumsum(n) + n, n) + np.arange(int(n.sum()))
        keys.append(orders.indices[first].astype(np.int64) * n_products + orders.indices[first + d])
    counts = np.bincount(np.concatenate(keys) if keys else np.zeros(0, np.int64),
                         minlength=n_products * n_products).reshape(n_products, n_products)
    return counts + counts.T  # positions are in product order, so each pair was counted as (smaller, larger)


def _nearest_dense(counts: np.ndarray, in_orders: np.ndarray, k: int) -> tuple[np.ndarray, ...]:
    """(row, column, similarity) of each product's ``k`` nearest, from dense pair counts: the k-th
    largest similarity of a row bounds its candidates, which are then ordered exactly."""
    rows, cols, sims = [], [], []
    for lo in range(0, len(counts), _ROW_BLOCK):
        c = counts[lo:lo + _ROW_BLOCK]
        sim = np.divide(c, np.sqrt(np.outer(in_orders[lo:lo + _ROW_BLOCK], in_orders)),
                        out=np.zeros(c.shape), where=c > 0)
        kth = (-np.partition(-sim, k - 1, axis=1)[:, k - 1] if k < sim.shape[1]
               else np.zeros(len(sim)))
        r, q = np.nonzero((sim >= kth[:, None]) & (c > 0))
        s = sim[r, q]
        o = np.lexsort((q, -s, r))
        r, q, s = r[o], q[o], s[o]
        keep = np.arange(len(r)) - np.searchsorted(r, r) < k  # the first k of each row
        rows.append(r[keep] + lo)
        cols.append(q[keep])
        sims.append(s[keep])
    return np.concatenate(rows), np.concatenate(cols), np.concatenate(sims)


def _nearest_sparse(orders: sparse.csr_matrix, in_orders: np.ndarray, k: int) -> tuple[np.ndarray, ...]:
    """As ``_nearest_dense``, with the pair counts a sparse matrix product (any catalog size)."""
    x = orders.copy()
    x.data[:] = 1  # an order holds a product or not
    x = x[np.diff(x.indptr) >= 2]  # a one-product order pairs nothing with anything
    pairs = (x.T.tocsr() @ x).tocsr()
    pairs.sort_indices()
    rows, cols, sims = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)], [np.zeros(0)]
    for p in range(orders.shape[1]):  # one small sort per product
        lo, hi = pairs.indptr[p], pairs.indptr[p + 1]
        q, n = pairs.indices[lo:hi], pairs.data[lo:hi]
        other = q != p
        q, n = q[other], n[other]
        sim = n / np.sqrt(in_orders[p] * in_orders[q])
        best = np.lexsort((q, -sim))[:k]
        rows.append(np.full(len(best), p))
        cols.append(q[best])
        sims.append(sim[best])
    return np.concatenate(rows), np.concatenate(cols), np.concatenate(sims)


def _latest(owned: sparse.csr_matrix, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per row, the ``k`` columns with the largest values (ties: the smaller column), as arrays
    (row, column, rank from 0) ordered by row, then rank: k passes of a per-row maximum instead
    of a sort."""
    owned.sort_indices()
    n = len(owned.data)
    starts = owned.indptr[:-1][np.diff(owned.indptr) > 0]
    if n == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64)
    row_of = _row_numbers(owned)
    group = np.cumsum(np.r_[0, np.diff(row_of) > 0])  # the nonempty row each value is in
    taken = np.zeros(n, bool)
    low = np.iinfo(np.int64).min
    pos = np.arange(n)
    picked, ranks = [], []
    for rank in range(k):
        vals = np.where(taken, low, owned.data)
        top = np.maximum.reduceat(vals, starts)
        hit = (vals == top[group]) & ~taken
        first = np.minimum.reduceat(np.where(hit, pos, n), starts)
        first = first[first < n]
        taken[first] = True
        picked.append(first)
        ranks.append(np.full(len(first), rank))
    at, rank = np.concatenate(picked), np.concatenate(ranks)
    o = np.lexsort((rank, row_of[at]))
    return row_of[at][o], owned.indices[at][o].astype(np.int64), rank[o]


def recommend(orders: sparse.csr_matrix, owned: sparse.csr_matrix, top: int) -> dict[str, np.ndarray]:
    """The ``top`` next-best products per person. ``orders``: orders × products (nonzero = the
    order holds it); ``owned``: persons × products, when each was last bought (an integer).
    Product numbers must follow product-id order (ties break on them). Returns arrays person
    (a row of ``owned``), rank (1 = best), product, score and because_of (a product)."""
    sims = neighbours(orders)
    rp, rq, nth = _latest(owned, RECENT)
    n_persons, n_products = owned.shape
    mine = owned.copy()
    mine.data = np.ones(len(mine.data))
    recent = sparse.csr_matrix((np.ones(len(rp)), (rp, rq)), shape=(n_persons, n_products))
    scores = recent @ sims
    # without the products a person owns (value - value = exactly 0, then removed)
    scores = (scores - scores.multiply(mine)).tocsr()
    scores.eliminate_zeros()
    scores.sort_indices()
    # a row holds at most RECENT × NEIGHBOURS candidates, in product order: rank them in a dense
    # persons × that block (filled row by row, as the matrix stores them)
    lens = np.diff(scores.indptr)
    width = max(int(lens.max()) if len(lens) else 0, 1)
    block = np.full((n_persons, width), -np.inf)
    block[np.arange(width) < lens[:, None]] = scores.data
    order = np.argsort(-block, axis=1, kind="stable")[:, :top]  # stable: a tie keeps the smaller product
    top_scores = np.take_along_axis(block, order, axis=1)
    person, slot = np.nonzero(np.isfinite(top_scores))
    product = scores.indices[scores.indptr[person] + order[person, slot]].astype(np.int64)
    return {"person": person, "rank": (slot + 1).astype(np.int32), "product": product,
            "score": top_scores[person, slot],
            "because_of": _because_of(sims, (rp, rq, nth), n_persons, person, product)}


def _because_of(sims: sparse.csr_matrix, latest: tuple[np.ndarray, np.ndarray, np.ndarray], n_persons: int,
                person: np.ndarray, product: np.ndarray) -> np.ndarray:
    """Per recommended (person, product), the person's recent product most similar to it (ties:
    the larger product); ``latest``: (person, product, rank) of each person's recent products.
    Only the picks are looked up, a few similarities each, not every candidate."""
    rp, rq, nth = latest
    recent = np.full((n_persons, RECENT), -1, np.int64)
    recent[rp, nth] = rq
    best_sim, best = np.full(len(person), -1.0), np.full(len(person), -1, np.int64)
    for i in range(RECENT):
        r = recent[person, i]
        sim = np.where(r >= 0, np.asarray(sims[np.maximum(r, 0), product]).ravel(), -1.0)
        better = (sim > best_sim) | ((sim == best_sim) & (r > best))
        best_sim, best = np.where(better, sim, best_sim), np.where(better, r, best)
    return best


def recommendations(engine: Any, top: int, lines: pa.Table | None = None) -> pa.Table:
    """gold.recommendations from ``gold_fact_sales``, ``gold_dim_product`` and ``gold_dim_customer``
    as registered on ``engine`` (module doc). ``lines``: gold.fact_sales' rows in memory, in the
    order the engine produced them; the orders are then found in them (``order_book``) instead of
    grouped by the engine."""
    ids = engine.sql(PRODUCTS_SQL).sort_by("pn")
    if ids.num_rows == 0:
        return catalog.get("gold.recommendations").schema().empty_table()
    persons = engine.sql(PERSONS_SQL).sort_by("person_n")
    products = ids.column("product_id").combine_chunks()
    if lines is not None:
        orders, person, bought_at = order_book(lines, persons.column("person_id").combine_chunks(), products)
    else:
        engine.register("c360_rec_products", ids)
        engine.register("c360_rec_persons", persons)
        grouped = engine.sql(ORDERS_SQL)
        _refuse_unknown(grouped.column("person_n").null_count,
                        pc.list_flatten(grouped.column("products")).null_count)
        orders = _csr(grouped.column("products"), len(products))
        person = grouped.column("person_n").to_numpy()
        bought_at = pc.cast(grouped.column("bought_at"), pa.int64()).to_numpy()
        del grouped
    owned = owned_matrix(orders, person, bought_at, persons.num_rows)
    r = recommend(orders, owned, top)
    return pa.table({
        "person_id": persons.column("person_id").take(pa.array(r["person"])),
        "rank": pa.array(r["rank"]),
        "product_id": products.take(pa.array(r["product"])),
        "score": pa.array(np.round(r["score"], 6)),
        "because_of": products.take(pa.array(r["because_of"])),
    })


def _refuse_unknown(buyers: int, items: int) -> None:
    """Stop on orders whose buyer, or lines whose known product, the dimensions lack."""
    if buyers or items:
        raise C360Error(f"{buyers} order(s) of a buyer gold.dim_customer lacks, {items} line(s) of a known product "
                        "gold.dim_product lacks", where="gold.fact_sales",
                        fix="rebuild gold: the dimensions and the facts come from different runs")


def order_book(lines: pa.Table, persons: pa.Array, products: pa.Array
               ) -> tuple[sparse.csr_matrix, np.ndarray, np.ndarray]:
    """``ORDERS_SQL``'s orders from gold.fact_sales' rows as the engine produced them: (orders ×
    products as ``_csr`` builds it, each order's buyer number, its time in microseconds).
    ``persons`` and ``products`` hold the ids in number order. The lines come nearly grouped by
    order (fact_sales' join keeps its input's order: at M 10,135,074 orders in about as many runs
    of adjacent lines), so an order is a run of lines equal on order id, buyer and time, and the
    few orders split over several runs are merged: one comparison per line and a sort of 10M
    integers instead of the engine's two 18M-line joins and a 10M-group GROUP BY with lists (6.4 s
    at M on one thread; docs/decisions/0013). Unlike the engine's hash of the order id, two
    orders never merge."""
    from c360.lake.gold.orders import same_as_previous

    n = lines.num_rows
    person_id, order_ts = lines.column("person_id"), lines.column("order_ts")
    keep = pc.and_(pc.is_valid(person_id), pc.fill_null(lines.column("product_known"), False))
    kept = np.flatnonzero(keep.to_numpy(zero_copy_only=False))
    if len(kept) == 0:
        return sparse.csr_matrix((0, len(products)), dtype=np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64)
    same = np.ones(n - 1, bool)
    for col in (lines.column("order_id"), person_id, order_ts):
        same &= same_as_previous(col)
    run = np.concatenate(([0], np.cumsum(~same)))[kept]  # the run of every kept line
    first = np.flatnonzero(np.concatenate(([True], run[1:] != run[:-1])))  # where each order's kept lines start
    head = pa.array(kept[first])  # a line of each order
    buyer = pc.index_in(person_id.take(head), value_set=persons)
    item = pc.index_in(lines.column("product_id"), value_set=products).combine_chunks()
    pn = item.take(pa.array(kept))
    _refuse_unknown(buyer.null_count, pn.null_count)
    person = buyer.to_numpy(zero_copy_only=False).astype(np.int64)
    bought_at = pc.cast(order_ts.take(head), pa.int64()).to_numpy(zero_copy_only=False)
    cols = pn.to_numpy(zero_copy_only=False).astype(np.int32)
    indptr = np.append(first, len(kept)).astype(np.int64)
    # an order split over runs: the same buyer and time in several rows (a key collision only adds
    # a row to compare), merged when the order ids are equal too
    key = bought_at.astype(np.uint64) * np.uint64(1_000_003) + person.astype(np.uint64)
    ordered = np.sort(key)
    repeated = np.unique(ordered[1:][ordered[1:] == ordered[:-1]])
    if len(repeated):
        split = np.flatnonzero(repeated[np.minimum(np.searchsorted(repeated, key), len(repeated) - 1)] == key)
        ids = lines.column("order_id").take(pa.array(kept[first[split]])).to_pylist()
        row = np.arange(len(first))
        into: dict[tuple[Any, int, int], int] = {}
        for i, oid in zip(split.tolist(), ids, strict=True):
            row[i] = into.setdefault((oid, int(person[i]), int(bought_at[i])), i)
        first_run = row == np.arange(len(first))  # an order's row is its first run's
        if not first_run.all():
            number = np.cumsum(first_run) - 1  # the orders numbered, first runs only
            rows = number[np.repeat(row, np.diff(indptr))]
            m = sparse.csr_matrix((np.ones(len(cols), np.int64), (rows, cols)),
                                  shape=(int(first_run.sum()), len(products)))
            m.sum_duplicates()
            return m, person[first_run], bought_at[first_run]
    m = sparse.csr_matrix((np.ones(len(cols), np.int64), cols, indptr), shape=(len(first), len(products)))
    m.sum_duplicates()
    return m, person, bought_at


def build_recommendations(ctx: Any, table_id: str, rec: Any) -> None:
    """gold.recommendations: order lines grouped by the pipeline's engine, scored here."""
    from c360.engine.models import register_inputs
    from c360.lake.build import write_checked

    register_inputs(ctx.engine, ctx.lake, catalog.get(table_id))
    # fact_sales' rows as this run's engine produced them (in memory on DuckDB), else the engine groups
    lines = ctx.lake.hot("gold.fact_sales") if ctx.engine.dialect == MODEL_DIALECT else None
    write_checked(ctx, table_id, rec, recommendations(ctx.engine, ctx.settings.analytics.recommendations, lines))


# ------------------------------------------------------------------ offline evaluation
_EVAL_SQL = """
WITH train AS (SELECT DISTINCT person_id, product_id FROM gold_fact_sales WHERE person_id IS NOT NULL),
fresh AS (
    SELECT DISTINCT h.person_id, h.product_id FROM holdout AS h
    JOIN (SELECT DISTINCT person_id FROM train) AS b USING (person_id)
    LEFT JOIN train AS t ON t.person_id = h.person_id AND t.product_id = h.product_id
    WHERE t.product_id IS NULL AND h.product_known
),
judged AS (SELECT DISTINCT person_id FROM fresh),
popular AS (
    SELECT product_id, row_number() OVER (ORDER BY count(DISTINCT order_id) DESC, product_id) AS pop_rank
    FROM gold_fact_sales WHERE product_known GROUP BY product_id
),
-- the baseline lists the popular products a buyer does not own: a new product is in their top k
-- when its popularity rank minus the owned products ranked above it is at most k (no buyer ×
-- product cross join: at M that is hundreds of millions of rows)
baseline_hits AS (
    SELECT DISTINCT person_id FROM (
        SELECT f.person_id, f.product_id
        FROM fresh AS f
        JOIN popular AS p ON p.product_id = f.product_id
        LEFT JOIN (SELECT t.person_id, q.pop_rank FROM train AS t JOIN popular AS q USING (product_id)) AS o
            ON o.person_id = f.person_id AND o.pop_rank < p.pop_rank
        GROUP BY f.person_id, f.product_id, p.pop_rank
        HAVING p.pop_rank - count(o.pop_rank) <= {k}
    ) AS h
),
model_hits AS (SELECT DISTINCT r.person_id FROM recs AS r JOIN fresh AS f USING (person_id, product_id))
SELECT (SELECT count(*) FROM judged) AS persons,
       (SELECT count(*) FROM model_hits) AS model_hits,
       (SELECT count(*) FROM baseline_hits) AS baseline_hits,
       (SELECT count(DISTINCT person_id) FROM recs) AS persons_with_recommendations
"""


def evaluate(lake: Lake, holdout_days: int = 60, k: int = 10) -> dict[str, Any]:
    """Hit-rate@k of the model and of the popularity baseline: the model is run on the sales
    before a cutoff; a buyer is a hit when one of their top-k products is a product they bought
    for the first time after the cutoff (buyers without such a product can't hit either way and
    are left out). The baseline recommends the k products in most orders before the cutoff that
    the buyer does not own yet."""
    facts = lake.read("gold.fact_sales", ["order_id", "person_id", "product_id", "order_date", "order_ts",
                                          "product_known"])
    last = pc.max(facts.column("order_date")).as_py()
    if last is None:
        raise ValueError("gold.fact_sales is empty: build gold first")
    cutoff = last - timedelta(days=holdout_days)
    before = pc.less_equal(facts.column("order_date"), pa.scalar(cutoff, pa.date32()))
    from c360.engine.models import register_inputs

    engine = DuckDBEngine()
    try:
        # the table's inputs as the catalog declares them, then the sales cut at the cutoff
        register_inputs(engine, lake, catalog.get("gold.recommendations"))
        engine.register("gold_fact_sales", facts.filter(before))
        engine.register("holdout", facts.filter(pc.invert(before)))
        engine.register("recs", recommendations(engine, k, facts.filter(before)))
        row = engine.sql(_EVAL_SQL.format(k=k)).to_pylist()[0]
    finally:
        engine.close()
    n = row["persons"]
    return {"cutoff": cutoff.isoformat(), "holdout_days": holdout_days, "k": k, "persons": n,
            "hit_rate": round(row["model_hits"] / n, 4) if n else None,
            "popularity_hit_rate": round(row["baseline_hits"] / n, 4) if n else None,
            "persons_with_recommendations": row["persons_with_recommendations"]}
