"""The CLI as a user runs it: a real subprocess, real files under a temporary home."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest


def c360(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("C360_")}
    full_env.update({"COLUMNS": "200", **(env or {})})
    return subprocess.run([sys.executable, "-m", "c360", *args], cwd=cwd, env=full_env, text=True,
                          capture_output=True, timeout=300)


@pytest.fixture(scope="module")
def demo_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("cli")
    r = c360("--home", str(d / "home"), "demo", cwd=d)
    assert r.returncode == 0, r.stderr
    assert "customer 360 — key figures" in r.stdout and "demo finished" in r.stdout
    return d


def test_demo_writes_layered_delta_tables(demo_home: Path) -> None:
    lake = demo_home / "home" / "lake"
    for t in ("bronze/purchases", "silver/orders", "gold/customer_360", "ops/run_audit"):
        assert (lake / t / "_delta_log").is_dir(), t


def test_tables_and_status_json(demo_home: Path) -> None:
    home = str(demo_home / "home")
    tables = json.loads(c360("--home", home, "tables", "--json", cwd=demo_home).stdout)
    by = {t["table"]: t for t in tables}
    assert by["gold.customer_360"]["rows"] > 1000 and by["gold.customer_360"]["layer"] == "gold"
    assert by["gold.customer_360"]["version"] is not None and by["gold.customer_360"]["last_update"]
    runs = json.loads(c360("--home", home, "status", "--json", cwd=demo_home).stdout)
    assert runs[0]["status"] == "SUCCESS" and runs[0]["command"] == "demo"
    assert {s["stage"] for s in runs[0]["stages"]} >= {"bronze.purchases", "silver.orders", "gold.customer_360"}
    # the human view says, per bronze stage, that source = bronze + quarantine and how many rows were checksummed
    text = c360("--home", home, "status", "--limit", "1", cwd=demo_home).stdout
    line = next(x for x in text.splitlines() if x.strip().startswith("bronze.payments"))
    rec = json.loads(next(s for s in runs[0]["stages"] if s["stage"] == "bronze.payments")["details"])["reconciliation"]
    assert f"{rec['source']:,} = {rec['bronze']:,} + {rec['quarantine']:,}" in line and "checksummed" in line


def test_run_again_keeps_gold_row_counts(demo_home: Path) -> None:
    home = str(demo_home / "home")

    def rows() -> dict[str, int]:
        out = json.loads(c360("--home", home, "tables", "--json", cwd=demo_home).stdout)
        return {t["table"]: t["rows"] for t in out if t["layer"] in ("bronze", "silver", "gold")}

    before = rows()
    r = c360("--home", home, "run", cwd=demo_home)
    assert r.returncode == 0, r.stderr
    assert rows() == before


def test_demo_again_reuses_sources(demo_home: Path) -> None:
    r = c360("--home", str(demo_home / "home"), "demo", cwd=demo_home)
    assert r.returncode == 0 and "reusing it" in r.stdout


def test_init_writes_a_loadable_config(tmp_path: Path) -> None:
    assert c360("init", cwd=tmp_path).returncode == 0
    assert "profile: dev" in (tmp_path / "c360.yaml").read_text()
    again = c360("init", cwd=tmp_path)
    assert again.returncode == 1 and "already exists" in again.stderr
    r = c360("--home", str(tmp_path / "h"), "status", cwd=tmp_path)
    assert r.returncode == 0 and "no runs recorded yet" in r.stdout


def test_bad_config_is_one_line_without_traceback(tmp_path: Path) -> None:
    (tmp_path / "c360.yaml").write_text("lake:\n  rooot: /x\n")
    r = c360("run", cwd=tmp_path)
    assert r.returncode == 1
    lines = [x for x in r.stderr.splitlines() if x.strip()]
    assert len(lines) == 1 and "unknown key 'lake.rooot'" in lines[0] and "Traceback" not in r.stderr
    debug = c360("--debug", "run", cwd=tmp_path)
    assert "Traceback" in debug.stderr


def test_unreachable_crm_fails_the_stage_with_a_fix(tmp_path: Path) -> None:
    env = {"C360_CRM__URL": "mysql+pymysql://root@127.0.0.1:1/crm"}
    r = c360("--home", str(tmp_path / "h"), "run", "--layer", "bronze", cwd=tmp_path, env=env)
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert "CRM database error" in r.stderr and "127.0.0.1:1" in r.stderr
    runs = json.loads(c360("--home", str(tmp_path / "h"), "status", "--json", cwd=tmp_path, env=env).stdout)
    failed = {s["stage"] for s in runs[0]["stages"] if s["status"] == "FAILED"}
    assert runs[0]["status"] == "FAILED" and "bronze.crm_customers" in failed


def test_unknown_layer_is_rejected(tmp_path: Path) -> None:
    r = c360("--home", str(tmp_path / "h"), "run", "--layer", "platinum", cwd=tmp_path)
    assert r.returncode == 1 and "unknown layer(s): platinum" in r.stderr


def test_ingest_stream_follow_takes_new_events_until_sigterm(tmp_path: Path) -> None:
    """`c360 ingest-stream --follow` drains the stream, picks up events that arrive later, and on
    SIGTERM finishes its micro-batch and exits cleanly: every record exactly once."""
    import signal
    import time

    from c360.config import load_settings
    from c360.lake.store import lake_from_settings
    from c360.ops.audit import recent_runs
    from c360.sources.stream import open_stream

    home = tmp_path / "home"
    assert c360("--home", str(home), "generate", "--scale", "XS", cwd=tmp_path).returncode == 0
    man = json.loads((home / "sources" / "files" / "_manifest.json").read_text())
    s = load_settings(home=home)
    lake = lake_from_settings(s)
    env = {k: v for k, v in os.environ.items() if not k.startswith("C360_")}
    proc = subprocess.Popen([sys.executable, "-m", "c360", "--home", str(home), "ingest-stream", "--follow",
                             "--trigger-interval", "0.2"], cwd=tmp_path, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def bronze_events() -> int:
        return lake.count("bronze.events") if lake.exists("bronze.events") else 0

    def wait_for(n: int) -> None:
        deadline = time.monotonic() + 120
        while bronze_events() < n and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert bronze_events() == n, proc.stderr.read() if proc.poll() is not None else "timed out"

    first = man["counts"]["events"] + man["defects"]["events_duplicate"]
    wait_for(first)
    late = [(f"late{i}", json.dumps({"event_id": f"LATE{i}", "event_type": "page_view"}).encode())
            for i in range(40)]
    open_stream(s).put(late)
    wait_for(first + 40)
    assert proc.poll() is None  # still following
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert bronze_events() == first + 40
    run = recent_runs(lake, 1)[0]
    assert run["status"] == "SUCCESS" and run["command"] == "ingest-stream"
    stage = run["stages"][0]
    assert stage["rows_in"] == first + 40 + man["defects"]["events_poison"]


def test_dq_scorecard_and_thresholds(demo_home: Path) -> None:
    home = str(demo_home / "home")
    r = c360("--home", home, "dq", "--json", cwd=demo_home)
    assert r.returncode == 0, r.stdout + r.stderr
    card = {c["table_id"]: c for c in json.loads(r.stdout)}
    orders = card["silver.orders"]
    assert orders["status"] == "PASS" and orders["threshold"] == 0.9
    assert set(orders["dimensions"]) >= {"completeness", "validity", "uniqueness", "consistency"}
    assert orders["failing_rules"]["amount_positive"] > 0  # the generator injects bad prices
    assert card["silver.web_events"]["dimensions"]["timeliness"] < 1  # and late events
    # a per-table threshold above the table's score marks it failed: the scorecard exits 1
    strict = {"C360_QUALITY__THRESHOLDS": json.dumps({"silver.orders": 0.999})}
    r = c360("--home", home, "dq", cwd=demo_home, env=strict)
    assert r.returncode == 1
    line = next(x for x in r.stdout.splitlines() if "silver.orders" in x)
    assert "FAILED" in line and "0.999" in line
    # and the next build of that table stops before writing anything
    version = json.loads(c360("--home", home, "tables", "--json", cwd=demo_home).stdout)
    before = next(t["version"] for t in version if t["table"] == "silver.orders")
    r = c360("--home", home, "run", "--select", "silver.orders", cwd=demo_home, env=strict)
    assert r.returncode != 0 and "below its threshold 0.999" in r.stdout + r.stderr
    after = json.loads(c360("--home", home, "tables", "--json", cwd=demo_home).stdout)
    assert next(t["version"] for t in after if t["table"] == "silver.orders") == before


def test_identity_resolve_on_a_csv(tmp_path: Path) -> None:
    (tmp_path / "people.csv").write_text(
        "id,name,mail,tel,born,country\n"
        "1,Bob Smith,BOB+shop@example.com,020 7946 0958,01/02/1980,UK\n"
        "2,Robert SMITH,bob@example.com,,1980-02-01,GB\n"
        "3,Rob Smith,,+44 20 7946 0958,,GB\n"
        "4,Zed Zulu,zed@z.io,,1999-09-09,US\n"
        "5,Ann Lee,ann@lee.org,,1975-05-05,FR\n")
    r = c360("identity", "resolve", "people.csv", "--id-column", "id", "--column", "full_name=name",
             "--column", "email=mail", "--column", "phone=tel", "--column", "dob=born", "--column", "country=country",
             "--output", "out/clusters.parquet", "--pairs", "out/pairs.csv", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    import pyarrow.csv as pcsv
    import pyarrow.parquet as pq

    out = pq.read_table(tmp_path / "out" / "clusters.parquet").to_pylist()
    cluster = {row["id"]: row["cluster_id"] for row in out}
    assert set(cluster) == {"1", "2", "3", "4", "5"}
    # 1-2 share a mailbox once normalised, 1-3 a phone once in E.164; 4 and 5 are on their own
    assert cluster["1"] == cluster["2"] == cluster["3"]
    assert len({cluster["1"], cluster["4"], cluster["5"]}) == 3
    pairs = pcsv.read_csv(tmp_path / "out" / "pairs.csv").to_pylist()
    assert {(p["id_l"], p["id_r"], p["rule"]) for p in pairs} >= {(1, 2, "same_email"), (1, 3, "same_phone")}
    assert "5 records -> 3 persons" in r.stderr
    bad = c360("identity", "resolve", "people.csv", "--id-column", "id", "--column", "nick=name",
               "--output", "o.csv", cwd=tmp_path)
    assert bad.returncode != 0 and "unknown role(s): nick" in bad.stderr + bad.stdout


def test_clv_fit_on_a_transaction_file(tmp_path: Path) -> None:
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(9)
    rows = []
    for c in range(400):  # customers buying every few weeks for a while, then some stop
        day = int(rng.integers(0, 60))
        lam = rng.gamma(1.0, 1 / 20)
        while day < 365:
            rows.append((f"C{c}", (np.datetime64("2024-01-01") + day).astype(str), float(rng.gamma(5, 8))))
            if rng.random() < 0.15:
                break
            day += int(rng.exponential(1 / lam)) + 1
    cust, day, amt = zip(*rows, strict=True)
    pq.write_table(pa.table({"cust": cust, "day": day, "amt": amt}), tmp_path / "tx.parquet")
    r = c360("clv", "fit", "tx.parquet", "--customer-column", "cust", "--date-column", "day",
             "--amount-column", "amt", "--calibration-end", "2024-09-30", "--output", "pred.csv", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert set(out["bgnbd"]) == {"r", "alpha", "a", "b"} and set(out["gamma_gamma"]) == {"p", "q", "v"}
    assert all(v > 0 for v in [*out["bgnbd"].values(), *out["gamma_gamma"].values()])
    assert out["customers"] == len({c for c, d, _ in rows if d <= "2024-09-30"})
    import pyarrow.csv as pcsv

    pred = pcsv.read_csv(tmp_path / "pred.csv").to_pylist()
    assert len(pred) == out["customers"] and all(0 <= p["p_alive"] <= 1 and p["clv_12m"] >= 0 for p in pred)
    bad = c360("clv", "fit", "tx.parquet", "--customer-column", "nope", "--date-column", "day",
               "--amount-column", "amt", cwd=tmp_path)
    assert bad.returncode != 0 and "column(s) not in tx.parquet: nope" in bad.stdout + bad.stderr


def test_ask_answers_the_classic_questions(demo_home: Path) -> None:
    home = str(demo_home / "home")
    listed = json.loads(c360("--home", home, "ask", "--json", cwd=demo_home).stdout)
    assert {q["name"] for q in listed} == {"top_customers_by_spend", "best_sellers_per_category",
                                           "monthly_revenue_trend", "aov_by_country"}
    assert all(q["title"] and q["tables"] for q in listed)
    r = c360("--home", home, "ask", "top_customers_by_spend", "--json", "--output", "top.csv", cwd=demo_home)
    assert r.returncode == 0, r.stderr
    top = json.loads(r.stdout)
    from deltalake import DeltaTable

    c360_rows = DeltaTable(str(demo_home / "home" / "lake" / "gold" / "customer_360")).to_pyarrow_table().to_pylist()
    best = sorted((row for row in c360_rows if row["order_count"]), key=lambda x: (-x["net_spend"], x["person_id"]))
    assert [t["person_id"] for t in top] == [b["person_id"] for b in best[:10]]
    assert (demo_home / "top.csv").read_text().count("\n") == 11  # header + 10
    text = c360("--home", home, "ask", "monthly_revenue_trend", cwd=demo_home).stdout
    assert "2024-12" in text
    bad = c360("--home", home, "ask", "best_customers", cwd=demo_home)
    assert bad.returncode == 1 and "unknown question 'best_customers'" in bad.stderr
    # the demo also exported its reports
    assert list((demo_home / "home" / "exports" / "daily_report" / "parquet").glob("month=2024-*"))
