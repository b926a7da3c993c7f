"""Build the synthetic company in memory: persons and every record they leave in every source.

Vectorised with numpy: per-record Python runs only over the small varied subsets (typos,
nicknames…). One ``numpy.random.Generator`` seeded once and used in a fixed order makes the
world a pure function of (scale, seed, start, days, rates).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from c360.config import MessRates
from c360.sources.generator import vocab as V

LIFECYCLES = np.array(["new", "loyal", "lapsing", "churned"])
ID_BLOCK = 10**9  # each chunk's id sequences start at chunk * ID_BLOCK
CATALOG_STREAM = 1_000_003  # the catalog's own random stream (same in every chunk)
VARIATIONS = ("typo", "nickname", "swapped_names", "case_whitespace", "email_format", "phone_format",
              "moved_address")


@dataclass
class Manifest:
    """What was generated, with every injected defect counted. No wall-clock time inside."""

    seed: int
    scale: str
    start_date: str
    days: int
    counts: dict[str, int] = field(default_factory=dict)
    defects: dict[str, int] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)

    def add(self, bucket: str, key: str, n: int) -> None:
        d = self.counts if bucket == "counts" else self.defects
        d[key] = d.get(key, 0) + int(n)


@dataclass
class World:
    """Every generated table, keyed by name, plus the manifest. ``truth`` is never ingested."""

    tables: dict[str, pa.Table]
    events: pa.Table  # event records in delivery order (late arrivals and duplicates included)
    poison_at: np.ndarray  # stream positions before which a poison record is delivered
    truth: pa.Table  # source, record_id, person_id
    manifest: Manifest
    malformed_files: bool = True  # the writers add one broken file of each format


def _s(a: np.ndarray) -> np.ndarray:
    return a.astype(str)


# numpy's zfill/replace/partition fail on empty arrays ("zero-size array to reduction"): wrap them.
def _zfill(a: np.ndarray, width: int) -> np.ndarray:
    return np.char.zfill(a, width) if len(a) else a.astype(f"U{width}")


def _replace(a: np.ndarray, old: str, new: str, count: int | None = None) -> np.ndarray:
    if not len(a):
        return a
    return np.char.replace(a, old, new) if count is None else np.char.replace(a, old, new, count=count)


def _partition(a: np.ndarray, sep: str, reverse: bool = False) -> np.ndarray:
    if not len(a):
        return np.empty((0, 3), dtype=a.dtype)
    return np.char.rpartition(a, sep) if reverse else np.char.partition(a, sep)


def _nullable(values: np.ndarray, null: np.ndarray, typ: pa.DataType) -> pa.Array:
    """An Arrow array with nulls where ``null`` is true (no Python objects: fast at millions)."""
    return pa.array(values, type=typ, mask=null)


def _cat(*parts: Any) -> np.ndarray:
    out = parts[0] if isinstance(parts[0], np.ndarray) else np.array(parts[0])
    for p in parts[1:]:
        out = np.char.add(out, p)
    return out


def _pick(rng: np.random.Generator, choices: list[str] | np.ndarray, n: int, p: Any = None) -> np.ndarray:
    return np.asarray(choices)[rng.choice(len(choices), n, p=p)]


def _pick_dict(rng: np.random.Generator, choices: list[str], n: int, p: Any = None) -> pa.DictionaryArray:
    """Like ``_pick`` but as a dictionary-encoded Arrow column (no string per row: fast at millions)."""
    return pa.DictionaryArray.from_arrays(pa.array(rng.choice(len(choices), n, p=p).astype(np.int8)),
                                          pa.array(choices))


def _ts(t0: np.datetime64, seconds: np.ndarray) -> np.ndarray:
    return (t0 + seconds.astype("timedelta64[s]")).astype("datetime64[s]")


def _iso(a: np.ndarray) -> np.ndarray:
    return _replace(np.datetime_as_string(a, unit="s"), "T", " ")


def rating_text(rng: np.random.Generator, rating: np.ndarray) -> np.ndarray:
    """Free text whose wording matches a 1-5 rating (positive 4-5, neutral 3, negative 1-2)."""
    n = len(rating)
    return np.where(rating >= 4, V.arr(V.POSITIVE)[rng.integers(0, len(V.POSITIVE), n)],
                    np.where(rating == 3, V.arr(V.NEUTRAL)[rng.integers(0, len(V.NEUTRAL), n)],
                             V.arr(V.NEGATIVE)[rng.integers(0, len(V.NEGATIVE), n)]))


def _mixed_dates(rng: np.random.Generator, ts: np.ndarray, rate: float, man: Manifest, what: str,
                 with_time: bool = True) -> np.ndarray:
    """ISO text, except a ``rate`` share written as DD/MM/YYYY[ HH:MM] or ISO-8601 with T and Z."""
    d = np.datetime_as_string(ts.astype("datetime64[D]"))  # YYYY-MM-DD
    year, month = d.astype("U4"), _partition(d, sep="-")[:, 2].astype("U2")
    dmy = _cat(_partition(d, reverse=True, sep="-")[:, 2], "/", month, "/", year)
    if with_time:
        iso = _iso(ts)
        dmy = _cat(dmy, " ", _partition(iso, reverse=True, sep=" ")[:, 2].astype("U5"))
        alt = _cat(np.datetime_as_string(ts, unit="s"), "Z")
    else:
        iso, alt = d, dmy
    kind = rng.random(len(ts))
    out = np.where(kind < rate / 2, dmy, np.where(kind < rate, alt, iso))
    man.add("defects", f"{what}_non_iso_dates", int((kind < rate).sum()))
    return out


def _seasonal_cdf(start: np.datetime64, days: int) -> np.ndarray:
    """Cumulative weight per day: weekends and Nov/Dec busier (so trends have seasonality)."""
    d = start.astype("datetime64[D]") + np.arange(days)
    month = (d.astype("datetime64[M]").astype(int) % 12) + 1
    weekday = (d.astype(int) + 3) % 7  # 0 = Monday
    w = np.ones(days) * np.where(weekday >= 5, 1.3, 1.0) * np.where(month == 12, 1.8, np.where(month == 11, 1.5, 1.0))
    c = np.concatenate([[0.0], np.cumsum(w)])
    return c / c[-1]


def _vary(rng: np.random.Generator, rec: dict[str, np.ndarray], idx: np.ndarray, man: Manifest,
          source: str) -> dict[str, np.ndarray]:
    """Apply one variation kind to each record in ``idx`` (a copy of the affected columns)."""
    out = {k: v.copy() for k, v in rec.items()}
    kinds = rng.integers(0, len(VARIATIONS), len(idx))
    cities = {c: v[0] for c, v in V.COUNTRIES.items()}
    # Python over the varied subset only: string surgery per record is clearer than numpy here.
    for i, k in zip(idx.tolist(), kinds.tolist(), strict=True):
        kind = VARIATIONS[k]
        man.add("defects", f"{source}_variation_{kind}", 1)
        first, last = str(out["first_name"][i]), str(out["last_name"][i])
        if kind == "typo":
            j = (i % max(1, len(last) - 2)) + 1
            out["last_name"][i] = last[:j - 1] + last[j] + last[j - 1] + last[j + 1:] if len(last) > 2 else last + "e"
        elif kind == "nickname":
            out["first_name"][i] = V.NICKNAMES.get(first, first[:-1] if len(first) > 3 else first + "y")
        elif kind == "swapped_names":
            out["first_name"][i], out["last_name"][i] = last, first
        elif kind == "case_whitespace":
            out["first_name"][i] = "  " + first.upper()
            out["last_name"][i] = last.lower() + " "
        elif kind == "email_format":
            e = str(out["email"][i])
            user, _, dom = e.partition("@")
            out["email"][i] = (user.upper() + "@" + dom.upper()) if i % 2 else (user + "+shop@" + dom)
        elif kind == "phone_format":
            out["phone"][i] = _national(str(out["phone"][i]), str(out["country"][i]))
        else:  # moved: same person, new address in the same country
            c = str(out["country"][i])
            out["city"][i] = cities[c][(i + 1) % len(cities[c])]
            out["street"][i] = f"{(i * 7) % 300 + 1} {V.STREETS[(i * 3) % len(V.STREETS)]}"
            out["postcode"][i] = str((i * 7919) % 10 ** V.COUNTRIES[c][3]).zfill(V.COUNTRIES[c][3])
    return out


def _national(e164: str, country: str) -> str:
    """'+441234567890' -> '01234 567 890' (the national written form a person might type)."""
    cc, trunk = V.COUNTRIES[country][1], V.COUNTRIES[country][2]
    rest = e164.removeprefix("+" + cc)
    nat = trunk + rest
    return f"{nat[:5]} {nat[5:8]} {nat[8:]}".strip()


@dataclass
class CatalogTables:
    """Products, stores and the sales team, with the index arrays orders need."""

    tables: dict[str, pa.Table]
    prod_cat: np.ndarray
    offsets: np.ndarray
    product_id: np.ndarray
    price: np.ndarray
    store_id: np.ndarray
    st_first: np.ndarray
    st_count: np.ndarray
    sp_id: np.ndarray
    sp_offsets: np.ndarray
    sp_per_store: np.ndarray


def catalog_tables(seed: int, total: int, t0: np.datetime64) -> CatalogTables:
    """The catalog for a company of ``total`` customers, from its own random stream."""
    crng = np.random.default_rng([seed, CATALOG_STREAM])
    cat_n, cats, iso = len(V.CATEGORIES), V.arr(V.CATEGORIES), ISO
    tables: dict[str, pa.Table] = {}
    n_products = int(min(5000, max(200, total // 200)))
    prod_cat = np.sort(crng.integers(0, cat_n, n_products))  # grouped by category
    cat_offsets = np.searchsorted(prod_cat, np.arange(cat_n + 1))
    product_id = _cat("P", _zfill(_s(np.arange(1, n_products + 1)), 5))
    words = np.array([V.PRODUCT_WORDS[V.CATEGORIES[c]][i % 7] for i, c in enumerate(prod_cat.tolist())])
    pname = _cat(V.arr(V.ADJECTIVES)[crng.integers(0, len(V.ADJECTIVES), n_products)], " ", words)
    base_price = np.array([V.CATEGORY_PRICE[V.CATEGORIES[c]] for c in prod_cat.tolist()])
    price = np.round(np.floor(base_price * crng.lognormal(0.0, 0.4, n_products)) + 0.99, 2)
    tables["products"] = pa.table({
        "product_id": product_id, "name": pname, "category": cats[prod_cat], "price": price,
        "supplier": V.arr(V.SUPPLIERS)[crng.integers(0, len(V.SUPPLIERS), n_products)],
        "updated_at": pa.array(np.full(n_products, t0), pa.timestamp("s")),
    })
    per_country = max(1, total // 100_000)
    st_count = per_country * np.array([max(1, round(w * 10)) for w in V.COUNTRY_WEIGHTS])
    st_first = np.concatenate([[0], np.cumsum(st_count)[:-1]])
    st_country = np.repeat(iso, st_count)  # stores grouped by country, in `iso` order
    n_stores = len(st_country)
    st_city = np.array([V.COUNTRIES[c][0][i % 6] for i, c in enumerate(st_country.tolist())])
    store_id = _cat("ST", _zfill(_s(np.arange(1, n_stores + 1)), 4))
    tables["stores"] = pa.table({
        "store_id": store_id, "name": _cat("c360 ", st_city, " ", _s(np.arange(1, n_stores + 1))),
        "city": st_city, "country": st_country,
        "opened_date": pa.array(np.datetime64("2015-01-01") + crng.integers(0, 3000, n_stores).astype(
            "timedelta64[D]"), pa.date32()),
        "updated_at": pa.array(np.full(n_stores, t0), pa.timestamp("s")),
    })
    sp_per_store = crng.integers(3, 9, n_stores)
    sp_store = np.repeat(np.arange(n_stores), sp_per_store)
    n_sp = len(sp_store)
    sp_offsets = np.concatenate([[0], np.cumsum(sp_per_store)])
    sp_id = _cat("SP", _zfill(_s(np.arange(1, n_sp + 1)), 5))
    sp_first = V.arr(V.FIRST_F + V.FIRST_M)[crng.integers(0, 60, n_sp)]
    sp_last = V.arr(V.LAST)[crng.integers(0, len(V.LAST), n_sp)]
    tables["salespeople"] = pa.table({
        "salesperson_id": sp_id, "store_id": store_id[sp_store], "first_name": sp_first, "last_name": sp_last,
        "email": _cat(np.char.lower(sp_first), ".", _s(np.arange(1, n_sp + 1)), "@c360-retail.example"),
        "hired_date": pa.array(np.datetime64("2016-01-01") + crng.integers(0, 2500, n_sp).astype(
            "timedelta64[D]"), pa.date32()),
        "updated_at": pa.array(np.full(n_sp, t0), pa.timestamp("s")),
    })

    return CatalogTables(tables, prod_cat, cat_offsets, product_id, price, store_id, st_first, st_count, sp_id,
                         sp_offsets, sp_per_store)


def build_world(n_customers: int, seed: int, start: str = "2024-01-01", days: int = 365,
                rates: MessRates | None = None, scale: str = "custom", chunk: int = 0, person_offset: int = 0,
                total: int | None = None) -> World:
    """Generate the company, or one chunk of its persons. Same arguments, same world.

    A big company is built as chunks of persons ``person_offset + 0 .. n_customers - 1`` out of
    ``total``: persons are independent, ids are globally unique (sequences start at
    ``chunk * 10**9``), and the catalog (products, stores, sales team) comes from its own random
    stream so every chunk sees the same one (chunk 0 emits its tables).
    """
    r = rates or MessRates()
    rng = np.random.default_rng([seed, chunk])
    man = Manifest(seed=seed, scale=scale, start_date=start, days=days)
    t0 = np.datetime64(start, "s")
    n = n_customers
    total = total or n
    seq0 = chunk * ID_BLOCK  # this chunk's block of every id sequence
    tables: dict[str, pa.Table] = {}
    truth: list[pa.Table] = []

    # ------------------------------------------------------------------ persons (the truth)
    pid = np.arange(n, dtype=np.int64)
    gp = person_offset + pid + 1  # global person numbers
    man.add("counts", "persons", n)
    ppl = people(rng, gp)
    person_key, gender, first, last = ppl["person_key"], ppl["gender"], ppl["first_name"], ppl["last_name"]
    dob = ppl["dob"]
    country_idx, country, city = ppl["country_idx"], ppl["country"], ppl["city"]
    postcode, phone, street, email = ppl["postcode"], ppl["phone"], ppl["street"], ppl["email"]
    lifecycle = LIFECYCLES[rng.choice(4, n, p=[0.2, 0.3, 0.25, 0.25])]
    end_day = np.full(n, days, dtype=np.int64)
    signup = np.datetime64(start, "D") - rng.integers(1, 3 * 365, n).astype("timedelta64[D]")
    new = lifecycle == "new"
    signup_day = np.where(new, rng.integers(0, max(1, days - 1), n), -1)
    signup = np.where(new, np.datetime64(start, "D") + signup_day.astype("timedelta64[D]"), signup)
    start_day = np.maximum(signup_day, 0)
    churned = lifecycle == "churned"
    end_day = np.where(churned, start_day + (rng.random(n) * 0.6 * (days - start_day)).astype(np.int64) + 1, end_day)
    base_rate = np.where(lifecycle == "loyal", rng.gamma(4.0, 5.0, n), rng.gamma(2.0, 5.0, n))  # orders / year
    cat_n = len(V.CATEGORIES)
    pref1 = rng.integers(0, cat_n, n)
    pref2 = (pref1 + rng.integers(1, cat_n, n)) % cat_n
    pref_channel = _pick(rng, V.CHANNELS, n, [0.5, 0.3, 0.2])
    tier_q = np.argsort(np.argsort(base_rate)) / max(1, n - 1)
    tier = np.where(tier_q > 0.95, "platinum", np.where(tier_q > 0.8, "gold", np.where(tier_q > 0.5, "silver",
                                                                                         "bronze")))

    # ------------------------------------------------------------------ CRM customers (+ duplicates)
    dup = np.nonzero(rng.random(n) < r.crm_duplicate_person)[0]
    rec_person = np.concatenate([pid, dup])
    m = len(rec_person)
    base = {"first_name": first[rec_person], "last_name": last[rec_person], "email": email[rec_person],
            "phone": phone[rec_person], "street": street[rec_person], "city": city[rec_person],
            "postcode": postcode[rec_person], "country": country[rec_person]}
    varied = _vary(rng, base, np.arange(n, m), man, "crm")
    man.add("defects", "crm_duplicate_person", len(dup))
    customer_id = np.concatenate([gp, total + gp[dup]])  # a duplicate's id: total + its person number
    email_c = varied["email"].copy()
    bad_email = rng.random(m) < r.invalid_email
    email_c[bad_email] = _replace(email_c[bad_email], "@", " at ")
    man.add("defects", "crm_invalid_email", bad_email.sum())
    missing = {}
    for name in ("phone", "date_of_birth", "postcode"):
        missing[name] = rng.random(m) < r.missing_value
        man.add("defects", f"crm_missing_{name}", missing[name].sum())
    updated = _ts(t0, rng.integers(0, days * 86400, m))
    deleted = (rng.random(m) < 0.005) | (churned[rec_person] & (rng.random(m) < 0.02))
    man.add("defects", "crm_soft_deleted", deleted.sum())
    cats = V.arr(V.CATEGORIES)
    tables["customers"] = pa.table({
        "customer_id": customer_id,
        "first_name": varied["first_name"], "last_name": varied["last_name"],
        "email": pa.array(email_c, pa.string()),
        "phone": _nullable(varied["phone"], missing["phone"], pa.string()),
        "date_of_birth": _nullable(dob[rec_person].astype("datetime64[D]"), missing["date_of_birth"], pa.date32()),
        "gender": gender[rec_person], "street": varied["street"], "city": varied["city"],
        "postcode": _nullable(varied["postcode"], missing["postcode"], pa.string()),
        "country": varied["country"],
        "signup_date": pa.array(signup[rec_person].astype("datetime64[D]"), pa.date32()),
        "loyalty_tier": tier[rec_person], "marketing_consent": rng.random(m) < 0.6,
        "preferred_channel": pref_channel[rec_person],
        "preferred_categories": _cat(cats[pref1[rec_person]], ",", cats[pref2[rec_person]]),
        "updated_at": pa.array(updated, pa.timestamp("s")), "is_deleted": deleted,
    })
    truth.append(_truth("crm.customers", _s(customer_id), person_key[rec_person]))
    man.add("counts", "crm_customers", m)
    # a person's CRM id for their orders: the duplicate record is used for some orders
    person_cid = gp
    dup_cid = np.full(n, -1, dtype=np.int64)
    dup_cid[dup] = total + gp[dup]

    # ------------------------------------------------------------------ catalog, stores, sales team
    cat_t = catalog_tables(seed, total, t0)
    if chunk == 0:
        tables.update(cat_t.tables)
        for k, v in cat_t.tables.items():
            man.add("counts", k, v.num_rows)
    prod_cat, cat_offsets, product_id, price = cat_t.prod_cat, cat_t.offsets, cat_t.product_id, cat_t.price
    store_id, sp_id, st_first, st_count = cat_t.store_id, cat_t.sp_id, cat_t.st_first, cat_t.st_count
    sp_offsets, sp_per_store = cat_t.sp_offsets, cat_t.sp_per_store

    # ------------------------------------------------------------------ orders and lines
    active_years = np.maximum(end_day - start_day, 1) / 365.0
    n_orders = rng.poisson(base_rate * active_years)
    o_person = np.repeat(pid, n_orders)
    n_o = len(o_person)
    cdf = _seasonal_cdf(np.datetime64(start, "D"), days)
    u = rng.random(n_o)
    u = np.where((lifecycle == "lapsing")[o_person], 1 - np.sqrt(1 - u), u)  # lapsing: fewer orders late on
    lo, hi = cdf[start_day[o_person]], cdf[np.minimum(end_day[o_person], days)]
    day = np.minimum(np.searchsorted(cdf, lo + u * (hi - lo), side="right") - 1, days - 1)
    day = np.clip(day, start_day[o_person], np.maximum(end_day[o_person] - 1, start_day[o_person]))
    secs = day * 86400 + rng.integers(8 * 3600, 22 * 3600, n_o)
    order_sort = np.lexsort((o_person, secs))  # order ids follow time, like a real sequence
    o_person, secs = o_person[order_sort], secs[order_sort]
    order_id = arrow_ids("O", seq0 + np.arange(1, n_o + 1), 12)
    o_channel = np.where(rng.random(n_o) < 0.6, pref_channel[o_person], _pick(rng, V.CHANNELS, n_o))
    # store orders: a store in the customer's country, a salesperson of that store
    c_idx = country_idx[o_person]
    o_store = st_first[c_idx] + (rng.random(n_o) * st_count[c_idx]).astype(np.int64)
    o_sp = sp_offsets[o_store] + (rng.random(n_o) * sp_per_store[o_store]).astype(np.int64)
    in_store = o_channel == "store"
    o_cid = np.where((dup_cid[o_person] > 0) & (rng.random(n_o) < 0.3), dup_cid[o_person], person_cid[o_person])
    guest = (rng.random(n_o) < r.guest_order) & ~in_store
    orphan = (rng.random(n_o) < r.orphan_order) & ~guest
    man.add("defects", "orders_guest", guest.sum())
    man.add("defects", "orders_orphan_customer", orphan.sum())
    o_cid_out = np.where(orphan, 10**13 + seq0 + np.arange(n_o), o_cid)  # ids no customer has
    cat_info = Catalog(cat_offsets, price, product_id)
    ol, payments, li, line_no, amount = order_tables(
        rng, r, man, order_id, secs, t0, pref1[o_person], pref2[o_person], o_cid_out, guest, pa.array(email),
        o_person, o_channel, pa.array(store_id).take(pa.array(o_store)), pa.array(sp_id).take(pa.array(o_sp)),
        ~in_store, cat_info)
    tables["order_lines"], tables["payments"] = ol, payments
    n_l = len(li)
    keys = pa.array(person_key)
    truth.append(_truth("purchases.order", order_id, keys.take(pa.array(o_person))))

    ret = np.nonzero((rng.random(n_l) < 0.03) & (amount > 0))[0]
    ret_ts = _ts(t0, secs[li[ret]] + rng.integers(3, 30, len(ret)) * 86400)
    tables["returns"] = pa.table({
        "return_id": _cat("R", _zfill(_s(seq0 + np.arange(1, len(ret) + 1)), 12)),
        "order_id": order_id.take(pa.array(li[ret])), "line_no": line_no[ret],
        "customer_id": _nullable(o_cid_out[li[ret]], guest[li[ret]], pa.int64()),
        "returned_at": pa.array(ret_ts, pa.timestamp("s")),
        "reason": _pick(rng, V.RETURN_REASONS, len(ret)), "amount": amount[ret],
        "updated_at": pa.array(ret_ts, pa.timestamp("s")),
    })
    man.add("counts", "returns", len(ret))

    # ------------------------------------------------------------------ support, feedback, surveys
    unhappy = np.where(churned | (lifecycle == "lapsing"), 0.35, 0.12)
    n_t = rng.poisson(unhappy * 2)
    t_person = np.repeat(pid, n_t)
    k = len(t_person)
    t_open = _ts(t0, rng.integers(0, days * 86400, k))
    ticket_id = _cat("T", _zfill(_s(seq0 + np.arange(1, k + 1)), 12))
    t_status = _pick(rng, ["open", "pending", "closed"], k, [0.1, 0.1, 0.8])
    tables["support_tickets"] = pa.table({
        "ticket_id": ticket_id, "customer_id": person_cid[t_person],
        "opened_at": pa.array(t_open, pa.timestamp("s")),
        "channel": _pick(rng, ["email", "phone", "chat"], k, [0.5, 0.2, 0.3]),
        "subject": _pick(rng, V.TICKET_SUBJECTS, k), "status": t_status,
        "priority": _pick(rng, ["low", "normal", "high"], k, [0.3, 0.5, 0.2]),
        "updated_at": pa.array(_ts(t0, (t_open - t0).astype(np.int64) + rng.integers(0, 5 * 86400, k)),
                               pa.timestamp("s")),
    })
    truth.append(_truth("crm.support_tickets", ticket_id, person_key[t_person]))
    n_mail = rng.integers(1, 4, k)
    m_ticket = np.repeat(np.arange(k), n_mail)
    km = len(m_ticket)
    m_seq = np.arange(km) - np.repeat(np.cumsum(n_mail) - n_mail, n_mail)
    tables["support_emails"] = pa.table({
        "email_id": _cat("EM", _zfill(_s(seq0 + np.arange(1, km + 1)), 12)), "ticket_id": ticket_id[m_ticket],
        "customer_id": person_cid[t_person[m_ticket]],
        "direction": np.where(m_seq % 2 == 0, "inbound", "outbound"),
        "sent_at": pa.array(_ts(t0, (t_open[m_ticket] - t0).astype(np.int64) + m_seq * 3600 * 6), pa.timestamp("s")),
        "body": np.where(m_seq % 2 == 0, V.arr(V.NEGATIVE)[rng.integers(0, len(V.NEGATIVE), km)],
                         "Thank you for contacting us, we are looking into it."),
        "updated_at": pa.array(_ts(t0, (t_open[m_ticket] - t0).astype(np.int64) + m_seq * 3600 * 6),
                               pa.timestamp("s")),
    })
    man.add("counts", "support_tickets", k)
    man.add("counts", "support_emails", km)

    mood = np.where(churned, -1.0, np.where(lifecycle == "loyal", 1.0, 0.3))
    n_fb = rng.poisson(0.4, n)
    f_person = np.repeat(pid, n_fb)
    kf = len(f_person)
    rating = np.clip(np.round(3.4 + mood[f_person] + rng.normal(0, 1.0, kf)), 1, 5).astype(np.int64)
    text = rating_text(rng, rating)
    f_ts = _ts(t0, rng.integers(0, days * 86400, kf))
    feedback_id = _cat("F", _zfill(_s(seq0 + np.arange(1, kf + 1)), 12))
    tables["feedback"] = pa.table({
        "feedback_id": feedback_id, "customer_id": person_cid[f_person], "rating": rating, "comment": text,
        "submitted_at": _mixed_dates(rng, f_ts, r.mixed_date_format, man, "feedback"),
        "_month": np.datetime_as_string(f_ts, unit="M"),
    })
    man.add("counts", "feedback", kf)
    truth.append(_truth("files.feedback", feedback_id, person_key[f_person]))
    n_sv = rng.poisson(0.3, n)
    s_person = np.repeat(pid, n_sv)
    ks = len(s_person)
    nps = np.clip(np.round(7 + 2 * mood[s_person] + rng.normal(0, 1.8, ks)), 0, 10).astype(np.int64)
    csat = np.clip(np.round(3.6 + mood[s_person] + rng.normal(0, 0.9, ks)), 1, 5).astype(np.int64)
    s_ts = _ts(t0, rng.integers(0, days * 86400, ks))
    survey_id = _cat("SV", _zfill(_s(seq0 + np.arange(1, ks + 1)), 12))
    tables["surveys"] = pa.table({
        "survey_id": survey_id, "customer_id": person_cid[s_person],
        "survey_type": _pick(rng, V.SURVEY_TYPES, ks, [0.5, 0.2, 0.3]),
        "channel": _pick(rng, V.SURVEY_CHANNELS, ks, [0.4, 0.3, 0.2, 0.1]),
        "nps": nps, "csat": csat,
        "responded_at": _mixed_dates(rng, s_ts, r.mixed_date_format, man, "surveys"),
        "comment": np.where(nps >= 9, V.arr(V.POSITIVE)[rng.integers(0, len(V.POSITIVE), ks)],
                            np.where(nps <= 6, V.arr(V.NEGATIVE)[rng.integers(0, len(V.NEGATIVE), ks)], "")),
        "_month": np.datetime_as_string(s_ts, unit="M"),
    })
    man.add("counts", "surveys", ks)
    truth.append(_truth("files.surveys", survey_id, person_key[s_person]))

    # ------------------------------------------------------------------ partner profiles (XML)
    has = np.nonzero(rng.random(n) < r.profile_coverage)[0]
    again = has[rng.random(len(has)) < r.profile_duplicate]
    p_person = np.concatenate([has, again])
    kp = len(p_person)
    pbase = {"first_name": first[p_person], "last_name": last[p_person], "email": email[p_person],
             "phone": phone[p_person], "street": street[p_person], "city": city[p_person],
             "postcode": postcode[p_person], "country": country[p_person]}
    to_vary = np.nonzero(rng.random(kp) < r.profile_variation)[0]
    pv = _vary(rng, pbase, to_vary, man, "profiles")
    man.add("defects", "profiles_duplicate_person", len(again))
    p_dob = _mixed_dates(rng, dob[p_person].astype("datetime64[s]"), r.mixed_date_format, man, "profiles",
                         with_time=False)
    miss = rng.random(kp) < r.missing_value
    man.add("defects", "profiles_missing_phone", miss.sum())
    profile_id = _cat("PP", _zfill(_s(seq0 + np.arange(1, kp + 1)), 12))
    tables["profiles"] = pa.table({
        "profile_id": profile_id, "first_name": pv["first_name"], "last_name": pv["last_name"],
        "email": pv["email"], "phone": _nullable(pv["phone"], miss, pa.string()),
        "date_of_birth": pa.array(p_dob, pa.string()), "street": pv["street"], "city": pv["city"],
        "postcode": pv["postcode"], "country": pv["country"],
    })
    man.add("counts", "partner_profiles", kp)
    truth.append(_truth("files.partner_profiles", profile_id, person_key[p_person]))

    # ------------------------------------------------------------------ web and social events
    events, ev_truth = events_table(rng, pid, person_cid, gp - 1, lifecycle, base_rate, product_id, prod_cat, pref1,
                                    t0, days, r, man, id_base=seq0)
    truth.append(_truth("stream.events", ev_truth[0], keys.take(pa.array(ev_truth[1]))))
    poison = poison_positions(rng, events.num_rows, r.poison_record)
    man.add("defects", "events_poison", len(poison))
    man.add("counts", "stream_records", events.num_rows + len(poison))
    return World(tables, events, poison, pa.concat_tables(truth), man, r.malformed_files and chunk == 0)


ISO = np.array(list(V.COUNTRIES))


def people(rng: np.random.Generator, ids: np.ndarray) -> dict[str, np.ndarray]:
    """Identity attributes of new persons numbered ``ids`` (1-based): names, birth date, address,
    E.164 phone, email. Used for the initial world and for each incremental day's newcomers."""
    n = len(ids)
    gender = _pick(rng, ["F", "M", "X"], n, [0.49, 0.49, 0.02])
    fem = V.arr(V.FIRST_F)[rng.integers(0, len(V.FIRST_F), n)]
    mal = V.arr(V.FIRST_M)[rng.integers(0, len(V.FIRST_M), n)]
    first = np.where(gender == "F", fem, np.where(gender == "M", mal, np.where(ids % 2 == 0, fem, mal)))
    last = V.arr(V.LAST)[rng.integers(0, len(V.LAST), n)]
    dob = np.datetime64("1950-01-01") + rng.integers(0, 365 * 56, n).astype("timedelta64[D]")
    country_idx = rng.choice(len(ISO), n, p=V.COUNTRY_WEIGHTS)
    country = ISO[country_idx]
    city_idx = rng.integers(0, 6, n)
    city = np.empty(n, dtype="U16")
    postcode = np.empty(n, dtype="U8")
    phone = np.empty(n, dtype="U16")
    natnum = _s(rng.integers(100_000_000, 999_999_999, n))
    pcnum = rng.integers(0, 10**6, n)
    for c, (cities, cc, _, pc_len) in V.COUNTRIES.items():
        m = country == c
        city[m] = np.array(cities)[city_idx[m]]
        postcode[m] = _zfill(_s(pcnum[m] % 10**pc_len), pc_len)
        # NANP numbers have 10 digits (a 3-digit area code not starting with 0 or 1)
        phone[m] = _cat("+" + cc + ("2" if cc == "1" else ""), natnum[m])
    street = _cat(_s(rng.integers(1, 300, n)), " ", V.arr(V.STREETS)[rng.integers(0, len(V.STREETS), n)])
    local = _cat(np.char.lower(_replace(_replace(first, " ", ""), "'", "")), ".",
                 np.char.lower(_replace(_replace(last, " ", ""), "'", "")), _s(ids))
    email = _cat(local, "@", V.arr(V.DOMAINS)[rng.integers(0, len(V.DOMAINS), n)])
    return {"person_key": _cat("PER", _zfill(_s(ids), 8)), "gender": gender, "first_name": first,
            "last_name": last, "dob": dob, "country_idx": country_idx, "country": country, "city": city,
            "postcode": postcode, "phone": phone, "street": street, "email": email}


