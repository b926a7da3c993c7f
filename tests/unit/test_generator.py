"""The synthetic company: deterministic, coherent, with the requested mess, counted honestly."""

from __future__ import annotations

import hashlib
import math
from collections import Counter
from pathlib import Path

import numpy as np
import pyarrow.compute as pc
import pytest
import sqlalchemy as sa

from c360.config import MessRates
from c360.sources.crm import CrmDatabase
from c360.sources.generator import build_world, write_world
from c360.sources.objectstore import LocalObjectStore
from c360.sources.stream import LocalStreamLog

N = 3000


@pytest.fixture(scope="module")
def world():  # type: ignore[no-untyped-def]
    return build_world(N, 11)


def _write(root: Path, seed: int) -> dict[str, str]:
    """Write a small world under ``root``; returns sha256 per file and per CRM table."""
    w = build_world(400, seed)
    crm = CrmDatabase(f"sqlite:///{root}/crm.db")
    write_world(w, crm, LocalObjectStore(str(root / "files")), LocalStreamLog(str(root / "stream")), 2)
    digests = {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
               for p in sorted(root.rglob("*")) if p.is_file() and p.suffix != ".db"}
    with crm.engine.connect() as c:
        for table in ("customers", "products", "stores", "salespeople", "returns", "support_tickets",
                      "support_emails"):
            rows = c.execute(sa.text(f"SELECT * FROM {table} ORDER BY 1")).fetchall()
            digests[f"crm:{table}"] = hashlib.sha256(repr(rows).encode()).hexdigest()
    return digests


def test_same_seed_same_bytes_and_rows(tmp_path: Path) -> None:
    a, b = _write(tmp_path / "a", 5), _write(tmp_path / "b", 5)
    assert a == b
    assert any(k.startswith("files/transactions/year=2024/month=") for k in a)
    assert "files/_manifest.json" in a and "files/_truth/truth.parquet" in a
    c = _write(tmp_path / "c", 6)
    assert c["files/_manifest.json"] != a["files/_manifest.json"]


def test_manifest_has_no_wall_clock(world) -> None:  # type: ignore[no-untyped-def]
    text = str(world.manifest.__dict__)
    assert "2026" not in text  # generation day never leaks into the data description


def _within(observed: int, n: int, rate: float, sigmas: float = 5.0) -> bool:
    sd = math.sqrt(max(n * rate * (1 - rate), 1.0))
    return abs(observed - n * rate) <= sigmas * sd


def test_defect_rates_match_config_and_data(world) -> None:  # type: ignore[no-untyped-def]
    r, man, t = MessRates(), world.manifest, world.tables
    lines, cust = t["order_lines"], t["customers"]
    # the manifest counts what the data holds
    assert man.defects["purchases_zero_or_negative_amount"] == pc.sum(pc.less_equal(lines["amount"], 0)).as_py()
    assert man.defects["purchases_unknown_product"] == pc.sum(pc.equal(lines["product_id"], "P99999")).as_py()
    assert man.defects["crm_invalid_email"] == sum(" at " in (e or "") for e in cust["email"].to_pylist())
    assert man.defects["crm_missing_phone"] == cust["phone"].null_count
    assert man.counts["crm_customers"] == N + man.defects["crm_duplicate_person"] == cust.num_rows
    guest_orders = {o for o, c in zip(lines["order_id"].to_pylist(), lines["customer_id"].to_pylist(),
                                      strict=True) if c is None}
    assert man.defects["orders_guest"] == len(guest_orders)
    ev = world.events
    assert man.defects["events_duplicate"] == ev.num_rows - len(set(ev["event_id"].to_pylist()))
    assert man.counts["events"] == len(set(ev["event_id"].to_pylist()))
    assert man.defects["events_poison"] == len(world.poison_at)
    # and the rates are the configured ones, within sampling error
    n_lines, n_orders = lines.num_rows, man.counts["orders"]
    assert _within(man.defects["purchases_zero_or_negative_amount"], n_lines, r.bad_price)
    assert _within(man.defects["purchases_unknown_product"], n_lines, r.unknown_product)
    assert _within(man.defects["crm_duplicate_person"], N, r.crm_duplicate_person)
    assert _within(man.defects["crm_invalid_email"], cust.num_rows, r.invalid_email)
    assert _within(man.defects["crm_missing_phone"], cust.num_rows, r.missing_value)
    assert _within(man.defects["events_duplicate"], man.counts["events"], r.duplicate_event)
    assert _within(man.defects["events_late"], man.counts["events"], r.late_event)
    assert _within(man.counts["partner_profiles"] - man.defects["profiles_duplicate_person"], N,
                   r.profile_coverage)
    assert _within(man.defects["feedback_non_iso_dates"], man.counts["feedback"], r.mixed_date_format)
    # guest orders exclude store orders, so the rate applies to non-store orders
    non_store = len({o for o, ch in zip(lines["order_id"].to_pylist(), lines["channel"].to_pylist(),
                                        strict=True) if ch != "store"})
    assert _within(man.defects["orders_guest"], non_store, r.guest_order)
    assert n_orders > 0


def test_zero_rates_give_a_clean_world() -> None:
    clean = MessRates(**{k: 0.0 for k, v in MessRates().model_dump().items() if isinstance(v, float)
                         and k not in ("profile_coverage",)}, malformed_files=False)
    w = build_world(500, 3, rates=clean)
    d = w.manifest.defects
    assert d["purchases_zero_or_negative_amount"] == d["crm_duplicate_person"] == d["events_poison"] == 0
    assert pc.min(w.tables["order_lines"]["amount"]).as_py() > 0
    assert w.tables["customers"]["phone"].null_count == 0


