"""Measure gold on a lake the pipeline has built, and record it in docs/benchmarks.md.

    .venv/bin/python bench/gold_quality.py HOME [--scale M] [--calibration-end 2024-09-01] [--no-write]

HOME is a c360 home after `c360 generate` and `c360 run` (e.g. kept by `bench/run.py --keep`).
Records:
  * "Gold at M": the wall time of the gold layer (first gold stage start to last gold stage end)
    and of each gold table, from the newest successful run in the audit, with this machine's
    reference time (bench/machine.py) measured now: run this right after the gold build;
  * "Gold analytics quality": churn AUC / Brier / ECE on the later time window (from the audit),
    recommendation hit-rate@10 against popularity on a 60-day holdout, CLV holdout validation —
    predicted vs actual purchases per decile of predicted purchases.
"""

from __future__ import annotations

import argparse
import json
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow.compute as pc

from c360.analytics.clv import validate_holdout
from c360.analytics.recommend import evaluate
from c360.config import load_settings
from c360.lake.gold import GOLD_TABLES
from c360.lake.store import lake_from_settings
from c360.ops.audit import last_stage_detail, recent_runs
from machine import reference  # bench/machine.py, beside this script

DOC = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"


def _insert(text: str, section: str, header: str, lines: list[str]) -> str:
    """Add ``lines`` at the top of ``section``'s table (creating the section before Results)."""
    if section not in text:
        at = text.index("## Results") if "## Results" in text else len(text)
        text = text[:at] + section + header + "\n" + text[at:]
    at = text.index(section) + len(section) + len(header)
    return text[:at] + "\n".join(lines) + "\n" + text[at:]


def _replace_section(text: str, section: str, body: str) -> str:
    """Replace ``section``'s body (up to the next ``## `` heading) with ``body``, or add it before Results."""
    if section not in text:
        at = text.index("## Results") if "## Results" in text else len(text)
        return text[:at] + section + body + text[at:]
    start = text.index(section) + len(section)
    end = text.find("\n## ", start)
    return text[:start] + body + (text[end + 1:] if end >= 0 else "")


def gold_timing(lake: Any) -> tuple[float, list[tuple[str, float, int]]]:
    """(gold wall seconds, per table (id, seconds, rows)) of the newest run that built all of gold."""
    for run in recent_runs(lake, 20):
        stages = {s["stage"]: s for s in run["stages"] if s["stage"] in GOLD_TABLES and s["status"] == "SUCCESS"}
        if len(stages) == len(GOLD_TABLES):
            start = min(s["started_at"] for s in stages.values())
            end = max(s["ended_at"] for s in stages.values())
            per = [(t, (stages[t]["ended_at"] - stages[t]["started_at"]).total_seconds(), stages[t]["rows_out"])
                   for t in GOLD_TABLES]
            return (end - start).total_seconds(), per
    raise SystemExit("no run in the audit built every gold table")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("home", type=Path)
    ap.add_argument("--scale", default="?")
    ap.add_argument("--calibration-end", default="2024-09-01")
    ap.add_argument("--no-write", action="store_true")
    a = ap.parse_args()
    lake = lake_from_settings(load_settings(home=a.home))
    today = str(date.today())

    wall, per = gold_timing(lake)
    ref = reference()
    timing = [f"| {today} | {a.scale} | **gold layer** (machine reference {ref['reference_s']} s) | **{wall:.1f}** | |"]
    timing += [f"| {today} | {a.scale} | {t} | {secs:.1f} | {rows:,} |" for t, secs, rows in per]
    print("\n".join(timing), flush=True)

    churn = last_stage_detail(lake, "gold.churn_risk", "churn")
    recs = evaluate(lake, holdout_days=60, k=10)
    facts = lake.read("gold.fact_sales", ["person_id", "order_date", "amount"])
    facts = facts.filter(pc.is_valid(facts.column("person_id")))
    clv = validate_holdout(facts, "person_id", "order_date", "amount", a.calibration_end)
    print(json.dumps({"churn": churn, "recommendations": recs, "clv": clv}, indent=1, default=str), flush=True)
    quality = [
        f"| {today} | {a.scale} | churn (test window) | AUC {churn['auc']}, Brier {churn['brier']}, "
        f"ECE {churn['ece']}, base rate {churn['base_rate']} | train {churn['train_rows']:,} / "
        f"test {churn['test_rows']:,} buyers, horizon {churn['horizon_days']} d |",
        f"| {today} | {a.scale} | recommendations hit-rate@10 | {recs['hit_rate']} vs popularity "
        f"{recs['popularity_hit_rate']} | {recs['persons']:,} buyers with a new product in the "
        f"{recs['holdout_days']} days after {recs['cutoff']} |",
        f"| {today} | {a.scale} | CLV holdout purchases | predicted {clv['predicted_total']:,} vs actual "
        f"{clv['actual_total']:,} ({clv['total_error_pct']:+} %) | {clv['customers']:,} buyers calibrated to "
        f"{clv['calibration_end']}, {clv['holdout_units']} weeks |",
    ]
    deciles = [f"| {a.scale} | {d['decile']} | {d['customers']:,} | {d['predicted']} | {d['actual']} |"
               for d in clv["deciles"]]
    print("\n".join(quality + deciles))
    if not a.no_write:
        text = DOC.read_text()
        text = _insert(text, "## Gold at M\n\n", "| date | scale | table | wall s | rows |\n|---|---|---|---:|---:|\n",
                       timing)
        text = _insert(text, "## Gold analytics quality\n\n",
                       "| date | scale | model | result | on |\n|---|---|---|---|---|\n", quality)
        # the deciles of the latest measurement replace the previous ones (they carry no date)
        text = _replace_section(text, "## CLV holdout validation by decile\n\n",
                                f"Calibrated to {a.calibration_end}; deciles of predicted holdout purchases (1 = "
                                f"most); mean purchases per buyer. Measured {today}.\n\n"
                                "| scale | decile | buyers | predicted | actual |\n|---|---:|---:|---:|---:|\n"
                                + "\n".join(deciles) + "\n\n")
        DOC.write_text(text)


if __name__ == "__main__":
    main()