@dataclass(frozen=True)
class Catalog:
    """Products grouped by category: ``offsets[c]:offsets[c+1]`` are category ``c``'s products."""

    offsets: np.ndarray
    price: np.ndarray
    product_id: np.ndarray


def order_tables(rng: np.random.Generator, r: MessRates, man: Manifest, order_id: pa.Array, secs: np.ndarray,
                 t0: np.datetime64, pref1: np.ndarray, pref2: np.ndarray, customer_id: np.ndarray,
                 guest: np.ndarray, email: pa.Array, buyer: np.ndarray, channel: np.ndarray,
                 store_id: pa.Array, salesperson_id: pa.Array, online: np.ndarray, cat: Catalog,
                 ) -> tuple[pa.Table, pa.Table, np.ndarray, np.ndarray, np.ndarray]:
    """Order lines and payments for orders (one entry per order in every argument array).
    Guest orders get no customer id; online orders no store or salesperson. ``email`` is per
    buyer and ``buyer`` the buyer of each order (so no per-order copy of every email is made).

    Lines follow the buyer's preferred categories; bad prices and unknown products are injected
    at the configured rates. Returns (lines, payments, line -> order index, line_no, amount).
    String columns are built once per order/product in Arrow and taken per line (fast at 20M).
    """
    n_o, cat_n, n_products = len(order_id), len(cat.offsets) - 1, len(cat.product_id)
    lines = np.minimum(rng.geometric(0.55, n_o), 5)
    li = np.repeat(np.arange(n_o), lines)
    n_l = len(li)
    line_no = (np.arange(n_l) - np.repeat(np.cumsum(lines) - lines, lines) + 1).astype(np.int64)
    pick = rng.random(n_l)
    lcat = np.where(pick < 0.45, pref1[li], np.where(pick < 0.7, pref2[li], rng.integers(0, cat_n, n_l)))
    span = np.maximum(cat.offsets[lcat + 1] - cat.offsets[lcat], 1)
    prod = np.minimum(cat.offsets[lcat] + (rng.random(n_l) * span).astype(np.int64), n_products - 1)
    qty = np.minimum(rng.geometric(0.7, n_l), 6).astype(np.int64)
    unit = cat.price[prod]
    amount = np.round(qty * unit, 2)
    bad = rng.random(n_l) < r.bad_price
    amount = np.where(bad, np.where(rng.random(n_l) < 0.5, 0.0, -amount), amount)
    man.add("defects", "purchases_zero_or_negative_amount", bad.sum())
    unknown = rng.random(n_l) < r.unknown_product
    man.add("defects", "purchases_unknown_product", unknown.sum())
    has_contact = guest[li] | (rng.random(n_l) < 0.5)
    o_ts = _ts(t0, secs)
    take = pa.array(li)
    product = pa.array(np.append(cat.product_id, "P99999")).take(pa.array(np.where(unknown, n_products, prod)))
    lines_t = pa.table({
        "order_id": order_id.take(take), "line_no": line_no,
        "customer_id": _nullable(customer_id[li].astype(np.int64), guest[li], pa.int64()),
        # a take at a null index gives null: masking in the take, not by a second copy
        "email": email.take(pa.array(buyer[li], mask=~has_contact)),
        "order_ts": pa.array(o_ts, pa.timestamp("s")).take(take), "channel": pa.array(channel).take(take),
        "store_id": store_id.take(pa.array(li, mask=online[li])),
        "salesperson_id": salesperson_id.take(pa.array(li, mask=online[li])),
        "product_id": product, "quantity": qty, "unit_price": unit, "amount": amount,
        "currency": _constant("EUR", n_l),
    })
    man.add("counts", "orders", n_o)
    man.add("counts", "order_lines", n_l)
    total = np.bincount(li, weights=np.maximum(amount, 0), minlength=n_o)
    payments = pa.table({
        "payment_id": pc.binary_join_element_wise("PAY", pc.utf8_slice_codeunits(order_id, 1), ""),
        "order_id": order_id,
        "method": _pick_dict(rng, V.PAYMENT_METHODS, n_o, [0.55, 0.2, 0.1, 0.05, 0.1]),
        "status": _pick_dict(rng, ["captured", "failed", "refunded"], n_o, [0.95, 0.03, 0.02]),
        "amount": np.round(total, 2), "currency": _constant("EUR", n_o),
        "paid_at": pa.array(_ts(t0, secs + rng.integers(5, 300, n_o)), pa.timestamp("s")),
    })
    man.add("counts", "payments", n_o)
    return lines_t, payments, li, line_no, amount


