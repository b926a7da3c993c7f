"""Churn risk: will a buyer place no order in the next ``analytics.churn_horizon_days`` days?

A logistic regression on behavioural features (recency, frequency, spend, tenure, recent web
sessions, returns, average rating; counts and money log-scaled, then standardised). Logistic
regression, not a tree ensemble: its probabilities come out calibrated without a second fit, and
each feature's push on a customer's risk can be read off (``main_driver``).

Time split (no customer's future leaks into the features it is scored on): with H the horizon
and D the last order day in the data,
  * train on features as of D - 2H, labelled by the orders in (D - 2H, D - H];
  * test on features as of D - H, labelled by the orders in (D - H, D] — AUC, Brier score and a
    10-bin calibration table go to the run audit;
  * score everyone on features as of D (their future is unknown: that is the prediction).
"""

from __future__ import annotations

from datetime import date, timedelta
from importlib import resources
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import brier_score_loss, roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from c360 import catalog
from c360.engine.base import Engine
from c360.lake.rules import expand

FEATURES = ("recency_days", "frequency", "monetary", "tenure_days", "sessions_90d", "returns", "avg_rating")
_LOGGED = {"recency_days", "frequency", "monetary", "tenure_days", "sessions_90d", "returns"}
HIGH, MEDIUM = 0.7, 0.4
MIN_TRAIN = 20  # buyers in the training window below which no model is fitted


def features(engine: Engine, cutoffs: list[date], horizon: int) -> dict[date, pa.Table]:
    """Every buyer's features as of each cutoff and whether they bought nothing in the next
    ``horizon`` days, computed in one query for all cutoffs (the model's inputs must already be
    registered on ``engine``), each cutoff's buyers in person order."""
    engine.register("c360_cutoff", pa.table({"cutoff": pa.array(cutoffs, pa.date32()),
                                             "horizon": pa.array([horizon] * len(cutoffs), pa.int64())}))
    engine.register_query("c360_churn_buyers", buyers_sql(cutoffs, horizon))
    sql = resources.files("c360.analytics").joinpath("churn_features.sql").read_text()
    rows = engine.sql(expand(sql))  # ordered by cutoff, then person (the engine's sort: 1.3 s less than Arrow's at M)
    out = {}
    for cutoff in cutoffs:
        at = rows.filter(pc.equal(rows.column("cutoff"), pa.scalar(cutoff, pa.date32()))).drop_columns(["cutoff"])
        ids = at.column("person_id")
        if at.num_rows > 1 and not pc.all(pc.less(ids.slice(0, at.num_rows - 1), ids.slice(1))).as_py():
            at = at.sort_by("person_id")  # an engine that returned them otherwise
        out[cutoff] = at
    return out


def buyers_sql(cutoffs: list[date], horizon: int) -> str:
    """Every buyer's first and last order day, orders and spend up to each cutoff and orders in the
    ``horizon`` days after it, as rows (cutoff, person_id, first_date, last_date, frequency,
    monetary, future_orders). One GROUP BY person with a set of aggregates per cutoff, then one
    row per cutoff: crossing the orders with the cutoffs first grouped three times the rows (at
    M 30.7M rows, 3.2 s against 1.6 s; docs/decisions/0013)."""
    aggs, rows = [], []
    for i, cutoff in enumerate(cutoffs):
        upto, end = f"DATE '{cutoff.isoformat()}'", f"DATE '{(cutoff + timedelta(days=horizon)).isoformat()}'"
        known = f"order_date <= {upto}"
        aggs.append(f"min(CASE WHEN {known} THEN order_date END) AS first_{i}, "
                    f"max(CASE WHEN {known} THEN order_date END) AS last_{i}, "
                    f"count(CASE WHEN {known} THEN 1 END) AS frequency_{i}, "
                    f"sum(CASE WHEN {known} THEN cents END) AS cents_{i}, "
                    f"count(CASE WHEN order_date > {upto} AND order_date <= {end} THEN 1 END) AS future_{i}")
        rows.append(f"SELECT {upto} AS cutoff, person_id, first_{i} AS first_date, last_{i} AS last_date, "
                    f"frequency_{i} AS frequency, cents_{i} / 100 AS monetary, future_{i} AS future_orders "
                    f"FROM per_person")
    return (f"WITH per_person AS (SELECT person_id, {', '.join(aggs)} FROM "
            f"(SELECT person_id, order_date, CAST(round(amount * 100) AS BIGINT) AS cents FROM gold_fact_orders "
            f"WHERE person_id IS NOT NULL) AS o GROUP BY person_id) " + " UNION ALL ".join(rows))


def matrix(t: pa.Table, rating_fill: float) -> np.ndarray:
    """The model's design matrix: counts and money as log(1 + x); a missing rating as ``rating_fill``."""
    cols = []
    for name in FEATURES:
        v = t.column(name).to_numpy(zero_copy_only=False).astype(float)
        if name == "avg_rating":
            v = np.where(np.isnan(v), rating_fill, v)
        cols.append(np.log1p(np.maximum(v, 0)) if name in _LOGGED else v)
    return np.column_stack(cols)


