"""`c360 serve load` into the embedded DuckDB file and into a real PostgreSQL: the served tables
equal gold, a second load writes nothing, a changed gold table moves exactly its changed, new and
gone rows, and load_audit says so per table."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pyarrow as pa
import pytest

from c360 import catalog
from c360.config import Settings, load_settings
from c360.lake.store import lake_from_settings
from c360.serve.load import SCHEMA, SERVED, connect, load, snapshot
from tests.conftest import SERVICE_PORTS, port_open
from tests.integration.conftest import built_company


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    yield from built_company(tmp_path_factory, "serve")


@pytest.fixture(params=["duckdb", pytest.param("postgres", marks=pytest.mark.services)])
def serving(request: pytest.FixtureRequest, built: Settings, tmp_path: Any) -> Iterator[Settings]:
    """The built company's settings pointed at a fresh serving database of each kind."""
    if request.param == "duckdb":
        yield load_settings(home=built.home, serving={"url": str(tmp_path / "serving.duckdb")})
        return
    import psycopg

    port = SERVICE_PORTS["postgres"]
    if not port_open(port):
        pytest.fail("PostgreSQL is down — start it with `bash scripts/services.sh up postgres`")
    db = f"c360_serve_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(f"postgresql://postgres@127.0.0.1:{port}/postgres", autocommit=True) as c:
        c.execute(f"CREATE DATABASE {db}")
    try:
        yield load_settings(home=built.home, serving={"url": f"postgresql+psycopg://postgres@127.0.0.1:{port}/{db}"})
    finally:
        with psycopg.connect(f"postgresql://postgres@127.0.0.1:{port}/postgres", autocommit=True) as c:
            c.execute(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")


def _served(s: Settings, name: str, keys: tuple[str, ...]) -> list[tuple[Any, ...]]:
    db = connect(s)
    q = f'SELECT * FROM {SCHEMA}."{name}" ORDER BY {", ".join(keys)}'
    try:
        if hasattr(db.con, "sql"):  # DuckDB: through Arrow (its Python timestamps need pytz)
            return [tuple(r.values()) for r in db.con.sql(q).arrow().read_all().to_pylist()]
        return [tuple(r) for r in db.con.execute(q).fetchall()]
    finally:
        db.close()


def _gold(s: Settings, table_id: str) -> list[tuple[Any, ...]]:
    spec = catalog.get(table_id)
    lake = lake_from_settings(s)
    t = snapshot(s, lake, table_id) if spec.built_by == "serve" else lake.read(table_id, [c.name for c in spec.columns])
    t = t.sort_by([(k, "ascending") for k in spec.primary_key])
    return [tuple(r.values()) for r in t.to_pylist()]


def _audit(s: Settings, run_id: str) -> dict[str, tuple[Any, ...]]:
    db = connect(s)
    try:
        rows = db.con.execute(f"SELECT table_name, rows_total, rows_inserted, rows_updated, rows_deleted, status "
                              f"FROM {SCHEMA}.load_audit WHERE run_id = '{run_id}'").fetchall()
        return {r[0]: tuple(r[1:]) for r in rows}
    finally:
        db.close()


def _norm(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    # both databases return aware timestamps in UTC; floats are compared exactly (CSV round-trips them)
    return [tuple(v.astimezone().timestamp() if hasattr(v, "astimezone") and hasattr(v, "hour") else v for v in r)
            for r in rows]


def test_served_tables_equal_gold_and_a_second_load_writes_nothing(serving: Settings) -> None:
    lake = lake_from_settings(serving)
    run_id, loaded = load(serving, lake)
    assert [r.table for r in loaded] == list(SERVED.values())
    for table_id, name in SERVED.items():
        spec = catalog.get(table_id)
        assert _norm(_served(serving, name, spec.primary_key)) == _norm(_gold(serving, table_id)), name
    audit = _audit(serving, run_id)
    assert audit["customer360_golden"] == (lake.count("gold.customer_360"), lake.count("gold.customer_360"), 0, 0,
                                           "SUCCESS")
    again, loaded2 = load(serving, lake)
    assert all((r.inserted, r.updated, r.deleted) == (0, 0, 0) for r in loaded2)
    assert {v[4] for v in _audit(serving, again).values()} == {"SUCCESS"}


def test_an_incremental_load_moves_only_changed_new_and_gone_rows(serving: Settings, tmp_path: Any) -> None:
    lake = lake_from_settings(serving)
    load(serving, lake, ["gold.customer_rfm"])
    spec = catalog.get("gold.customer_rfm")
    before = lake.read(spec.id).sort_by("person_id")
    try:
        rows = before.to_pylist()
        rows[0]["segment"] = "Changed" if rows[0]["segment"] != "Changed" else "Lost"
        gone = rows.pop(1)
        new = dict(rows[2], person_id="P-new-person-000")
        lake.overwrite(spec.id, pa.Table.from_pylist([*rows, new], schema=before.schema))
        run_id, (r,) = load(serving, lake, ["gold.customer_rfm"])
        assert (r.inserted, r.updated, r.deleted) == (1, 1, 1)
        assert _audit(serving, run_id)["customer_segments"][1:4] == (1, 1, 1)
        served = _served(serving, "customer_segments", ("person_id",))
        assert _norm(served) == _norm(_gold(serving, spec.id))
        assert gone["person_id"] not in {s[0] for s in served}
    finally:
        lake.overwrite(spec.id, before)
        load(serving, lake, ["gold.customer_rfm"])


def test_the_scorecard_and_run_history_are_served_from_the_audit(serving: Settings) -> None:
    from c360.ops.audit import recent_runs
    from c360.quality.scorecard import scorecard

    lake = lake_from_settings(serving)
    load(serving, lake, ["ops.dq_scorecard", "ops.run_history"])
    cards = {r[0]: r for r in _served(serving, "dq_scorecard", ("table_id",))}
    expected = scorecard(lake, serving)
    assert set(cards) == {t.table_id for t in expected}
    for t in expected:
        assert cards[t.table_id][2:5] == (t.status, t.score, t.threshold)
    runs = _served(serving, "run_history", ("run_id",))
    assert {r[0]: r[2] for r in runs} == {r["run_id"]: r["status"] for r in recent_runs(lake, 200)}
    assert all(r[5] > 0 for r in runs if r[2] == "SUCCESS")  # every finished run has stages