def test_referential_coherence_and_complete_truth(world) -> None:  # type: ignore[no-untyped-def]
    t, man = world.tables, world.manifest
    crm_ids = set(t["customers"]["customer_id"].to_pylist())
    lines = t["order_lines"]
    orphan_orders, unknown_lines = set(), 0
    products = set(t["products"]["product_id"].to_pylist())
    for o, c, p in zip(lines["order_id"].to_pylist(), lines["customer_id"].to_pylist(),
                       lines["product_id"].to_pylist(), strict=True):
        if c is not None and c not in crm_ids:
            orphan_orders.add(o)
        unknown_lines += p not in products
    assert len(orphan_orders) == man.defects["orders_orphan_customer"]
    assert unknown_lines == man.defects["purchases_unknown_product"]
    order_ids = set(lines["order_id"].to_pylist())
    assert set(t["payments"]["order_id"].to_pylist()) == order_ids
    assert set(t["returns"]["order_id"].to_pylist()) <= order_ids
    assert set(t["support_tickets"]["customer_id"].to_pylist()) <= crm_ids
    assert set(t["support_emails"]["ticket_id"].to_pylist()) <= set(t["support_tickets"]["ticket_id"].to_pylist())
    stores = set(t["stores"]["store_id"].to_pylist())
    assert {s for s in lines["store_id"].to_pylist() if s} <= stores
    assert set(t["salespeople"]["store_id"].to_pylist()) <= stores
    # the truth table names a real person for every record of every source, exactly once
    truth = world.truth
    by_source = Counter(truth["source"].to_pylist())
    assert by_source["crm.customers"] == len(crm_ids)
    assert by_source["purchases.order"] == len(order_ids)
    assert by_source["files.feedback"] == t["feedback"].num_rows
    assert by_source["files.surveys"] == t["surveys"].num_rows
    assert by_source["files.partner_profiles"] == t["profiles"].num_rows
    assert by_source["stream.events"] == man.counts["events"]
    keys = list(zip(truth["source"].to_pylist(), truth["record_id"].to_pylist(), strict=True))
    assert len(keys) == len(set(keys))
    persons = set(truth["person_id"].to_pylist())
    assert len(persons) <= N and all(p.startswith("PER") for p in persons)
    # duplicated CRM records point at the same person as the original
    crm_truth = {r: p for s, r, p in zip(truth["source"].to_pylist(), truth["record_id"].to_pylist(),
                                         truth["person_id"].to_pylist(), strict=True) if s == "crm.customers"}
    assert len(set(crm_truth.values())) == N


def test_behaviour_has_signal(world) -> None:  # type: ignore[no-untyped-def]
    t = world.tables
    lines = t["order_lines"].to_pylist()
    # seasonality: December far busier than October (churn and lapsing thin out both alike)
    months = Counter(r["order_ts"].month for r in lines)
    assert months[12] > 1.3 * months[10]
    # preferences: a customer's first preferred category dominates their lines
    pref = {r["customer_id"]: r["preferred_categories"].split(",")[0] for r in t["customers"].to_pylist()}
    cat = dict(zip(t["products"]["product_id"].to_pylist(), t["products"]["category"].to_pylist(), strict=True))
    hits = [cat.get(r["product_id"]) == pref[r["customer_id"]] for r in lines
            if r["customer_id"] in pref and r["product_id"] in cat]
    assert np.mean(hits) > 0.4  # vs 1/8 if purchases ignored preferences
    # satisfaction follows the life cycle: survey NPS is not flat
    nps = t["surveys"]["nps"].to_numpy()
    assert nps.std() > 1.5 and (nps >= 9).mean() > 0.15 and (nps <= 6).mean() > 0.15


def test_a_world_too_big_for_memory_is_refused_before_any_work(monkeypatch: pytest.MonkeyPatch,
                                                               tmp_path: Path) -> None:
    import psutil

    from c360.config import load_settings
    from c360.errors import C360Error
    from c360.sources.generator import generate_from_settings

    class Mem:
        available = 2 * 2**30

    monkeypatch.setattr(psutil, "virtual_memory", lambda: Mem())
    monkeypatch.chdir(tmp_path)
    from c360.sources.generator import BYTES_PER_CUSTOMER

    s = load_settings(home=tmp_path / "h")
    # memory is bounded by the chunks built at once: workers x chunk_customers persons
    need = s.generator.workers * s.generator.chunk_customers * BYTES_PER_CUSTOMER / 2**30
    with pytest.raises(C360Error, match=rf"scale M needs about {need:.0f} GiB of memory; 2 GiB is available"):
        generate_from_settings(s, "M")
    assert not (tmp_path / "h").exists()  # nothing was written


def test_xml_profiles_render_as_lxml_would() -> None:
    """The Arrow-rendered XML is byte for byte what lxml's pretty printer makes of the same
    records: escapes, missing values as missing elements, non-ASCII text."""
    import pyarrow as pa
    from lxml import etree

    from c360.sources.generator.writers import _XML_HEAD, _xml_records

    t = pa.table({"profile_id": ["P1", "P2", "P3"], "first_name": ["Zoë", None, "A & B <x>"],
                  "email": ["z@x.io", "p@y.io", None]})
    root = etree.Element("profiles", partner="acme-partners")
    for p in t.to_pylist():
        el = etree.SubElement(root, "profile")
        for k, v in p.items():
            if v is not None:
                etree.SubElement(el, k).text = v
    want = etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
    got = "".join([_XML_HEAD, *_xml_records(t, "profile").to_pylist(), "</profiles>\n"]).encode()
    assert got == want