def arrow_ids(prefix: str, numbers: np.ndarray, width: int) -> pa.Array:
    """``prefix`` + zero-padded ``numbers`` as an Arrow string array (vectorised in Arrow)."""
    digits = pc.utf8_lpad(pc.cast(pa.array(numbers, pa.int64()), pa.string()), width, "0")
    return pc.binary_join_element_wise(prefix, digits, "")


def _constant(value: str, n: int) -> pa.Array:
    return pa.DictionaryArray.from_arrays(pa.array(np.zeros(n, dtype=np.int8)), pa.array([value]))


def _truth(source: str, record_id: np.ndarray | pa.Array, person: np.ndarray | pa.Array) -> pa.Table:
    """Truth rows: the real person behind each record of one source."""
    source_col = pc.cast(_constant(source, len(record_id)), pa.string())
    return pa.table({"source": source_col, "record_id": pa.array(record_id, pa.string()),
                     "person_id": pa.array(person, pa.string())})


EVENT_TYPES = ["page_view", "product_view", "add_to_cart", "checkout", "like", "share", "comment", "login"]
EVENT_CUM = np.array([0.42, 0.68, 0.78, 0.82, 0.91, 0.96])  # cumulative shares of the first seven


def events_table(rng: np.random.Generator, pid: np.ndarray, person_cid: np.ndarray, cookie_base: np.ndarray,
                 lifecycle: np.ndarray, rate: np.ndarray, product_id: np.ndarray, prod_cat: np.ndarray,
                 pref1: np.ndarray, t0: np.datetime64, days: int, r: MessRates, man: Manifest,
                 id_prefix: str = "", activity_scale: float = 1.0, id_base: int = 0,
                 ) -> tuple[pa.Table, tuple[pa.Array, np.ndarray]]:
    """Sessions of clickstream and social events for persons ``pid`` (indices into the per-person
    arrays) between ``t0`` and ``t0 + days``; returns the records in delivery order and
    (event ids, person index per event) for the truth table. A person's cookies derive from
    ``cookie_base`` so the same person keeps the same browser across days."""
    activity = activity_scale * np.where(lifecycle == "churned", 0.5, 1.0) * (0.5 + rate / (rate.mean() + 1e-9))
    n_sess = rng.poisson(activity)
    s_person = np.repeat(pid, n_sess)
    ns = len(s_person)
    cookie_n = cookie_base[s_person] * 2 + (rng.random(ns) < 0.2)  # most people use one browser, some two
    logged_in = rng.random(ns) < 0.6
    s_start = rng.integers(0, days * 86400, ns)
    ev_per = np.minimum(rng.geometric(0.22, ns), 15)
    e_sess = np.repeat(np.arange(ns), ev_per)
    ne = len(e_sess)
    e_seq = np.arange(ne) - np.repeat(np.cumsum(ev_per) - ev_per, ev_per)
    ep = s_person[e_sess]
    code = np.searchsorted(EVENT_CUM, rng.random(ne), side="right")  # index into EVENT_TYPES
    code = np.where((e_seq == 0) & logged_in[e_sess], 7, code)
    cat_first = np.searchsorted(prod_cat, pref1[ep])
    cat_len = np.maximum(np.searchsorted(prod_cat, pref1[ep], side="right") - cat_first, 1)
    prod = np.where(rng.random(ne) < 0.6, cat_first + (rng.random(ne) * cat_len).astype(np.int64),
                    rng.integers(0, len(product_id), ne))
    prod = np.minimum(prod, len(product_id) - 1)
    ts = _ts(t0, s_start[e_sess] + e_seq * rng.integers(5, 120, ne))
    social = (code >= 4) & (code <= 6)
    n_pos, n_other = len(V.POSITIVE), len(V.NEGATIVE)
    text_idx = np.where((lifecycle == "churned")[ep], rng.integers(0, n_other, ne),
                        n_other + rng.integers(0, n_pos + len(V.NEUTRAL), ne))
    network = rng.integers(0, len(V.SOCIAL_NETWORKS), ne)
    cid = np.where(logged_in[e_sess], person_cid[ep], -1)
    page_idx = np.where(code == 7, len(product_id), np.where(code == 3, len(product_id) + 1, prod))
    # delivery order: by time, then a share delivered late (after newer events) and duplicates
    order = np.argsort(ts, kind="stable")
    late = rng.random(ne) < r.late_event
    order = np.concatenate([order[~late[order]], order[late[order]]])
    dup = np.nonzero(rng.random(ne) < r.duplicate_event)[0]
    o = np.concatenate([order, dup])
    man.add("defects", "events_late", late.sum())
    man.add("defects", "events_duplicate", len(dup))
    # every column built straight in delivery order (index arrays permuted, not a table of strings)
    code_o, sess_o = code[o], e_sess[o]
    event_id = arrow_ids("E" + id_prefix, id_base + o + 1, 12)
    pages = pa.array(np.append(_cat("/p/", product_id), ["/login", "/checkout"]))
    t = pa.table({
        "event_id": event_id,
        "event_type": pa.DictionaryArray.from_arrays(pa.array(code_o.astype(np.int8)), pa.array(EVENT_TYPES)),
        "event_ts": pa.array(ts[o], pa.timestamp("s")),
        "cookie_id": arrow_ids("ck", cookie_n[sess_o], 9),
        "session_id": arrow_ids("S" + id_prefix, id_base + sess_o + 1, 12),
        "customer_id": _nullable(cid[o], cid[o] <= 0, pa.int64()),
        "page": pages.take(pa.array(page_idx[o])),
        "product_id": pa.array(product_id).take(pa.array(prod[o], mask=(code_o == 0) | (code_o == 7))),
        "social_network": pa.array(V.SOCIAL_NETWORKS).take(pa.array(network[o], mask=~social[o])),
        "text": pa.array(V.NEGATIVE + V.POSITIVE + V.NEUTRAL).take(pa.array(text_idx[o], mask=code_o != 6)),
    })
    man.add("counts", "events", ne)
    man.add("counts", "sessions", ns)
    # truth: the first ``ne`` delivered records are each event exactly once
    return t, (event_id.slice(0, ne), ep[order])


def poison_positions(rng: np.random.Generator, n_records: int, rate: float) -> np.ndarray:
    """Where poison records (not JSON) are slipped into the stream: sorted record positions."""
    k = int(rng.binomial(n_records, rate)) if rate > 0 else 0
    return np.sort(rng.integers(0, max(1, n_records), k))
