"""Identity resolution in the pipeline, scored against the generator's truth, and kept stable."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
import sqlalchemy as sa

from c360.config import MessRates, Settings, load_settings
from c360.identity.evaluate import score_lake
from c360.lake.store import lake_from_settings
from c360.ops.audit import read_audit
from c360.ops.pipeline import run_pipeline
from c360.sources.crm import CrmDatabase
from c360.sources.generator import World, build_world
from tests.integration.conftest import write_world

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def messy_world() -> World:
    """A company with far more mess than the default: 10 % duplicate CRM customers, 30 % invalid
    emails, 10 % missing contact fields, 80 % of partner profiles varied (typos, nicknames,
    swapped names, moved) — and half of the profiles stripped of email and phone, so only
    Splink's probabilistic matching (names, birth date, address) can link them."""
    rates = MessRates(crm_duplicate_person=0.1, invalid_email=0.3, missing_value=0.1, profile_variation=0.8)
    w = build_world(1500, 11, rates=rates)
    prof = w.tables["profiles"]
    half = pa.array(np.arange(prof.num_rows) % 2 == 0)
    for col in ("email", "phone"):
        i = prof.schema.get_field_index(col)
        prof = prof.set_column(i, col, pc.if_else(half, pa.scalar(None, pa.string()), prof.column(col)))
    w.tables["profiles"] = prof
    return w


@pytest.fixture
def messy(tmp_path: Path, messy_world: World, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    monkeypatch.chdir(tmp_path)
    s = load_settings(home=tmp_path / "home")
    s.quality.min_dq_score = 0.3  # a third of the emails are broken, half the profiles have no contact
    write_world(s, messy_world)
    yield s


def _map(s: Settings) -> dict[str, str]:
    m = lake_from_settings(s).read("silver.identity_map", ["record_key", "person_id"])
    return dict(zip(m.column("record_key").to_pylist(), m.column("person_id").to_pylist(), strict=True))


def _details(s: Settings) -> dict:
    rows = [r for r in read_audit(lake_from_settings(s)) if r["table_id"] == "silver.identity_map"]
    return json.loads(rows[-1]["details"])["identity"]


def test_identity_matches_the_truth_and_stays_stable(messy: Settings, messy_world: World) -> None:
    s = messy
    run_pipeline(s, ["bronze", "silver"])
    lake = lake_from_settings(s)
    scores = score_lake(lake, messy_world.truth)
    people = scores["crm+profiles"]
    assert people.true_pairs > 300  # duplicates and profiles to find
    assert people.precision >= 0.97 and people.recall >= 0.97, people
    assert scores["all"].f1 >= 0.97, scores["all"]
    d = _details(s)
    assert set(d["records"]) == {"crm", "profile", "order", "web"}
    assert d["links"]["probabilistic"] > 0 and d["links"]["same_email"] > 0 and d["links"]["login"] > 0
    # every link carries its evidence; probabilistic ones their match weight per comparison
    links = lake.read("silver.identity_links")
    prob = links.filter(pc.equal(links.column("rule"), "probabilistic")).to_pylist()
    assert all(r["match_probability"] >= 0.95 and "name" in json.loads(r["evidence"]) for r in prob)
    # re-run with nothing new: the same person for every record, no merges or splits
    before = _map(s)
    run_pipeline(s, ["bronze", "silver"])
    assert _map(s) == before
    assert "merges" not in _details(s) and "splits" not in _details(s)
    # a new CRM customer who is an existing person joins that person; nobody else is renumbered
    cust = CrmDatabase(s.crm_url).read_table("customers")
    row = cust.filter(pc.match_substring(cust.column("email"), "@")).slice(0, 1).to_pylist()[0]
    key = f"crm:{row['customer_id']}"
    row["customer_id"] = 99_999_999
    row["updated_at"] = "2031-01-01 00:00:00"
    cols = ", ".join(row)
    with CrmDatabase(s.crm_url).engine.begin() as c:
        c.execute(sa.text(f"INSERT INTO customers ({cols}) VALUES ({', '.join(':' + k for k in row)})"), row)
    run_pipeline(s, ["bronze", "silver"])
    after = _map(s)
    assert after["crm:99999999"] == before[key]
    assert {k: v for k, v in after.items() if k != "crm:99999999"} == before
    assert _details(s)["new_persons"] == 0
