"""A fixed workload that says how fast this machine is today, to read the other figures against.

    .venv/bin/python bench/machine.py

The VMs this project is measured on differ by up to 1.7x from one session to the next (gold at M
took 59-61 s on one and 98-109 s on another with the same code), and drift by ±25 % within a
session. A gold figure means little without this one beside it. The workload is the kind of work
gold does, on generated data so that it never changes: a DuckDB hash aggregate of 10M rows into
~1M groups on one thread (a per-person GROUP BY), a numpy sort of 10M 64-bit hashes (the key
check) and a 5M-row Delta write (delta-rs). Prints one JSON object with each part's seconds and
their sum, the "reference" the benchmark tables quote.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time

import duckdb
import numpy as np
from deltalake import write_deltalake

ROWS = 10_000_000


def reference() -> dict[str, float]:
    """Seconds of each part of the reference workload, best of two, and their sum."""
    def best(fn: object) -> float:
        times = []
        for _ in range(2):
            t0 = time.perf_counter()
            fn()  # type: ignore[operator]
            times.append(time.perf_counter() - t0)
        return round(min(times), 3)

    con = duckdb.connect()
    con.execute("SET threads = 1")
    con.execute(f"CREATE TABLE t AS SELECT 'P' || lpad(CAST(hash(i % 1000003) % 100000000000 AS VARCHAR), 11, '0') "
                f"AS k, i % 7919 AS v FROM range({ROWS}) AS r(i)")
    group_by = best(lambda: con.sql("SELECT k, sum(v), count(*) FROM t GROUP BY k").fetchall())
    hashes = np.random.default_rng(0).integers(0, 2**63, ROWS, dtype=np.int64)
    sort = best(lambda: np.sort(hashes))
    data = con.sql(f"SELECT k, v, CAST(v AS DOUBLE) / 7 AS x FROM t LIMIT {ROWS // 2}").to_arrow_table()
    where = tempfile.mkdtemp(prefix="c360-machine-")
    try:
        write = best(lambda: write_deltalake(where, data, mode="overwrite"))
    finally:
        shutil.rmtree(where, ignore_errors=True)
        con.close()
    return {"group_by_s": group_by, "sort_s": sort, "delta_write_s": write,
            "reference_s": round(group_by + sort + write, 2)}


if __name__ == "__main__":
    print(json.dumps(reference()))
