"""silver.customers_history is SCD Type 2, built incrementally: a changed customer gets a new
version and its old one is closed, a touch without a change is no version, a delete is a version,
and a re-run with nothing new writes nothing."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.compute as pc
import pytest
import sqlalchemy as sa

from c360.config import Settings
from c360.lake.store import lake_from_settings
from c360.ops.audit import read_audit
from c360.ops.pipeline import run_pipeline
from c360.sources.crm import CrmDatabase

pytestmark = pytest.mark.integration
LATER = "2031-01-01 00:00:00.000000"


def _history(s: Settings) -> pa.Table:
    return lake_from_settings(s).read("silver.customers_history").sort_by(
        [("customer_id", "ascending"), ("valid_from", "ascending")])


def _versions(h: pa.Table, cid: int) -> list[dict]:
    return h.filter(pc.equal(h.column("customer_id"), cid)).to_pylist()


def _details(s: Settings, table_id: str) -> dict:
    rows = [r for r in read_audit(lake_from_settings(s)) if r["table_id"] == table_id and r["status"] == "SUCCESS"]
    return json.loads(rows[-1]["details"])


def test_scd2_versions(embedded: Settings) -> None:
    s = embedded
    run_pipeline(s, ["bronze", "silver"])
    h0 = _history(s)
    assert pc.all(h0.column("is_current")).as_py()
    assert h0.num_rows == pc.count_distinct(h0.column("customer_id")).as_py()
    live = h0.filter(pc.invert(h0.column("is_deleted")))
    changed, touched, deleted = live.column("customer_id").to_pylist()[:3], live["customer_id"][3].as_py(), \
        live["customer_id"][4].as_py()
    with CrmDatabase(s.crm_url).engine.begin() as c:
        c.execute(sa.text(f"UPDATE customers SET last_name = 'Changed', updated_at = '{LATER}' "
                          f"WHERE customer_id IN ({', '.join(map(str, changed))})"))
        c.execute(sa.text(f"UPDATE customers SET updated_at = '{LATER}' WHERE customer_id = {touched}"))
        c.execute(sa.text(f"UPDATE customers SET is_deleted = 1, updated_at = '{LATER}' "
                          f"WHERE customer_id = {deleted}"))
    run_pipeline(s, ["bronze", "silver"])
    h1 = _history(s)
    assert _details(s, "silver.customers_history")["history"] == {
        "new_keys": 0, "changed_keys": 4, "deleted": 1, "unchanged": 1, "stale": 0}
    assert h1.num_rows == h0.num_rows + 4
    for cid in changed:
        old, new = _versions(h1, cid)
        assert (old["is_current"], new["is_current"]) == (False, True)
        assert old["valid_to"] == new["valid_from"] and new["valid_to"] is None
        assert new["last_name"] == "Changed" and old["last_name"] != "Changed"
        assert str(new["valid_from"]).startswith("2031-01-01")
    assert len(_versions(h1, touched)) == 1 and _versions(h1, touched)[0]["is_current"]
    old, tomb = _versions(h1, deleted)
    assert tomb["is_deleted"] and tomb["is_current"] and not old["is_current"]
    current = lake_from_settings(s).read("silver.customers")
    ids = current.column("customer_id").to_pylist()
    assert deleted not in ids and touched in ids
    names = dict(zip(ids, current.column("last_name").to_pylist(), strict=True))
    assert all(names[cid] == "Changed" for cid in changed)
    # nothing new: no version written, the history is the same table
    run_pipeline(s, ["bronze", "silver"])
    assert _details(s, "silver.customers_history")["history"]["changed_keys"] == 0
    assert _history(s).equals(h1)


def test_deduplication_is_counted(embedded: Settings, world) -> None:  # type: ignore[no-untyped-def]
    """Every duplicate the stream delivered is folded by silver, and the audit says how many."""
    run_pipeline(embedded, ["bronze", "silver"])
    d = _details(embedded, "silver.web_events")["deduplication"]
    assert d["duplicates_removed"] == world.manifest.defects["events_duplicate"] > 0
    assert d["input_rows"] == lake_from_settings(embedded).count("bronze.events")
