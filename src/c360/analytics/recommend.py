"""Offline evaluation of gold.recommendations: hit-rate@k on a holdout period against a
popularity baseline.

The model (``lake/gold/recommendations.sql``) is run on the sales before a cutoff; a buyer is a
hit when one of their top-k products is a product they bought for the first time after the
cutoff. Buyers without such a new product cannot hit either way and are left out. The baseline
recommends the k products in most orders before the cutoff that the buyer does not own yet.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from c360 import catalog
from c360.config import AnalyticsConfig
from c360.engine.duckdb import DuckDBEngine
from c360.engine.models import model_params, model_sql
from c360.lake.store import Lake

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
    """Hit-rate@k of the recommendation model and of the popularity baseline (see the module doc)."""
    spec = catalog.get("gold.recommendations")
    facts = lake.read("gold.fact_sales", ["order_id", "person_id", "product_id", "order_date", "order_ts",
                                          "product_known"])
    last = pc.max(facts.column("order_date")).as_py()
    if last is None:
        raise ValueError("gold.fact_sales is empty: build gold first")
    cutoff = last - timedelta(days=holdout_days)
    before = pc.less_equal(facts.column("order_date"), pa.scalar(cutoff, pa.date32()))
    engine = DuckDBEngine()
    try:
        engine.register("gold_fact_sales", facts.filter(before))
        engine.register("holdout", facts.filter(pc.invert(before)))
        engine.register("c360_params", model_params(AnalyticsConfig(recommendations=k)))
        engine.register("recs", engine.sql(model_sql(spec)))
        row = engine.sql(_EVAL_SQL.format(k=k)).to_pylist()[0]
    finally:
        engine.close()
    n = row["persons"]
    return {"cutoff": cutoff.isoformat(), "holdout_days": holdout_days, "k": k, "persons": n,
            "hit_rate": round(row["model_hits"] / n, 4) if n else None,
            "popularity_hit_rate": round(row["baseline_hits"] / n, 4) if n else None,
            "persons_with_recommendations": row["persons_with_recommendations"]}
