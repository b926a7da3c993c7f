"""One more day on top of an existing generated company (``c360 generate --day YYYY-MM-DD``).

Reads the current state back from the sources (CRM tables, the manifest, the truth table) and
adds: newcomers, CRM updates and soft deletes, the day's orders and payments, feedback and
surveys, web/social events, and some late events dated on earlier days. Deterministic: the random
generator is seeded with (seed, day), so the same day on the same world gives the same data.
"""

from __future__ import annotations

import io
import json
from datetime import date
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from c360.config import MessRates
from c360.errors import C360Error
from c360.sources.crm import CrmDatabase
from c360.sources.generator import vocab as V
from c360.sources.generator.world import (
    Catalog,
    Manifest,
    _cat,
    _mixed_dates,
    _pick,
    _s,
    _truth,
    _ts,
    _zfill,
    arrow_ids,
    events_table,
    order_tables,
    people,
    rating_text,
)
from c360.sources.generator.writers import _csv, _Json, _put, stream_records
from c360.sources.objectstore import ObjectStore
from c360.sources.stream import EventStream
from c360.sources.textbuf import joined_bytes

MANIFEST_KEY = "_manifest.json"
TIER_RATE = {"bronze": 5.0, "silver": 10.0, "gold": 20.0, "platinum": 35.0}  # orders per year
NEW_PER_DAY, UPDATE_PER_DAY, DELETE_PER_DAY = 0.002, 0.005, 0.0005  # shares of live customers


