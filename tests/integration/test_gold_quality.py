"""The gold models are worth acting on: on a generated company (whose customers churn, lapse and
favour categories by construction) the churn model ranks and is calibrated, the recommendations
beat the popularity baseline, and CLV predicts a holdout period."""

from __future__ import annotations

from collections.abc import Iterator

import pyarrow.compute as pc
import pytest

from c360.analytics.clv import validate_holdout
from c360.analytics.recommend import evaluate
from c360.config import Settings, load_settings
from c360.lake.store import Lake, lake_from_settings
from c360.ops.audit import last_stage_detail
from c360.ops.pipeline import run_pipeline
from c360.sources.generator import build_world
from tests.integration.conftest import write_world

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def company(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Settings, Lake]]:
    home = tmp_path_factory.mktemp("quality")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(home)
        s = load_settings(home=home / "home")
        write_world(s, build_world(1500, 11))
        run_pipeline(s)
        yield s, lake_from_settings(s)


def test_churn_model_ranks_and_is_calibrated_on_a_later_window(company: tuple[Settings, Lake]) -> None:
    report = last_stage_detail(company[1], "gold.churn_risk", "churn")
    assert report["train_rows"] > 500 and report["test_rows"] > 500
    assert report["auc"] > 0.75  # chance is 0.5
    assert report["ece"] < 0.08
    # the most confident bins are right most of the time
    top = [b for b in report["calibration"] if b["predicted"] >= 0.8]
    assert top and all(b["observed"] > 0.6 for b in top)
    risk = company[1].read("gold.churn_risk")
    assert set(risk.column("churn_risk").to_pylist()) <= {"high", "medium", "low"}


def test_recommendations_beat_popularity_on_a_holdout(company: tuple[Settings, Lake]) -> None:
    result = evaluate(company[1], holdout_days=60, k=10)
    assert result["persons"] > 200
    assert result["hit_rate"] > 1.3 * result["popularity_hit_rate"]


def test_clv_predicts_a_holdout_period(company: tuple[Settings, Lake]) -> None:
    facts = company[1].read("gold.fact_sales", ["person_id", "order_date", "amount"])
    facts = facts.filter(pc.is_valid(facts.column("person_id")))
    v = validate_holdout(facts, "person_id", "order_date", "amount", "2024-09-01")
    assert abs(v["total_error_pct"]) < 10
    deciles = v["deciles"]
    assert deciles[0]["actual"] > 3 * deciles[-1]["actual"]  # the ranking separates buyers
    assert deciles[0]["predicted"] >= deciles[-1]["predicted"]
    clv = company[1].read("gold.customer_clv")
    assert pc.min(clv.column("predicted_clv")).as_py() >= 0
    assert last_stage_detail(company[1], "gold.customer_clv", "clv")["customers"] == clv.num_rows
