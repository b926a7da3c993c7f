"""Score identity resolution against the generator's truth on a lake the pipeline has built, and
record it in docs/benchmarks.md.

    .venv/bin/python bench/identity_quality.py HOME [--scale M] [--no-write]

HOME is a c360 home after `c360 generate` and `c360 run` (e.g. kept by `bench/run.py --keep`).
Pairwise precision, recall and F1 over all identity records (CRM customers, partner profiles,
guest-order contacts, cookies) and over the person records alone (customers + profiles); plus the
identity stage's wall time and record count from the run audit.
"""

from __future__ import annotations

import argparse
import io
import json
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from c360.config import load_settings
from c360.identity.evaluate import score_lake
from c360.lake.store import lake_from_settings
from c360.ops.audit import read_audit
from c360.sources.objectstore import open_object_store

DOC = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"
SECTION = "## Identity resolution quality\n\n"
HEADER = ("| date | scale | records | scored on | precision | recall | F1 | identity stage s |\n"
          "|---|---|---:|---|---:|---:|---:|---:|\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("home", type=Path)
    ap.add_argument("--scale", default="?")
    ap.add_argument("--no-write", action="store_true")
    a = ap.parse_args()
    s = load_settings(home=a.home)
    lake, store = lake_from_settings(s), open_object_store(s)
    truth = pa.concat_tables(pq.read_table(io.BytesIO(store.get(o.key))) for o in store.list("_truth/"))
    stage = [r for r in read_audit(lake) if r["table_id"] == "silver.identity_map" and r["status"] == "SUCCESS"][-1]
    secs = (stage["ended_at"] - stage["started_at"]).total_seconds()
    records = json.loads(stage["details"])["identity"]["records"]
    lines = []
    for name, sc in score_lake(lake, truth).items():
        cells = [str(date.today()), a.scale, f"{sc.records:,}", name, f"{sc.precision:.4f}", f"{sc.recall:.4f}",
                 f"{sc.f1:.4f}", f"{secs:.1f}"]
        lines.append("| " + " | ".join(cells) + " |")
        print(lines[-1], flush=True)
    print("records by source:", records)
    if not a.no_write:
        text = DOC.read_text()
        if SECTION not in text:
            at = text.index("## Results") if "## Results" in text else len(text)
            text = text[:at] + SECTION + HEADER + "\n" + text[at:]
        at = text.index(SECTION) + len(SECTION) + len(HEADER)
        DOC.write_text(text[:at] + "\n".join(lines) + "\n" + text[at:])


if __name__ == "__main__":
    main()