def generate_day(day: str, crm: CrmDatabase, store: ObjectStore, stream: EventStream,
                 rates: MessRates | None = None, step: Any = lambda s: None) -> dict[str, Any]:
    """Add ``day`` to the world in these sources; returns the day's manifest entry."""
    r = rates or MessRates()
    if not store.list(MANIFEST_KEY):
        raise C360Error("no generated company in these sources", where=store.url,
                        fix="run `c360 generate` first, then add days with --day")
    world = json.loads(store.get(MANIFEST_KEY))
    try:
        d = date.fromisoformat(day)
    except ValueError:
        raise C360Error(f"--day {day!r} is not a date", fix="use YYYY-MM-DD") from None
    if d <= date.fromisoformat(world["start_date"]):
        raise C360Error(f"day {day} is not after the world's start {world['start_date']}", fix="pick a later day")
    done = [inc["day"] for inc in world.get("increments", [])]
    if day in done:
        raise C360Error(f"day {day} was already generated", where=store.url,
                        fix="generate another day; a day is added once (its events would repeat)")
    rng = np.random.default_rng([world["seed"], d.toordinal()])
    man = Manifest(seed=world["seed"], scale=world["scale"], start_date=day, days=1)
    t0 = np.datetime64(day, "s")
    tag = day.replace("-", "")

    step(f"{day}: reading the current state")
    cust = crm.read_table("customers")
    products = crm.read_table("products").sort_by([("category", "ascending"), ("product_id", "ascending")])
    crm_person = _crm_persons(store)
    live = cust.filter(pc.invert(pc.fill_null(cust["is_deleted"], False)))
    n_live = live.num_rows

    # newcomers sign up today
    step(f"{day}: CRM changes")
    k_new = int(rng.poisson(max(1.0, n_live * NEW_PER_DAY)))
    first_person = world["counts"]["persons"] + sum(i["counts"].get("new_customers", 0)
                                                     for i in world.get("increments", [])) + 1
    person_no = np.arange(first_person, first_person + k_new, dtype=np.int64)
    ppl = people(rng, person_no)
    max_id = int(pc.max(cust["customer_id"]).as_py() or 0)
    new_ids = np.arange(max_id + 1, max_id + k_new + 1, dtype=np.int64)
    cats = V.arr(V.CATEGORIES)
    p1 = rng.integers(0, len(cats), k_new)
    p2 = (p1 + rng.integers(1, len(cats), k_new)) % len(cats)
    new_rows = pa.table({
        "customer_id": new_ids, "first_name": ppl["first_name"], "last_name": ppl["last_name"],
        "email": ppl["email"], "phone": ppl["phone"], "date_of_birth": pa.array(ppl["dob"], pa.date32()),
        "gender": ppl["gender"], "street": ppl["street"], "city": ppl["city"], "postcode": ppl["postcode"],
        "country": ppl["country"], "signup_date": pa.array(np.full(k_new, np.datetime64(day, "D")), pa.date32()),
        "loyalty_tier": np.full(k_new, "bronze"), "marketing_consent": rng.random(k_new) < 0.6,
        "preferred_channel": _pick(rng, V.CHANNELS, k_new, [0.5, 0.3, 0.2]),
        "preferred_categories": _cat(cats[p1], ",", cats[p2]),
        "updated_at": pa.array(_ts(t0, rng.integers(0, 86400, k_new)), pa.timestamp("s")),
        "is_deleted": np.zeros(k_new, dtype=bool),
    })
    crm.insert_rows("customers", new_rows.select(cust.column_names))
    man.add("counts", "new_customers", k_new)
    crm_person.update(dict(zip(new_ids.tolist(), (person_no - 1).tolist(), strict=True)))
    truth = [_truth("crm.customers", _s(new_ids), ppl["person_key"])]

    # updates (moved, new phone, tier change, consent) and soft deletes of existing customers
    live_ids = live["customer_id"].to_numpy()
    k_upd = min(len(live_ids), int(rng.poisson(n_live * UPDATE_PER_DAY)))
    upd = rng.choice(live_ids, k_upd, replace=False) if k_upd else np.array([], dtype=np.int64)
    by_id = {row["customer_id"]: row for row in live.filter(pc.is_in(live["customer_id"], pa.array(upd)))
             .to_pylist()} if k_upd else {}
    kinds = rng.integers(0, 4, k_upd)
    ts_upd = _ts(t0, rng.integers(0, 86400, k_upd))
    updates = []
    for cid, kind, ts in zip(upd.tolist(), kinds.tolist(), ts_upd.tolist(), strict=True):
        row = by_id[cid]
        change: dict[str, Any] = {"customer_id": cid, "updated_at": ts}
        if kind == 0:
            cities = V.COUNTRIES[row["country"]][0]
            change.update(city=cities[(cities.index(row["city"]) + 1) % len(cities)] if row["city"] in cities
                          else cities[0], street=f"{cid % 250 + 1} {V.STREETS[cid % len(V.STREETS)]}")
        elif kind == 1:
            change["phone"] = "+" + V.COUNTRIES[row["country"]][1] + str(100_000_000 + (cid * 7919) % 899_999_999)
        elif kind == 2:
            tiers = V.TIERS
            change["loyalty_tier"] = tiers[min(tiers.index(row["loyalty_tier"]) + 1, 3)]
        else:
            change["marketing_consent"] = not row["marketing_consent"]
        man.add("counts", f"crm_update_{('moved', 'phone', 'tier', 'consent')[kind]}", 1)
        updates.append(change)
    for group in ("city", "phone", "loyalty_tier", "marketing_consent"):  # one statement shape per group
        crm.update_rows("customers", "customer_id", [u for u in updates if group in u])
    k_del = min(len(live_ids), int(rng.poisson(n_live * DELETE_PER_DAY)))
    gone = rng.choice(np.setdiff1d(live_ids, upd), k_del, replace=False) if k_del else []
    crm.update_rows("customers", "customer_id", [
        {"customer_id": int(c), "is_deleted": True, "updated_at": ts}
        for c, ts in zip(list(gone), _ts(t0, rng.integers(0, 86400, k_del)).tolist(), strict=True)])
    man.add("counts", "crm_updates", len(updates))
    man.add("counts", "crm_soft_deletes", k_del)

    # today's buyers: existing live customers (by tier) and the newcomers
    step(f"{day}: orders, feedback, surveys")
    buyers = pa.concat_tables([live.select(["customer_id", "email", "loyalty_tier", "preferred_categories",
                                            "preferred_channel"]),
                               new_rows.select(["customer_id", "email", "loyalty_tier", "preferred_categories",
                                                "preferred_channel"])])
    b_id = buyers["customer_id"].to_numpy()
    b_rate = np.array([TIER_RATE.get(t, 5.0) for t in buyers["loyalty_tier"].to_pylist()])
    n_o = int(rng.poisson(b_rate.sum() / 365.0))
    o_b = rng.choice(len(b_id), n_o, p=b_rate / b_rate.sum()) if n_o else np.array([], dtype=np.int64)
    cat_index = {c: i for i, c in enumerate(V.CATEGORIES)}
    prefs = [p.split(",") for p in buyers["preferred_categories"].to_pylist()]
    b_p1 = np.array([cat_index[p[0]] for p in prefs], dtype=np.int64)
    b_p2 = np.array([cat_index[p[-1]] for p in prefs], dtype=np.int64)
    prod_cat = np.array([cat_index[c] for c in products["category"].to_pylist()], dtype=np.int64)
    cat = Catalog(np.searchsorted(prod_cat, np.arange(len(cats) + 1)), products["price"].to_numpy(),
                  products["product_id"].to_numpy().astype(str))
    secs = np.sort(rng.integers(8 * 3600, 22 * 3600, n_o))
    channel = np.where(rng.random(n_o) < 0.6, buyers["preferred_channel"].to_numpy().astype(str)[o_b],
                       _pick(rng, ["web", "app"], n_o))  # store orders need a till: online only here
    guest = rng.random(n_o) < r.guest_order
    man.add("defects", "orders_guest", guest.sum())
    order_id = arrow_ids(f"O{tag}", np.arange(1, n_o + 1), 6)
    no_store = pa.nulls(n_o, pa.string())
    lines, payments, _, _, _ = order_tables(
        rng, r, man, order_id, secs, t0, b_p1[o_b], b_p2[o_b], b_id[o_b], guest,
        buyers["email"].combine_chunks(), o_b, channel, no_store, no_store, np.ones(n_o, dtype=bool), cat)
    truth.append(_truth("purchases.order", order_id,
                        _person_keys([crm_person.get(int(c), -1) for c in b_id[o_b]])))

    n_fb = int(rng.poisson(n_live * 0.4 / 365))
    fb_who = rng.choice(b_id, n_fb) if n_fb else np.array([], dtype=np.int64)
    rating = rng.integers(1, 6, n_fb).astype(np.int64)
    fb_ts = _ts(t0, rng.integers(0, 86400, n_fb))
    feedback = pa.table({
        "feedback_id": _cat(f"F{tag}", _zfill(_s(np.arange(1, n_fb + 1)), 5)), "customer_id": fb_who,
        "rating": rating,
        "comment": rating_text(rng, rating),
        "submitted_at": _mixed_dates(rng, fb_ts, r.mixed_date_format, man, "feedback"),
    })
    man.add("counts", "feedback", n_fb)
    n_sv = int(rng.poisson(n_live * 0.3 / 365))
    sv_who = rng.choice(b_id, n_sv) if n_sv else np.array([], dtype=np.int64)
    nps = rng.integers(0, 11, n_sv).astype(np.int64)
    sv_ts = _ts(t0, rng.integers(0, 86400, n_sv))
    surveys = pa.table({
        "survey_id": _cat(f"SV{tag}", _zfill(_s(np.arange(1, n_sv + 1)), 5)), "customer_id": sv_who,
        "survey_type": _pick(rng, V.SURVEY_TYPES, n_sv, [0.5, 0.2, 0.3]),
        "channel": _pick(rng, V.SURVEY_CHANNELS, n_sv, [0.4, 0.3, 0.2, 0.1]), "nps": nps,
        "csat": np.clip((nps + 1) // 2, 1, 5).astype(np.int64),
        "responded_at": _mixed_dates(rng, sv_ts, r.mixed_date_format, man, "surveys"),
        "comment": np.where(nps >= 9, V.POSITIVE[0], np.where(nps <= 6, V.NEGATIVE[0], "")),
    })
    man.add("counts", "surveys", n_sv)
    truth.append(_truth("files.feedback", feedback["feedback_id"].to_numpy(zero_copy_only=False).astype(str),
                        _person_keys([crm_person.get(int(c), -1) for c in fb_who])))
    truth.append(_truth("files.surveys", surveys["survey_id"].to_numpy(zero_copy_only=False).astype(str),
                        _person_keys([crm_person.get(int(c), -1) for c in sv_who])))

    # web and social events: today's sessions, plus some delivered late, dated on earlier days
    step(f"{day}: events")
    b_person = np.array([crm_person.get(int(c), 0) for c in b_id], dtype=np.int64)
    lifecycle = np.full(len(b_id), "loyal")
    events, (ev_ids, ev_who) = events_table(
        rng, np.arange(len(b_id)), b_id, b_person, lifecycle, b_rate, cat.product_id, prod_cat, b_p1, t0, 1, r, man,
        id_prefix=tag, activity_scale=1.0 / 365 * 5)
    late_days = rng.integers(1, 4, events.num_rows)
    is_late = rng.random(events.num_rows) < 0.05
    shifted = pc.subtract(events["event_ts"], pa.array((late_days * 86400 * is_late).astype("timedelta64[s]")))
    events = events.set_column(events.schema.get_field_index("event_ts"), "event_ts", shifted)
    man.add("defects", "events_late_earlier_day", int(is_late.sum()))
    truth.append(_truth("stream.events", ev_ids, _person_keys(b_person[ev_who].tolist())))

    step(f"{day}: writing files and events")
    y, m = day[:4], day[5:7]
    js = _Json()
    try:
        if lines.num_rows:
            _put(store, f"purchases/year={y}/month={m}/purchases-{day}.jsonl", joined_bytes(js.lines(lines)), man)
            _put(store, f"transactions/year={y}/month={m}/day={day[8:]}/payments-{day}.jsonl",
                 joined_bytes(js.lines(payments)), man)
    finally:
        js.close()
    if n_fb:
        _put(store, f"feedback/feedback-{day}.csv", _csv(feedback), man)
    if n_sv:
        _put(store, f"surveys/surveys-{day}.csv", _csv(surveys), man)
    poison = np.sort(rng.integers(0, max(1, events.num_rows), int(rng.binomial(events.num_rows, r.poison_record))))
    man.add("defects", "events_poison", len(poison))
    stream.put_lines(*stream_records(events, poison))
    buf = io.BytesIO()
    pq.write_table(pa.concat_tables(truth), buf)
    store.put(f"_truth/truth-{day}.parquet", buf.getvalue())

    entry = {"day": day, "counts": man.counts, "defects": man.defects, "files": man.files}
    world.setdefault("increments", []).append(entry)
    store.put(MANIFEST_KEY, json.dumps(world, indent=2, sort_keys=True).encode())
    return entry


def _crm_persons(store: ObjectStore) -> dict[int, int]:
    """CRM customer id -> person index (0-based), from the truth tables written so far."""
    out: dict[int, int] = {}
    for obj in store.list("_truth/"):
        t = pq.read_table(io.BytesIO(store.get(obj.key)))
        t = t.filter(pc.equal(t["source"], "crm.customers"))
        for rid, person in zip(t["record_id"].to_pylist(), t["person_id"].to_pylist(), strict=True):
            out[int(rid)] = int(person.removeprefix("PER")) - 1
    return out


def _person_keys(idx: list[int]) -> np.ndarray:
    return np.array([f"PER{i + 1:08d}" if i >= 0 else "UNKNOWN" for i in idx], dtype="U12")
