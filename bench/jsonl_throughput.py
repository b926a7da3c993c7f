"""JSON-lines throughput: c360's bronze file ingest against plain DuckDB ``read_json`` (the ceiling)
on the same ~15 GB of partitioned transaction logs (the daily volume of one reference design).

    .venv/bin/python bench/jsonl_throughput.py --from-home HOME [--gb 15] [--work DIR] [--no-write]

The logs are the payment logs (``transactions/year=/month=/day=``) of a generated home (run
``bench/run.py --scale M --keep DIR`` first), copied under ``copy=N/`` prefixes until the total
reaches ``--gb``. Both readers are measured on the same files, each in its own process, the
ceiling first: DuckDB reading every file with every column as text (what bronze reads) into
Arrow batches that are dropped; then c360's ``bronze.payments`` stage on those files —
validation, quarantine, lineage, Delta write, ledger and reconciliation included.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import DOC, machine

SECTION = "## JSON-lines throughput"
END = "<!-- jsonl-throughput -->"
HEADER = ("| date | machine | data | reader | wall s | MB/s | lines/s | peak RSS MB |\n"
          "|---|---|---|---|---:|---:|---:|---:|\n")


def build(src_home: Path, work: Path, gb: float) -> tuple[list[Path], int]:
    """Copy the home's payment logs under copy=N/ until ``gb`` GB; returns (files, bytes)."""
    logs = sorted((src_home / "sources" / "files" / "transactions").rglob("*.jsonl"))
    if not logs:
        raise SystemExit(f"no transaction logs under {src_home}/sources/files/transactions")
    root = work / "sources" / "files" / "transactions"
    files, total, copy = [], 0, 0
    while total < gb * 1e9:
        for f in logs:
            dest = root / f"copy={copy:02d}" / f.relative_to(src_home / "sources" / "files" / "transactions")
            if not dest.exists():
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(f, dest)  # a real copy: the readers must not share one file's pages
            files.append(dest)
            total += dest.stat().st_size
            if total >= gb * 1e9:
                break
        copy += 1
    return files, total


CEILING = """
import sys, duckdb
from c360 import catalog
from c360.lake.bronze.columnar import _read_json
files = open(sys.argv[1]).read().split("\\n")
con = duckdb.connect()
con.execute("SET enable_progress_bar = false")
reader = con.sql("SELECT * FROM " + _read_json(files, catalog.get("bronze.payments"))).arrow()
n = 0
for batch in reader:
    n += batch.num_rows
print(n)
"""

C360 = """
import sys
from c360.config import load_settings
from c360.ops.pipeline import run_pipeline
result = run_pipeline(load_settings(home=sys.argv[1]), ["bronze"], select=["bronze.payments"])
rec = result.stages[0][0]
print(f"{rec.rows_out:,} rows, {rec.rows_quarantined:,} quarantined")
"""


def measured(code: str, *args: str) -> tuple[float, float, str]:
    """Run Python ``code`` in a fresh process; (wall s, peak RSS MB, its stdout)."""
    t0 = time.perf_counter()
    env = {k: v for k, v in os.environ.items() if not k.startswith("C360_")}
    proc = subprocess.Popen([sys.executable, "-c", code, *args], stdout=subprocess.PIPE, text=True, env=env)
    ps, peak = psutil.Process(proc.pid), 0
    while proc.poll() is None:
        with contextlib.suppress(psutil.NoSuchProcess):
            peak = max(peak, ps.memory_info().rss)
        time.sleep(0.05)
    out = proc.stdout.read() if proc.stdout else ""
    if proc.returncode:
        raise SystemExit(f"benchmark step failed ({proc.returncode})")
    return time.perf_counter() - t0, peak / 2**20, out.strip().splitlines()[-1]  # its last line


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--from-home", type=Path, required=True, help="a generated home (bench/run.py --keep)")
    ap.add_argument("--gb", type=float, default=15.0)
    ap.add_argument("--work", type=Path, default=Path("/work/jsonl-throughput"))
    ap.add_argument("--no-write", action="store_true")
    a = ap.parse_args()
    if (a.work / "lake").exists():
        shutil.rmtree(a.work / "lake")  # each run ingests every file again
    files, total = build(a.from_home, a.work, a.gb)
    listing = a.work / "files.txt"
    listing.write_text("\n".join(str(f) for f in files))
    data = f"{total / 1e9:.1f} GB, {len(files)} files"
    rows = []
    wall, rss, out = measured(CEILING, str(listing))
    lines = int(out)
    rows.append(("DuckDB read_json (text columns, ceiling)", wall, rss))
    wall, rss, out = measured(C360, str(a.work))
    rows.append((f"c360 bronze ingest ({out})", wall, rss))
    table = "".join(f"| {date.today()} | {machine()} | {data} | {name} | {w:.1f} | {total / 1e6 / w:,.0f} | "
                    f"{lines / w:,.0f} | {r:,.0f} |\n" for name, w, r in rows)
    print(HEADER + table)
    if not a.no_write:  # rows go above END, in a section kept before bench/run.py's results table
        doc = DOC.read_text()
        if END not in doc:
            section = f"{SECTION}\n\nWritten by `bench/jsonl_throughput.py` (see its docstring).\n\n{HEADER}{END}\n"
            doc = doc.replace("## Results\n", section + "\n## Results\n", 1)
        DOC.write_text(doc.replace(END, table + END, 1))


if __name__ == "__main__":
    main()