def calibration(y: np.ndarray, p: np.ndarray, bins: int = 10) -> list[dict[str, float]]:
    """Reliability table: per probability bin, customers, mean predicted and observed churn."""
    edges = np.linspace(0, 1, bins + 1)
    which = np.clip(np.digitize(p, edges) - 1, 0, bins - 1)
    out = []
    for b in range(bins):
        sel = which == b
        if sel.any():
            out.append({"bin": f"{edges[b]:.1f}-{edges[b + 1]:.1f}", "customers": int(sel.sum()),
                        "predicted": round(float(p[sel].mean()), 4), "observed": round(float(y[sel].mean()), 4)})
    return out


def expected_calibration_error(y: np.ndarray, p: np.ndarray, bins: int = 10) -> float:
    """Customer-weighted mean |predicted - observed| over the calibration bins."""
    table = calibration(y, p, bins)
    return float(sum(r["customers"] * abs(r["predicted"] - r["observed"]) for r in table) / max(len(y), 1))


def fit_and_score(engine: Engine, as_of: date, horizon: int) -> tuple[pa.Table, dict[str, Any]]:
    """Train, test and score as the module docstring says; returns the scored buyers and the
    model report (AUC, Brier, calibration, coefficients, row counts)."""
    cutoffs = [as_of - timedelta(days=2 * horizon), as_of - timedelta(days=horizon), as_of]
    train, test, now = features(engine, cutoffs, horizon).values()
    report: dict[str, Any] = {"as_of": as_of.isoformat(), "horizon_days": horizon,
                              "train_rows": train.num_rows, "test_rows": test.num_rows}
    y_train = np.asarray(train.column("churned").to_pylist(), dtype=bool)
    if train.num_rows < MIN_TRAIN or y_train.all() or not y_train.any():
        # too little history to learn from: every buyer is scored unknown, and the audit says why
        report["not_fitted"] = (f"{train.num_rows} buyers {2 * horizon} days before {as_of}, {int(y_train.sum())} "
                                f"of them churned: need {MIN_TRAIN}+ and both outcomes (history shorter than "
                                f"twice analytics.churn_horizon_days?)")
        n = now.num_rows
        scored = now.drop_columns(["churned"]).append_column("churn_probability", pa.nulls(n, pa.float64()))
        return scored.append_column("churn_risk", pa.array(["unknown"] * n)).append_column(
            "main_driver", pa.nulls(n, pa.string())), report
    ratings = train.column("avg_rating").to_numpy(zero_copy_only=False).astype(float)
    fill = float(np.nanmean(ratings)) if np.isfinite(ratings).any() else 3.0
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    model.fit(matrix(train, fill), y_train)
    y_test = np.asarray(test.column("churned").to_pylist(), dtype=bool)
    if test.num_rows and 0 < y_test.sum() < len(y_test):
        p_test = model.predict_proba(matrix(test, fill))[:, 1]
        report.update(auc=round(float(roc_auc_score(y_test, p_test)), 4),
                      brier=round(float(brier_score_loss(y_test, p_test)), 4),
                      ece=round(expected_calibration_error(y_test, p_test), 4),
                      base_rate=round(float(y_test.mean()), 4), calibration=calibration(y_test, p_test))
    scaler, lr = model.named_steps["standardscaler"], model.named_steps["logisticregression"]
    report["coefficients"] = {f: round(float(c), 4) for f, c in zip(FEATURES, lr.coef_[0], strict=True)}
    x_now = matrix(now, fill)
    p_now = model.predict_proba(x_now)[:, 1]
    push = scaler.transform(x_now) * lr.coef_[0]  # each feature's contribution to the log-odds
    driver = np.array(FEATURES)[push.argmax(axis=1)]
    risk = np.where(p_now >= HIGH, "high", np.where(p_now >= MEDIUM, "medium", "low"))
    scored = now.drop_columns(["churned"]).append_column("churn_probability", pa.array(np.round(p_now, 6)))
    scored = scored.append_column("churn_risk", pa.array(risk)).append_column("main_driver", pa.array(driver))
    return scored, report


def build_churn_risk(ctx: Any, table_id: str, rec: Any) -> None:
    """gold.churn_risk: fit, test and score (see the module docstring); the report goes to the audit."""
    from c360.engine.models import register_inputs
    from c360.lake.build import write_checked
    from c360.lake.gold import last_order_day

    spec = catalog.get(table_id)
    register_inputs(ctx.engine, ctx.lake, spec)
    last = last_order_day(ctx.engine)
    if last is None:
        write_checked(ctx, table_id, rec, spec.schema().empty_table())
        return
    scored, report = fit_and_score(ctx.engine, last, ctx.settings.analytics.churn_horizon_days)
    rec.details["churn"] = report
    write_checked(ctx, table_id, rec, scored)
