"""Benchmark the pipeline at named scales and append the figures to docs/benchmarks.md.

    .venv/bin/python bench/run.py --scale S [--scale M] [--seed 42] [--keep DIR]

Each scale runs in a fresh home, each command in its own process (so peak RSS is that command's):
``c360 generate``, then ``c360 run`` (bronze → silver → gold), then ``c360 run`` again (the
no-new-input re-run). Per-stage wall times and rows come from the run audit.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import psutil

from machine import reference  # bench/machine.py, beside this script

REPO = Path(__file__).resolve().parents[1]
DOC = REPO / "docs" / "benchmarks.md"
HEADER = ("| date | machine | scale | step | wall s | rows | rows/s | peak RSS MB |\n"
          "|---|---|---|---|---:|---:|---:|---:|\n")


def machine(reference_s: float | None = None) -> str:
    """The machine's shape, and its speed today (bench/machine.py) when measured."""
    mem = psutil.virtual_memory().total / 2**30
    ref = f", reference {reference_s} s" if reference_s is not None else ""
    return f"{platform.machine()} {os.cpu_count()} cores {mem:.0f} GB, Python {platform.python_version()}{ref}"


def run_measured(args: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Run ``python -m c360 ARGS``; returns (wall seconds, peak RSS MB of the process tree)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "c360", *args], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    ps = psutil.Process(proc.pid)
    peak = 0
    while proc.poll() is None:
        try:
            rss = ps.memory_info().rss + sum(c.memory_info().rss for c in ps.children(recursive=True))
            peak = max(peak, rss)
        except psutil.NoSuchProcess:
            pass
        time.sleep(0.05)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"c360 {' '.join(args)} failed:\n{proc.stderr.read() if proc.stderr else ''}")
    return wall, peak / 2**20


def bench_scale(scale: str, seed: int, home: Path, generate_only: bool = False) -> list[tuple[str, float, int, float]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("C360_")}
    env["C360_HOME"] = str(home)
    rows: list[tuple[str, float, int, float]] = []
    wall, rss = run_measured(["generate", "--scale", scale, "--seed", str(seed)], env)
    manifest = json.loads((home / "sources" / "files" / "_manifest.json").read_text())
    records = sum(v for k, v in manifest["counts"].items() if k not in ("persons", "sessions", "stream_records"))
    rows.append(("generate", wall, records, rss))
    if generate_only:
        return rows
    for label in ("pipeline", "re-run (no new input)"):
        wall, rss = run_measured(["run"], env)
        status = json.loads(subprocess.run([sys.executable, "-m", "c360", "status", "--json", "--limit", "1"],
                                           env=env, capture_output=True, text=True, check=True).stdout)[0]
        total_rows = 0
        for st in status["stages"]:
            secs = (_ts(st["ended_at"]) - _ts(st["started_at"]))
            n = st["rows_in"] if st["stage"].startswith("bronze.") else st["rows_out"]
            total_rows += st["rows_in"] if st["stage"].startswith("bronze.") else 0
            if label == "pipeline":
                rows.append((f"  {st['stage']}", secs, n, float("nan")))
        rows.append((label, wall, total_rows, rss))
    return rows


def _ts(s: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(s).timestamp()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scale", action="append", choices=["XS", "S", "M", "L"], required=True)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--keep", type=Path, help="keep the homes under this directory")
    ap.add_argument("--no-write", action="store_true", help="print only; do not append to docs/benchmarks.md")
    ap.add_argument("--generate-only", action="store_true", help="measure the generator only")
    a = ap.parse_args()
    lines = []
    # this VM's speed drifts between sessions and within one: the figures carry a reference time
    ref = reference()["reference_s"]
    for scale in a.scale:
        with tempfile.TemporaryDirectory(prefix=f"c360-bench-{scale}-") as tmp:
            home = (a.keep / scale) if a.keep else Path(tmp) / "home"
            for step, wall, n, rss in bench_scale(scale, a.seed, home, a.generate_only):
                rate = f"{n / wall:,.0f}" if wall > 0 and n else "-"
                mem = "-" if rss != rss else f"{rss:,.0f}"  # NaN: per-stage rows share the process
                cells = [str(date.today()), machine(ref), scale, step, f"{wall:.2f}", f"{n:,}", rate, mem]
                lines.append("| " + " | ".join(cells) + " |")
                print(lines[-1], flush=True)
    if not a.no_write:
        text = DOC.read_text() if DOC.exists() else ""
        marker = "<!-- results -->\n"
        if marker not in text:
            text += f"\n## Results\n\n{marker}{HEADER}"
        DOC.write_text(text + "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
