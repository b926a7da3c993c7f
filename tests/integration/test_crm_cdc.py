"""CRM change capture beyond the watermark: hard deletes found by key comparison, schema drift
(new columns added, incompatible type changes stop the table) — on SQLite, MariaDB and
PostgreSQL (the latter two read through connectorx)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest
import sqlalchemy as sa

from c360.config import Settings, load_settings
from c360.errors import C360Error
from c360.lake.store import lake_from_settings
from c360.ops.audit import read_audit
from c360.ops.pipeline import run_pipeline
from c360.sources.crm import CrmDatabase
from c360.sources.generator import World
from tests.conftest import SERVICE_PORTS, port_open
from tests.integration.conftest import write_world

BACKENDS = {
    "sqlite": None,
    "mariadb": ("mysql+pymysql://root@127.0.0.1:{port}/{db}", "mariadb"),
    "postgres": ("postgresql+psycopg://postgres@127.0.0.1:{port}/{db}", "postgres"),
}


@pytest.fixture(params=[pytest.param("sqlite"),
                        pytest.param("mariadb", marks=pytest.mark.services),
                        pytest.param("postgres", marks=pytest.mark.services)])
def crm_world(request: pytest.FixtureRequest, tmp_path: Path, world: World,
              monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    """A small generated company with its CRM in each backend (files and stream embedded)."""
    backend = BACKENDS[request.param]
    db = f"c360_cdc_{uuid.uuid4().hex[:8]}"
    if backend:
        template, service = backend
        port = SERVICE_PORTS[service]
        if not port_open(port):
            pytest.fail(f"{service} is down — start it with `bash scripts/services.sh up`")
        monkeypatch.setenv("C360_CRM__URL", template.format(port=port, db=db))
    monkeypatch.chdir(tmp_path)
    s = load_settings(home=tmp_path / "home")
    write_world(s, world)
    yield s
    if backend:
        CrmDatabase(s.crm_url).engine.dispose()
        server = s.crm_url.rsplit("/", 1)[0] + ("/" if "mysql" in s.crm_url else "/postgres")
        eng = sa.create_engine(server, isolation_level="AUTOCOMMIT")
        with eng.connect() as c:
            force = "" if "mysql" in s.crm_url else " WITH (FORCE)"
            c.execute(sa.text(f"DROP DATABASE IF EXISTS {db}{force}"))
        eng.dispose()


def crm(s: Settings) -> CrmDatabase:
    return CrmDatabase(s.crm_url)


def stage_details(s: Settings, table_id: str) -> dict:
    """The newest audit details of a table's stage."""
    rows = [r for r in read_audit(lake_from_settings(s)) if r["table_id"] == table_id]
    return json.loads(rows[-1]["details"])


def test_hard_deletes_are_marked_and_leave_silver(crm_world: Settings) -> None:
    s = crm_world
    run_pipeline(s, ["bronze", "silver"])
    lake = lake_from_settings(s)
    before = lake.count("bronze.crm_customers")
    live = lake.read("silver.customers", ["customer_id"]).column("customer_id").to_pylist()
    gone = sorted(live)[:3]
    with crm(s).engine.begin() as c:
        c.execute(sa.text(f"DELETE FROM customers WHERE customer_id IN ({', '.join(map(str, gone))})"))

    # the comparison ran in the first run and is not due yet: a hard delete is not seen
    run_pipeline(s, ["bronze"])
    assert "key_check" not in stage_details(s, "bronze.crm_customers")
    # due every run: the three rows are marked, nothing else, and silver drops them
    s.crm.delete_check_hours = 0
    run_pipeline(s, ["bronze", "silver"])
    assert stage_details(s, "bronze.crm_customers")["key_check"]["deleted"] == 3
    b = lake.read("bronze.crm_customers", ["customer_id", "_deleted_at"])
    assert lake.count("bronze.crm_customers") == before
    marked = b.filter(pc.is_valid(b.column("_deleted_at"))).column("customer_id").to_pylist()
    assert sorted(marked) == gone
    silver = set(lake.read("silver.customers", ["customer_id"]).column("customer_id").to_pylist())
    assert silver == set(live) - set(gone)
    # re-running finds nothing new and keeps the first deletion time
    stamps = b.filter(pc.is_valid(b.column("_deleted_at"))).column("_deleted_at").to_pylist()
    run_pipeline(s, ["bronze"])
    assert stage_details(s, "bronze.crm_customers")["key_check"]["deleted"] == 0
    b2 = lake.read("bronze.crm_customers", ["customer_id", "_deleted_at"])
    assert b2.filter(pc.is_valid(b2.column("_deleted_at"))).column("_deleted_at").to_pylist() == stamps


