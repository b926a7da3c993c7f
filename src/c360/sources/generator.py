"""A seeded synthetic retailer written into the real sources: CRM rows, file drops, stream events.

Vectorised with numpy (no per-row Python loops for the bulk of the data); the same seed gives
the same data. This is the thin generator of the foundation; the full world (stores, sales team,
surveys, identity truth table, incremental days) grows from here.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import numpy as np
import pyarrow as pa
from lxml import etree

from c360.sources.crm import CrmDatabase
from c360.sources.objectstore import ObjectStore
from c360.sources.stream import EventStream

SCALES = {"XS": 2_000, "S": 10_000, "M": 1_000_000, "L": 5_000_000}

FIRST = np.array(["James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda", "David",
                  "Elizabeth", "William", "Barbara", "Richard", "Susan", "Joseph", "Jessica", "Thomas",
                  "Sarah", "Charles", "Karen", "Lukas", "Emma", "Hugo", "Chloe", "Mateo", "Lucia", "Liam",
                  "Olivia", "Noah", "Sofia", "Jan", "Anna", "Pierre", "Camille", "Giulia", "Marco"])
LAST = np.array(["Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Martinez",
                 "Lopez", "Wilson", "Anderson", "Taylor", "Moore", "Martin", "Lee", "Thompson", "White",
                 "Muller", "Schmidt", "Schneider", "Dubois", "Laurent", "Rossi", "Russo", "Fernandez",
                 "Novak", "Jansen", "De Vries", "Kowalski", "Nielsen", "Berg", "Silva", "Costa"])
COUNTRIES = {  # iso2: (cities, phone prefix, postcode digits)
    "US": (["New York", "Chicago", "Austin", "Seattle"], "+1", 5),
    "GB": (["London", "Leeds", "Bristol", "Glasgow"], "+44", 6),
    "DE": (["Berlin", "Hamburg", "Munich", "Cologne"], "+49", 5),
    "FR": (["Paris", "Lyon", "Lille", "Nantes"], "+33", 5),
    "ES": (["Madrid", "Seville", "Valencia", "Bilbao"], "+34", 5),
    "IT": (["Rome", "Milan", "Turin", "Naples"], "+39", 5),
    "NL": (["Amsterdam", "Utrecht", "Rotterdam", "Eindhoven"], "+31", 4),
}
DOMAINS = np.array(["example.com", "mail.test", "inbox.example", "post.example"])
CATEGORIES = np.array(["electronics", "home", "fashion", "beauty", "sports", "toys", "books", "grocery"])
TIERS = np.array(["bronze", "silver", "gold", "platinum"])
CHANNELS = np.array(["web", "app", "store"])
POSITIVE = ["Great quality, fast delivery. Love it!", "Excellent service, very happy.",
            "Amazing product, would buy again.", "Good value and friendly support."]
NEUTRAL = ["It is okay.", "Arrived on time.", "Average product, nothing special."]
NEGATIVE = ["Terrible experience, item arrived broken.", "Very disappointed, support never answered.",
            "Bad quality, I want a refund.", "Awful, late delivery and rude staff."]
EVENT_TYPES = np.array(["page_view", "product_view", "add_to_cart", "checkout", "like", "share", "comment"])
EVENT_P = np.array([0.45, 0.25, 0.1, 0.05, 0.07, 0.04, 0.04])

CUSTOMER_TYPES = {
    "customer_id": "int64", "first_name": "string", "last_name": "string", "email": "string",
    "phone": "string", "date_of_birth": "date", "gender": "string", "street": "string", "city": "string",
    "postcode": "string", "country": "string", "signup_date": "date", "loyalty_tier": "string",
    "marketing_consent": "bool", "updated_at": "timestamp", "is_deleted": "bool",
}


@dataclass
class Manifest:
    """What was generated, including every injected defect, counted (written next to the data)."""

    seed: int
    scale: str
    counts: dict[str, int] = field(default_factory=dict)
    defects: dict[str, int] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)

    def to_json(self) -> str:
        return json.dumps(self.__dict__, indent=2, sort_keys=True)


@dataclass
class World:
    customers: pa.Table
    order_lines: pa.Table
    feedback: pa.Table
    profiles: pa.Table
    events: list[bytes]
    event_keys: list[str]
    manifest: Manifest


def _ts(start: np.datetime64, seconds: np.ndarray) -> np.ndarray:
    return (start + seconds.astype("timedelta64[s]")).astype("datetime64[s]")


def _fmt_ts(a: np.ndarray) -> list[str]:
    return [s.replace("T", " ") for s in np.datetime_as_string(a, unit="s").tolist()]


def build_world(n_customers: int, seed: int, start: str = "2024-01-01", days: int = 365,
                scale: str = "custom") -> World:
    """Generate every entity in memory (deterministic for a seed)."""
    rng = np.random.default_rng(seed)
    man = Manifest(seed=seed, scale=scale)
    t0 = np.datetime64(start, "s")
    span = days * 86400
    n = n_customers

    # ------------------------------------------------------------ customers (CRM)
    ids = np.arange(1, n + 1, dtype=np.int64)
    first, last = FIRST[rng.integers(0, len(FIRST), n)], LAST[rng.integers(0, len(LAST), n)]
    iso = np.array(list(COUNTRIES))
    country = iso[rng.integers(0, len(iso), n)]
    city = np.array([COUNTRIES[c][0][i] for c, i in zip(country, rng.integers(0, 4, n), strict=True)])
    email = np.char.add(np.char.add(np.char.add(np.char.lower(first), "."),
                                    np.char.add(np.char.lower(np.char.replace(last, " ", "")), ids.astype(str))),
                        np.char.add("@", DOMAINS[rng.integers(0, len(DOMAINS), n)]))
    # Mess: some emails in upper case with spaces, some invalid.
    shout = rng.random(n) < 0.03
    email = np.where(shout, np.char.add(" ", np.char.upper(email)), email)
    invalid = rng.random(n) < 0.01
    email = np.where(invalid, np.char.replace(email, "@", " at "), email)
    man.defects["crm_email_case_whitespace"] = int(shout.sum())
    man.defects["crm_email_invalid"] = int(invalid.sum())
    prefix = np.array([COUNTRIES[c][1] for c in country])
    digits = rng.integers(100_000_000, 999_999_999, n).astype(str)
    dashed = rng.random(n) < 0.3
    phone = np.where(dashed, np.char.add(np.char.add(prefix, " "), digits),
                     np.char.add(prefix, digits))
    pc_len = np.array([COUNTRIES[c][2] for c in country])
    postcode = np.array([str(v).zfill(k)[:k] for v, k in zip(rng.integers(0, 999_999, n), pc_len, strict=True)])
    dob = (np.datetime64("1950-01-01") + rng.integers(0, 365 * 55, n).astype("timedelta64[D]"))
    signup = (np.datetime64(start, "D") - rng.integers(0, 3 * 365, n).astype("timedelta64[D]"))
    updated = _ts(t0, rng.integers(0, span, n))
    deleted = rng.random(n) < 0.01
    man.defects["crm_soft_deleted"] = int(deleted.sum())
    customers = pa.table({
        "customer_id": ids,
        "first_name": first, "last_name": last, "email": email, "phone": phone,
        "date_of_birth": pa.array(dob.astype("datetime64[D]").astype(date)),
        "gender": rng.choice(np.array(["F", "M", "X"]), n, p=[0.49, 0.49, 0.02]),
        "street": np.char.add(rng.integers(1, 300, n).astype(str), " Market Street"),
        "city": city, "postcode": postcode, "country": country,
        "signup_date": pa.array(signup.astype(date)),
        "loyalty_tier": TIERS[rng.choice(4, n, p=[0.5, 0.3, 0.15, 0.05])],
        "marketing_consent": rng.random(n) < 0.6,
        "updated_at": pa.array(updated.astype(datetime)),
        "is_deleted": deleted,
    })
    man.counts["crm_customers"] = n

    # ------------------------------------------------------------ products and order lines
    n_products = 200
    product_ids = np.char.add("P", np.char.zfill(np.arange(1, n_products + 1).astype(str), 5))
    product_price = np.round(rng.gamma(2.0, 20.0, n_products) + 2, 2)
    # Each customer's activity: gamma-distributed rate, so there are heavy and light buyers.
    rate = rng.gamma(2.0, 4.0, n)
    n_orders = rng.poisson(rate)
    order_cust = np.repeat(ids, n_orders)
    n_o = len(order_cust)
    order_id = np.char.add("O", np.char.zfill(np.arange(1, n_o + 1).astype(str), 9))
    order_ts = _ts(t0, rng.integers(0, span, n_o))
    lines = rng.integers(1, 4, n_o)
    li_order = np.repeat(np.arange(n_o), lines)
    line_no = (np.arange(len(li_order)) - np.repeat(np.cumsum(lines) - lines, lines) + 1).astype(np.int64)
    prod = rng.integers(0, n_products, len(li_order))
    qty = rng.integers(1, 4, len(li_order)).astype(np.int64)
    price = product_price[prod]
    amount = np.round(qty * price, 2)
    neg = rng.random(len(li_order)) < 0.005
    amount = np.where(neg, -amount, amount)
    man.defects["purchases_negative_amount"] = int(neg.sum())
    order_lines = pa.table({
        "order_id": order_id[li_order], "line_no": line_no, "customer_id": order_cust[li_order],
        "order_ts": _fmt_ts(order_ts[li_order]), "product_id": product_ids[prod], "quantity": qty,
        "unit_price": price, "amount": amount, "currency": np.full(len(li_order), "EUR"),
        "channel": CHANNELS[rng.integers(0, 3, len(li_order))],
        "_month": np.datetime_as_string(order_ts[li_order], unit="M"),
    })
    man.counts["purchase_lines"] = len(li_order)

    # ------------------------------------------------------------ feedback
    n_fb = max(1, int(n * 0.3))
    fb_cust = rng.integers(1, n + 1, n_fb)
    rating = rng.choice(np.arange(1, 6), n_fb, p=[0.1, 0.1, 0.2, 0.3, 0.3]).astype(np.int64)
    bad_rating = rng.random(n_fb) < 0.005
    rating = np.where(bad_rating, 9, rating)
    man.defects["feedback_rating_out_of_range"] = int(bad_rating.sum())
    text_pick = rng.integers(0, 100, n_fb)
    comment = [NEGATIVE[t % 4] if r <= 2 else NEUTRAL[t % 3] if r == 3 else POSITIVE[t % 4]
               for r, t in zip(rating.tolist(), text_pick.tolist(), strict=True)]
    fb_ts = _ts(t0, rng.integers(0, span, n_fb))
    feedback = pa.table({
        "feedback_id": np.char.add("F", np.char.zfill(np.arange(1, n_fb + 1).astype(str), 8)),
        "customer_id": fb_cust.astype(np.int64), "rating": rating, "comment": comment,
        "submitted_at": _fmt_ts(fb_ts), "_month": np.datetime_as_string(fb_ts, unit="M"),
    })
    man.counts["feedback"] = n_fb

    # ------------------------------------------------------------ partner profiles (XML)
    has = rng.random(n) < 0.3
    pidx = np.nonzero(has)[0]
    upper_case = rng.random(len(pidx)) < 0.2
    p_first = np.where(upper_case, np.char.upper(first[pidx]), first[pidx])
    profiles = pa.table({
        "profile_id": np.char.add("PP", np.char.zfill(np.arange(1, len(pidx) + 1).astype(str), 7)),
        "first_name": p_first, "last_name": last[pidx],
        "email": np.char.strip(np.char.lower(email[pidx])), "phone": phone[pidx],
        "city": city[pidx], "country": country[pidx],
    })
    man.counts["partner_profiles"] = len(pidx)
    man.defects["profiles_name_upper_case"] = int(upper_case.sum())

    # ------------------------------------------------------------ stream events
    n_ev = n * 5
    ev_cust = rng.integers(1, n + 1, n_ev)
    logged_in = rng.random(n_ev) < 0.7
    session = rng.integers(0, n * 3, n_ev)
    ev_type = EVENT_TYPES[rng.choice(len(EVENT_TYPES), n_ev, p=EVENT_P)]
    ev_ts = _fmt_ts(_ts(t0, rng.integers(0, span, n_ev)))
    ev_prod = product_ids[rng.integers(0, n_products, n_ev)]
    texts = np.array(POSITIVE + NEGATIVE)[rng.integers(0, 8, n_ev)]
    events: list[bytes] = []
    keys: list[str] = []
    for i in range(n_ev):  # JSON encoding is per record by nature
        cookie = f"ck{session[i] % (n * 2):08d}"
        rec: dict[str, Any] = {
            "event_id": f"E{i + 1:010d}", "event_type": str(ev_type[i]), "event_ts": ev_ts[i],
            "cookie_id": cookie, "session_id": f"S{session[i]:09d}",
            "customer_id": int(ev_cust[i]) if logged_in[i] else None,
            "page": f"/p/{ev_prod[i]}", "product_id": str(ev_prod[i]),
        }
        if ev_type[i] == "comment":
            rec["text"] = str(texts[i])
        events.append(json.dumps(rec, separators=(",", ":")).encode())
        keys.append(cookie)
    dup = np.nonzero(rng.random(n_ev) < 0.01)[0]
    for i in dup.tolist():  # at-least-once delivery: the same event twice
        events.append(events[i])
        keys.append(keys[i])
    poison = max(1, n_ev // 2000)
    for j in range(poison):
        events.append(b"<<not json " + str(j).encode() + b">>")
        keys.append(f"poison{j}")
    man.counts["events"] = n_ev
    man.counts["stream_records"] = len(events)
    man.defects["events_duplicate"] = len(dup)
    man.defects["events_poison"] = poison
    return World(customers, order_lines, feedback, profiles, events, keys, man)


# ------------------------------------------------------------------ writers
def _jsonl(rows: list[dict[str, Any]]) -> bytes:
    return b"".join(json.dumps(r, separators=(",", ":")).encode() + b"\n" for r in rows)


def write_files(world: World, store: ObjectStore) -> None:
    """Purchases as monthly JSON-lines files, feedback as monthly CSV, profiles as XML chunks."""
    man = world.manifest
    ol = world.order_lines
    months = sorted(set(ol.column("_month").to_pylist()))
    by_month: dict[str, list[dict[str, Any]]] = {m: [] for m in months}
    for r in ol.drop(["_month"]).to_pylist():
        by_month[r["order_ts"][:7]].append(r)
    for i, m in enumerate(months):
        body = _jsonl(by_month[m])
        if i == 0:  # one malformed line: a truncated record
            body += b'{"order_id": "O999999999", "line_no": 1, "customer_id": \n'
            man.defects["purchases_malformed_json_line"] = 1
        key = f"purchases/year={m[:4]}/month={m[5:7]}/purchases-{m}.jsonl"
        store.put(key, body)
        man.files.append(key)

    fb = world.feedback
    cols = [c for c in fb.column_names if c != "_month"]
    fb_months: dict[str, list[dict[str, Any]]] = {}
    for r in fb.to_pylist():
        fb_months.setdefault(r.pop("_month"), []).append(r)
    for m, rows in sorted(fb_months.items()):
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=cols, lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
        key = f"feedback/feedback-{m}.csv"
        store.put(key, buf.getvalue().encode())
        man.files.append(key)

    prof = world.profiles.to_pylist()
    for i in range(0, max(len(prof), 1), 1000):
        root = etree.Element("profiles", partner="acme-partners")
        for p in prof[i:i + 1000]:
            el = etree.SubElement(root, "profile")
            for k, v in p.items():
                etree.SubElement(el, k).text = v
        key = f"profiles/partner-profiles-{i // 1000:04d}.xml"
        store.put(key, etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True))
        man.files.append(key)
    # A truncated XML file: unreadable as a whole, so the whole file goes to quarantine.
    store.put("profiles/partner-profiles-truncated.xml",
              b'<?xml version="1.0"?>\n<profiles><profile><profile_id>PPX1</profile_id><first_na')
    man.defects["profiles_truncated_file"] = 1
    man.files.append("profiles/partner-profiles-truncated.xml")


def write_crm(world: World, crm: CrmDatabase) -> None:
    crm.replace_table("customers", world.customers, CUSTOMER_TYPES, "customer_id")


def write_stream(world: World, stream: EventStream, shards: int, chunk: int = 5000) -> None:
    stream.create(shards)
    pairs = list(zip(world.event_keys, world.events, strict=True))
    for i in range(0, len(pairs), chunk):
        stream.put(pairs[i:i + chunk])


def generate(n_customers: int, seed: int, crm: CrmDatabase, store: ObjectStore, stream: EventStream,
             shards: int = 2, start: str = "2024-01-01", days: int = 365, scale: str = "custom") -> Manifest:
    """Build the world and write it into the CRM, the object store and the stream."""
    world = build_world(n_customers, seed, start, days, scale)
    write_crm(world, crm)
    write_files(world, store)
    write_stream(world, stream, shards)
    store.put("_manifest.json", world.manifest.to_json().encode())
    return world.manifest



def generate_from_settings(settings: Any, scale: str | None = None, seed: int | None = None,
                           force: bool = False) -> Manifest:
    """Generate into the endpoints the settings name (embedded defaults under home if unset)."""
    from c360.errors import C360Error
    from c360.sources.objectstore import open_object_store
    from c360.sources.stream import open_stream

    scale = scale or settings.generator.scale
    seed = settings.generator.seed if seed is None else seed
    store = open_object_store(settings)
    stream = open_stream(settings)
    if store.list("_manifest.json") and not force:
        raise C360Error("the sources already hold a generated company", where=store.url,
                        fix="use --force to replace it (the lake keeps what it ingested)")
    if force:  # a fresh stream: appending a second world would duplicate every event
        stream.delete()
    pw = settings.crm.password.get_secret_value() if settings.crm.password else None
    crm = CrmDatabase(settings.crm_url, pw)
    return generate(SCALES[scale], seed, crm, store, stream, shards=settings.stream.shards,
                    start=settings.generator.start_date, days=settings.generator.days, scale=scale)
