"""gold.product_sales from the order lines in memory: the per-product sums counted with numpy
instead of a hash GROUP BY (product, buyer) of 18M lines.

``product_sales.sql`` is the model and stays the definition (Spark runs it, and so does a run whose
gold.fact_sales isn't in memory). Its costly part is ``per_buyer``, a GROUP BY (product, person) of
every line, only to count each product's distinct buyers: at M 17.9M groups from 18.2M lines, 5.7 s
of its 7.5 s on one thread. Here products are numbered by gold.dim_product, buyers by a dictionary
of the lines' person ids (exact: no hash), the sums are ``bincount``s and the distinct
(product, buyer) pairs come from one sort of 64-bit integers. The result replaces the model's
``sold`` CTE; the rest of the model (names, categories, money, category ranks) runs as written.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import sqlglot
from sqlglot import exp

from c360 import catalog
from c360.engine.base import MODEL_DIALECT
from c360.engine.models import model_sql, register_inputs
from c360.lake.build import build_table, write_checked
from c360.lake.gold.orders import int64s, summable_lines, whole_cents

SOLD = "c360_product_sold"  # the model's ``sold`` CTE, computed here


def build_product_sales(ctx: Any, table_id: str, rec: Any) -> None:
    """The in-memory path when gold.fact_sales was built in this run on DuckDB, else the model."""
    lines = summable_lines(ctx)
    if lines is None:
        build_table(ctx, table_id, rec)
        return
    spec = catalog.get(table_id)
    register_inputs(ctx.engine, ctx.lake, spec)
    products = ctx.engine.sql("SELECT DISTINCT product_id FROM gold_dim_product WHERE product_id IS NOT NULL")
    ctx.engine.register(SOLD, sold(lines, products.column("product_id").combine_chunks()))
    write_checked(ctx, table_id, rec, ctx.engine.sql(sql_from_sold(spec)))


def sold(lines: pa.Table, products: pa.Array) -> pa.Table:
    """The model's ``sold`` rows for ``products`` (distinct ids) that have lines: lines, units,
    distinct known buyers, cents and returned cents per product."""
    item = pc.fill_null(pc.index_in(lines.column("product_id"), value_set=products), -1)
    p = item.to_numpy(zero_copy_only=False).astype(np.int64)
    mine = p >= 0
    n = len(products)
    p = p[mine]
    count = np.bincount(p, minlength=n)

    def total(values: np.ndarray) -> np.ndarray:
        # float64 sums of whole numbers are exact below 2**53 (cents: ~1e11 per product at M)
        return np.rint(np.bincount(p, weights=values[mine], minlength=n)).astype(np.int64)

    persons = pc.dictionary_encode(lines.column("person_id").combine_chunks())
    who = pc.fill_null(persons.indices, -1).to_numpy(zero_copy_only=False).astype(np.int64)[mine]
    known, buyers = who >= 0, max(len(persons.dictionary), 1)
    pairs = np.sort(p[known] * buyers + who[known])  # (product, buyer) as one integer
    distinct = pairs[np.concatenate(([True], pairs[1:] != pairs[:-1]))] if len(pairs) else pairs
    customers = np.bincount(distinct // buyers, minlength=n)
    out = pa.table({
        "product_id": products, "lines": count, "units": total(int64s(lines.column("quantity"))),
        "customers": customers, "cents": total(whole_cents(lines.column("amount"))),
        "returned_cents": total(whole_cents(lines.column("returned_amount"))),
    })
    return out.filter(pa.array(count > 0))


def sql_from_sold(spec: catalog.TableSpec) -> str:
    """The table's model with its ``sold`` CTE reading ``SOLD`` (the CTE it was built from is then
    unused and never runs)."""
    tree = sqlglot.parse_one(model_sql(spec), read=MODEL_DIALECT)
    ctes = {c.alias: c for c in tree.find_all(exp.CTE)}
    if "sold" not in ctes:
        raise ValueError(f"{spec.id}'s model has no CTE named sold")
    ctes["sold"].set("this", sqlglot.parse_one(f"SELECT * FROM {SOLD}", read=MODEL_DIALECT))
    return tree.sql(dialect=MODEL_DIALECT)