def test_emptied_source_table_stops_that_table_only(crm_world: Settings) -> None:
    s = crm_world
    run_pipeline(s, ["bronze"])
    lake = lake_from_settings(s)
    stores = lake.count("bronze.crm_stores")
    with crm(s).engine.begin() as c:
        c.execute(sa.text("DELETE FROM stores"))
    s.crm.delete_check_hours = 0
    with pytest.raises(C360Error) as e:
        run_pipeline(s, ["bronze"])
    assert "max_delete_fraction" in str(e.value) and "bronze.crm_stores" in str(e.value)
    rows = [r for r in read_audit(lake) if r["status"] == "FAILED" and r["stage"] != "run"]
    assert {r["table_id"] for r in rows} == {"bronze.crm_stores"}
    marked = lake.sql("SELECT count(*) AS n FROM bronze_crm_stores WHERE _deleted_at IS NOT NULL",
                      "bronze.crm_stores")["n"][0].as_py()
    assert lake.count("bronze.crm_stores") == stores and marked == 0


def _bump(t: pa.Table, n: int) -> pa.Table:
    """The first ``n`` rows changed now (a later updated_at), the rest as they were."""
    later = datetime(2031, 1, 1) + timedelta(seconds=1)
    ts = t.column("updated_at").to_pylist()
    return t.set_column(t.schema.get_field_index("updated_at"), "updated_at",
                        pa.array([later] * n + ts[n:], pa.timestamp("us")))


def test_new_source_column_is_added_to_bronze(crm_world: Settings) -> None:
    s = crm_world
    run_pipeline(s, ["bronze"])
    db = crm(s)
    t = _bump(db.read_table("products").sort_by("product_id"), 2)
    t = t.append_column("eco_label", pa.array(["A", "B"] + [None] * (t.num_rows - 2), pa.string()))
    db.replace_table("products", t, "product_id")
    run_pipeline(s, ["bronze"])
    assert stage_details(s, "bronze.crm_products")["schema_drift"] == {"added": ["eco_label"]}
    lake = lake_from_settings(s)
    b = lake.read("bronze.crm_products", ["product_id", "eco_label"])
    labels = dict(zip(b.column("product_id").to_pylist(), b.column("eco_label").to_pylist(), strict=True))
    first = t.column("product_id").to_pylist()[:2]
    assert [labels[p] for p in first] == ["A", "B"]
    assert lake.count("bronze.crm_products") == t.num_rows
    assert sum(v is not None for v in labels.values()) == 2


def test_incompatible_type_change_stops_that_table(crm_world: Settings) -> None:
    s = crm_world
    run_pipeline(s, ["bronze"])
    lake = lake_from_settings(s)
    before = lake.count("bronze.crm_returns")
    db = crm(s)
    t = _bump(db.read_table("returns"), 1)
    i = t.schema.get_field_index("line_no")
    t = t.set_column(i, "line_no", pa.array([f"L{v}" for v in t.column("line_no").to_pylist()], pa.string()))
    db.replace_table("returns", t, "return_id")
    with pytest.raises(C360Error) as e:
        run_pipeline(s, ["bronze"])
    msg = str(e.value)
    assert "incompatible schema change" in msg and "line_no" in msg and "int64" in msg
    failed = {r["table_id"] for r in read_audit(lake) if r["status"] == "FAILED" and r["stage"] != "run"}
    assert failed == {"bronze.crm_returns"}
    assert lake.count("bronze.crm_returns") == before
