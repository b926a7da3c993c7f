"""Every gold table against an independent computation (plain Python / pandas) on a small,
hand-checkable silver layer: four persons, seven orders, a return, web sessions, feedback and
surveys. The silver tables are written directly, so each gold number can be traced by hand."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from c360 import catalog
from c360.config import Settings, load_settings
from c360.lake.store import Lake, lake_from_settings
from c360.ops.pipeline import run_pipeline

pytestmark = pytest.mark.integration


def ts(s: str) -> datetime:
    return datetime.fromisoformat(s).replace(tzinfo=UTC)


def md5(s: str) -> str:
    return hashlib.md5(s.encode()).hexdigest()


CUSTOMER = dict.fromkeys(("first_name", "last_name", "email", "email_valid", "email_key", "phone", "phone_valid",
                          "date_of_birth", "gender", "street", "city", "postcode", "country", "signup_date",
                          "loyalty_tier", "marketing_consent", "preferred_channel", "preferred_categories"))
CUSTOMERS = [
    {**CUSTOMER, "customer_id": 1, "first_name": "Ann", "last_name": "Lee", "email": "ann@x.com", "email_valid": True,
     "email_key": "ann@x.com", "phone": "+15125550101", "phone_valid": True, "date_of_birth": date(1990, 5, 1),
     "gender": "F", "street": "1 Main Street", "city": "Austin", "postcode": "78701", "country": "US",
     "signup_date": date(2023, 1, 1), "loyalty_tier": "gold", "marketing_consent": True,
     "preferred_channel": "store", "updated_at": ts("2024-01-10T00:00:00")},
    # Ann's second CRM record: newer, fewer details, consent withdrawn
    {**CUSTOMER, "customer_id": 2, "first_name": "Annie", "last_name": "Lee", "email": "ann.lee@y.com",
     "email_valid": True, "email_key": "ann.lee@y.com", "city": "Austin", "country": "US",
     "signup_date": date(2023, 6, 1), "loyalty_tier": "silver", "marketing_consent": False,
     "preferred_channel": "web", "updated_at": ts("2024-06-01T00:00:00")},
    # Bob typed his email wrongly: only its repaired mailbox can survive
    {**CUSTOMER, "customer_id": 3, "first_name": "Bob", "last_name": "Stone", "email": "bob at z dot com",
     "email_valid": False, "email_key": "bob@z.com", "country": "GB", "signup_date": date(2023, 3, 1),
     "loyalty_tier": "bronze", "marketing_consent": True, "updated_at": ts("2024-02-01T00:00:00")},
    # Dana never bought anything
    {**CUSTOMER, "customer_id": 4, "first_name": "Dana", "last_name": "Kim", "email": "dana@k.com",
     "email_valid": True, "email_key": "dana@k.com", "country": "DE", "signup_date": date(2024, 2, 1),
     "loyalty_tier": "bronze", "updated_at": ts("2024-02-01T00:00:00")},
]
PROFILES = [
    {"profile_id": "PP1", "first_name": "Ann", "last_name": "Lee", "email": "ann@x.com", "email_valid": True,
     "email_key": "ann@x.com", "phone": "+15125550199", "phone_valid": True, "date_of_birth": date(1990, 5, 1),
     "street": "9 Oak Drive", "city": "Dallas", "postcode": "75001", "country": "US"},
]
IDENTITY = [("crm:1", "P1"), ("crm:2", "P1"), ("profile:PP1", "P1"), ("web:ck1", "P1"), ("crm:3", "P2"),
            (f"order:{md5('guest@g.com')}", "P3"), ("crm:4", "P4")]
PRODUCTS = [("A", "books", 10.0), ("B", "books", 5.0), ("C", "toys", 20.0), ("D", "toys", 7.5),
            ("E", "grocery", 3.33)]
# order, line, customer, contact email, ts, product, qty, price, channel, store, salesperson
ORDERS = [
    ("O1", 1, 1, None, "2024-01-05T10:00:00", "A", 1, 10.0, "store", "ST1", "SP1"),
    ("O1", 2, 1, None, "2024-01-05T10:00:00", "B", 2, 5.0, "store", "ST1", "SP1"),
    ("O6", 1, 3, None, "2024-01-15T12:00:00", "D", 1, 7.5, "store", "ST1", "SP1"),
    ("O2", 1, 2, None, "2024-02-10T09:00:00", "C", 1, 20.0, "store", "ST1", "SP2"),
    ("O3", 1, 1, None, "2024-03-15T18:00:00", "A", 1, 10.0, "web", None, None),
    ("O3", 2, 1, None, "2024-03-15T18:00:00", "C", 1, 20.0, "web", None, None),
    ("O4", 1, 3, None, "2024-03-20T11:00:00", "B", 1, 5.0, "store", "ST1", "SP2"),
    ("O4", 2, 3, None, "2024-03-20T11:00:00", "D", 1, 7.5, "store", "ST1", "SP2"),
    ("O5", 1, None, "guest@g.com", "2024-03-20T20:00:00", "E", 3, 3.33, "web", None, None),
    ("O5", 2, None, None, "2024-03-20T20:00:00", "E", 1, 3.33, "web", None, None),  # lost the contact: still P3's
    ("O7", 1, 999, None, "2024-03-21T08:00:00", "A", 1, 10.0, "web", None, None),  # orphan: nobody's
]
RETURNS = [("R1", "O3", 2, 1, "2024-03-25T10:00:00", "damaged", 20.0)]
# event, type, ts, cookie, session, customer, product, text
EVENTS = [
    ("E1", "page_view", "2024-03-10T10:00:00", "ck1", "S1", 1, None, None),
    ("E2", "product_view", "2024-03-10T10:01:00", "ck1", "S1", 1, "A", None),
    ("E3", "add_to_cart", "2024-03-10T10:02:00", "ck1", "S1", 1, "A", None),  # S1: abandoned cart
    ("E4", "page_view", "2024-03-15T17:50:00", "ck1", "S2", None, None, None),  # anonymous: by cookie
    ("E5", "add_to_cart", "2024-03-15T17:55:00", "ck1", "S2", None, "C", None),
    ("E6", "checkout", "2024-03-15T17:59:00", "ck1", "S2", None, None, None),
    ("E7", "comment", "2024-03-16T09:00:00", "ck1", "S3", 1, None, "Great quality, love it!"),
    ("E8", "like", "2024-03-16T09:01:00", "ck1", "S3", 1, None, None),
    ("E9", "page_view", "2024-03-18T09:00:00", "ck9", "S9", None, None, None),  # a stranger
]
FEEDBACK = [("F1", 1, 5, "Excellent service, very happy.", "2024-03-01T10:00:00"),
            ("F2", 3, 1, "Terrible experience, the item arrived broken.", "2024-03-22T10:00:00")]
# survey, customer, type, channel, nps, csat, ts, comment
SURVEYS = [
    ("SV1", 1, "post_purchase", "email", 10, 5, "2024-03-01T10:00:00", "Love it"),
    ("SV2", 3, "post_purchase", "email", 3, 2, "2024-03-05T10:00:00", "Bad quality, I want a refund."),
    ("SV3", 2, "support", "web", 8, 4, "2024-03-09T10:00:00", None),
    ("SV4", 1, "post_purchase", "email", 9, 4, "2024-03-20T10:00:00", None),
    ("SV5", 4, "post_purchase", "email", 7, 3, "2024-03-13T10:00:00", None),  # 7 days before SV4: outside
]


def _write(lake: Lake, table_id: str, rows: list[dict]) -> None:
    spec = catalog.get(table_id)
    lake.overwrite(table_id, catalog.conform(pa.Table.from_pylist(rows), spec) if rows else spec.schema().empty_table())


def silver_layer(lake: Lake) -> None:
    _write(lake, "silver.customers", CUSTOMERS)
    _write(lake, "silver.partner_profiles", PROFILES)
    _write(lake, "silver.identity_map", [{"record_key": k, "source": k.split(":")[0], "record_id": k.split(":")[1],
                                          "person_id": p, "person_records": 1, "run_id": "t"} for k, p in IDENTITY])
    _write(lake, "silver.products", [{"product_id": p, "name": p, "category": c, "price": pr, "supplier": "S",
                                      "is_deleted": False} for p, c, pr in PRODUCTS])
    _write(lake, "silver.stores", [{"store_id": "ST1", "name": "One", "city": "Austin", "country": "US",
                                    "opened_date": date(2020, 1, 1), "is_deleted": False}])
    _write(lake, "silver.salespeople", [{"salesperson_id": s, "store_id": "ST1", "first_name": s, "last_name": "X",
                                         "is_deleted": False} for s in ("SP1", "SP2")])
    known = {c["customer_id"] for c in CUSTOMERS}
    _write(lake, "silver.orders", [
        {"order_id": o, "line_no": n, "customer_id": c, "email": e, "email_key": e if c not in known else None,
         "order_ts": ts(t), "order_date": ts(t).date(), "product_id": p, "quantity": q, "unit_price": u,
         "amount": round(q * u, 2), "currency": "EUR", "channel": ch, "store_id": st, "salesperson_id": sp,
         "customer_known": c in known} for o, n, c, e, t, p, q, u, ch, st, sp in ORDERS])
    _write(lake, "silver.returns", [{"return_id": r, "order_id": o, "line_no": n, "customer_id": c,
                                     "returned_at": ts(t), "reason": why, "amount": a}
                                    for r, o, n, c, t, why, a in RETURNS])
    _write(lake, "silver.web_events", [
        {"event_id": e, "event_type": et, "event_ts": ts(t), "cookie_id": ck, "session_id": s, "customer_id": c,
         "product_id": p, "text": tx, "is_late": False} for e, et, t, ck, s, c, p, tx in EVENTS])
    _write(lake, "silver.feedback", [{"feedback_id": f, "customer_id": c, "rating": r, "comment": tx,
                                      "submitted_at": ts(t)} for f, c, r, tx, t in FEEDBACK])
    _write(lake, "silver.surveys", [{"survey_id": s, "customer_id": c, "survey_type": st, "channel": ch, "nps": n,
                                     "csat": cs, "responded_at": ts(t), "comment": tx}
                                    for s, c, st, ch, n, cs, t, tx in SURVEYS])


@pytest.fixture(scope="module")
def gold(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Settings, Lake]]:
    home = tmp_path_factory.mktemp("gold")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(home)
        s = load_settings(home=home / "home", analytics={"recommendations": 3})
        lake = lake_from_settings(s)
        silver_layer(lake)
        run_pipeline(s, ["gold"])
        yield s, lake


def nn(v: object) -> object:
    """None for pandas' missing values (None, NaN, NaT), so values compare plainly."""
    return None if v is None or (not isinstance(v, str) and pd.isna(v)) else v


def frame(lake: Lake, table_id: str) -> pd.DataFrame:
    return lake.read(table_id).to_pandas()


# ------------------------------------------------------------------ independent computations
def orders_frame() -> pd.DataFrame:
    person = dict(IDENTITY)
    contact = {o: e for o, _, _, e, *_ in ORDERS if e}  # an order's contact email, from any of its lines
    rows = []
    for o, n, c, _e, t, p, q, u, ch, st, sp in ORDERS:
        pid = person.get(f"crm:{c}") or (person.get(f"order:{md5(contact[o])}") if o in contact else None)
        ret = sum(a for _, ro, rn, *_rest, a in RETURNS if (ro, rn) == (o, n))
        rows.append({"order_id": o, "line_no": n, "person_id": pid, "ts": ts(t), "day": ts(t).date(), "product": p,
                     "qty": q, "cents": round(q * u * 100), "ret_cents": round(ret * 100), "store": st, "sp": sp,
                     "channel": ch})
    return pd.DataFrame(rows)


AS_OF = max(ts(o[4]).date() for o in ORDERS)


def test_fact_sales_keys_every_line_to_its_person(gold: tuple[Settings, Lake]) -> None:
    f = frame(gold[1], "gold.fact_sales").set_index(["order_id", "line_no"])
    exp = orders_frame().set_index(["order_id", "line_no"])
    assert len(f) == len(exp)
    for key, e in exp.iterrows():
        g = f.loc[key]
        assert nn(g["person_id"]) == nn(e["person_id"]), key
        assert round(g["returned_amount"] * 100) == e["ret_cents"], key
        assert g["date_key"] == int(e["day"].strftime("%Y%m%d")), key
        assert g["product_known"], key


def test_fact_orders_sums_each_orders_lines(gold: tuple[Settings, Lake]) -> None:
    f = frame(gold[1], "gold.fact_orders").set_index("order_id")
    lines = orders_frame()
    exp = lines.groupby("order_id").agg(person_id=("person_id", "first"), ts=("ts", "min"), lines=("line_no", "size"),
                                        units=("qty", "sum"), cents=("cents", "sum"), ret_cents=("ret_cents", "sum"),
                                        returned_lines=("ret_cents", lambda r: int((r > 0).sum())),
                                        channel=("channel", "first"))
    assert sorted(f.index) == sorted(exp.index)
    for order, e in exp.iterrows():
        g = f.loc[order]
        assert nn(g["person_id"]) == nn(e["person_id"]), order
        assert (g["lines"], g["units"], g["returned_lines"]) == (e["lines"], e["units"], e["returned_lines"]), order
        assert (round(g["amount"] * 100), round(g["returned_amount"] * 100)) == (e["cents"], e["ret_cents"]), order
        assert g["order_ts"].to_pydatetime() == e["ts"] and g["channel"] == e["channel"], order


def test_dim_customer_survives_by_validity_trust_and_recency(gold: tuple[Settings, Lake]) -> None:
    d = frame(gold[1], "gold.dim_customer").set_index("person_id")
    assert sorted(d.index) == ["P1", "P2", "P3", "P4"]
    ann = d.loc["P1"]
    # both CRM records have both names: the newer one (crm:2, June) wins over crm:1 and the profile
    assert (ann["first_name"], ann["name_from"]) == ("Annie", "crm:2")
    assert (ann["email"], ann["email_from"]) == ("ann.lee@y.com", "crm:2")
    # crm:2 has no phone: the CRM phone (trust) beats the profile's
    assert (ann["phone"], ann["phone_from"]) == ("+15125550101", "crm:1")
    # crm:1 and the profile are complete addresses, crm:2 is not: CRM trust decides
    assert (ann["street"], ann["city"], ann["address_from"]) == ("1 Main Street", "Austin", "crm:1")
    # the latest CRM record speaks for consent and tier; signup is the earliest
    assert (ann["marketing_consent"], ann["loyalty_tier"], ann["signup_date"]) == (False, "silver", date(2023, 1, 1))
    assert (ann["crm_customer_ids"], ann["profile_ids"], ann["cookies"]) == ("1,2", "PP1", 1)
    assert d.loc["P2", "email"] == "bob@z.com" and d.loc["P2", "email_valid"]  # repaired mailbox
    guest = d.loc["P3"]
    assert guest["email"] == "guest@g.com" and guest["order_contacts"] == 1 and pd.isna(guest["first_name"])


def test_customer_rfm_scores_are_cume_dist_quintiles(gold: tuple[Settings, Lake]) -> None:
    o = orders_frame().dropna(subset=["person_id"])
    per = o.groupby("person_id").agg(first=("day", "min"), last=("day", "max"), frequency=("order_id", "nunique"),
                                     net=("cents", "sum"), ret=("ret_cents", "sum"))
    per["recency"] = [(AS_OF - d).days for d in per["last"]]
    per["monetary"] = (per["net"] - per["ret"]) / 100
    n = len(per)
    r = frame(gold[1], "gold.customer_rfm").set_index("person_id")
    assert sorted(r.index) == sorted(per.index)
    for p, e in per.iterrows():
        # cume_dist: the share of buyers at or below this one (recency: at or above — fewer days is better)
        r_exp = math.ceil(5 * (per["recency"] >= e["recency"]).sum() / n)
        f_exp = math.ceil(5 * (per["frequency"] <= e["frequency"]).sum() / n)
        m_exp = math.ceil(5 * (per["monetary"] <= e["monetary"]).sum() / n)
        g = r.loc[p]
        assert (g["recency_days"], g["frequency"], g["monetary"]) == (e["recency"], e["frequency"], e["monetary"])
        assert (g["first_order_date"], g["last_order_date"]) == (e["first"], e["last"])
        assert (g["r_score"], g["f_score"], g["m_score"]) == (r_exp, f_exp, m_exp), p
        assert g["rfm_cell"] == f"{r_exp}{f_exp}{m_exp}"
    # by hand: the last order day is 03-21 (the orphan's). P1: 6 days, 3 orders → r 2 (1 of 3 at 6+
    # days), f 5; P2: 1 day, 2 orders → r 5, f 4; P3: 1 day, 1 order → r 5, f 2
    assert r["segment"].to_dict() == {"P1": "Cannot Lose Them", "P2": "Champions", "P3": "Potential Loyalist"}


def test_dim_date_has_every_day_with_iso_weekdays(gold: tuple[Settings, Lake]) -> None:
    d = frame(gold[1], "gold.dim_date")
    first, last = min(ts(o[4]).date() for o in ORDERS), AS_OF
    assert len(d) == (last - first).days + 1
    for _, r in d.iterrows():
        day = r["date"]
        assert r["date_key"] == int(day.strftime("%Y%m%d"))
        assert r["day_of_week"] == day.isoweekday() and r["is_weekend"] == (day.isoweekday() >= 6)
        assert r["year_month"] == day.strftime("%Y-%m") and r["quarter"] == (day.month - 1) // 3 + 1


def test_customer_clv_summaries_and_bounds(gold: tuple[Settings, Lake]) -> None:
    o = orders_frame().dropna(subset=["person_id"])
    c = frame(gold[1], "gold.customer_clv").set_index("person_id")
    assert sorted(c.index) == sorted(o["person_id"].unique())
    for p, rows in o.groupby("person_id"):
        days = sorted(rows["day"].unique())
        g = c.loc[p]
        assert g["x"] == len(days) - 1
        assert g["t_x"] == pytest.approx((days[-1] - days[0]).days / 7)
        assert g["T"] == pytest.approx((AS_OF - days[0]).days / 7)
        assert g["historical_clv"] == pytest.approx((rows["cents"].sum() - rows["ret_cents"].sum()) / 100)
        assert g["orders"] == rows["order_id"].nunique()
        assert 0 <= g["p_alive"] <= 1 and g["predicted_clv"] >= 0 and math.isfinite(g["predicted_clv"])


def test_churn_on_too_little_history_is_unknown_and_says_why(gold: tuple[Settings, Lake]) -> None:
    from c360.ops.audit import last_stage_detail

    c = frame(gold[1], "gold.churn_risk")
    assert set(c["churn_risk"]) == {"unknown"} and c["churn_probability"].isna().all()
    assert "not_fitted" in last_stage_detail(gold[1], "gold.churn_risk", "churn")


def expected_recommendations(k: int) -> dict[str, list[tuple[str, float, str]]]:
    """Item-item cosine co-occurrence over orders, top 10 neighbours, a buyer's 3 latest products."""
    o = orders_frame().dropna(subset=["person_id"])
    lines = o[["order_id", "person_id", "product"]].drop_duplicates()
    n = lines.groupby("product")["order_id"].nunique()
    pairs = lines.merge(lines, on="order_id")
    pairs = pairs[pairs["product_x"] != pairs["product_y"]].groupby(["product_x", "product_y"]).size()
    sim: dict[str, list[tuple[str, float]]] = {}
    for (p, q), c in pairs.items():
        sim.setdefault(p, []).append((q, c / math.sqrt(n[p] * n[q])))
    sim = {p: sorted(v, key=lambda t: (-t[1], t[0]))[:10] for p, v in sim.items()}
    out = {}
    for person, rows in o.groupby("person_id"):
        last = rows.groupby("product")["ts"].max().reset_index().sort_values(["ts", "product"],
                                                                             ascending=[False, True])
        owned = set(rows["product"])
        scores: dict[str, float] = {}
        best: dict[str, tuple[float, str]] = {}
        for p in last["product"][:3]:
            for q, s in sim.get(p, []):
                if q not in owned:
                    scores[q] = scores.get(q, 0) + s
                    best[q] = max(best.get(q, (0.0, "")), (s, p))
        ranked = sorted(scores.items(), key=lambda t: (-t[1], t[0]))[:k]
        out[person] = [(q, round(s, 6), best[q][1]) for q, s in ranked]
    return out


def test_recommendations_are_cooccurrence_without_owned_products(gold: tuple[Settings, Lake]) -> None:
    settings, lake = gold
    r = frame(lake, "gold.recommendations").sort_values(["person_id", "rank"])
    got = {p: [(q, s, b) for q, s, b in zip(g["product_id"], g["score"], g["because_of"], strict=True)]
           for p, g in r.groupby("person_id")}
    expected = {p: v for p, v in expected_recommendations(settings.analytics.recommendations).items() if v}
    assert got == expected
    # by hand: Ann bought A, B, C; D was bought with B → D. Bob bought B, D; A was bought with B → A.
    assert {p: [q for q, _, _ in v] for p, v in got.items()} == {"P1": ["D"], "P2": ["A"]}


def test_sentiment_is_vader_per_text_with_its_person(gold: tuple[Settings, Lake]) -> None:
    vader = SentimentIntensityAnalyzer()
    s = frame(gold[1], "gold.sentiment").set_index(["source", "source_id"])
    texts = {("feedback", f): (t, c) for f, c, _, t, _ in FEEDBACK}
    texts |= {("survey", sv): (t, c) for sv, c, *_, t in SURVEYS if t}
    texts |= {("social", e): (t, c) for e, et, _, _, _, c, _, t in EVENTS if et == "comment"}
    assert sorted(s.index) == sorted(texts)
    for key, (text, customer) in texts.items():
        score = round(vader.polarity_scores(text)["compound"], 4)
        g = s.loc[key]
        assert g["compound"] == pytest.approx(score, abs=1e-9), key
        assert g["sentiment"] == ("positive" if score >= 0.05 else "negative" if score <= -0.05 else "neutral")
        assert g["person_id"] == dict(IDENTITY)[f"crm:{customer}"]
    assert s.loc[("feedback", "F2"), "sentiment"] == "negative" and s.loc[("social", "E7"), "sentiment"] == "positive"


def surveys_frame() -> pd.DataFrame:
    return pd.DataFrame([{"type": st, "channel": ch, "customer": c, "nps": n, "csat": cs, "day": ts(t).date()}
                         for _, c, st, ch, n, cs, t, _ in SURVEYS])


def nps(x: pd.Series) -> float:
    return round(100 * ((x >= 9).sum() - (x <= 6).sum()) / len(x), 2)


def test_cx_summary_per_type_channel_and_totals(gold: tuple[Settings, Lake]) -> None:
    sv = surveys_frame()
    got = frame(gold[1], "gold.cx_summary").set_index(["survey_type", "channel"])
    groups = {}
    for keys in (["type", "channel"], ["type"], ["channel"], []):
        parts = sv.groupby(keys) if keys else [((), sv)]
        for k, g in parts:
            k = k if isinstance(k, tuple) else (k,)
            named = dict(zip(keys, k, strict=True))
            groups[(named.get("type", "all"), named.get("channel", "all"))] = g
    assert sorted(got.index) == sorted(groups)
    for key, g in groups.items():
        r = got.loc[key]
        avg = g["csat"].mean()
        assert (r["responses"], r["unique_customers"]) == (len(g), g["customer"].nunique()), key
        assert r["avg_csat"] == pytest.approx(round(avg, 3)) and r["nps"] == pytest.approx(nps(g["nps"])), key
        assert r["satisfaction"] == ("high" if avg >= 4 else "medium" if avg >= 3 else "low")


def test_cx_daily_rolls_over_seven_calendar_days(gold: tuple[Settings, Lake]) -> None:
    sv = surveys_frame()
    got = frame(gold[1], "gold.cx_daily").set_index(["date", "survey_type", "channel"])
    assert len(got) == len(sv.groupby(["day", "type", "channel"]))
    for (day, t, ch), g in sv.groupby(["day", "type", "channel"]):
        window = sv[(sv["type"] == t) & (sv["channel"] == ch) & (sv["day"] <= day)
                    & (sv["day"] > day - pd.Timedelta(days=7))]
        r = got.loc[(day, t, ch)]
        assert r["responses"] == len(g) and r["nps"] == pytest.approx(nps(g["nps"]))
        assert r["rolling_7d_responses"] == len(window), (day, t, ch)
        assert r["rolling_7d_avg_csat"] == pytest.approx(round(window["csat"].mean(), 3))
        assert r["rolling_7d_nps"] == pytest.approx(nps(window["nps"]))
    # by hand: post_purchase/email on 03-05 sees 03-01 (4 days back); on 03-20 only itself, not 03-13
    assert got.loc[(date(2024, 3, 5), "post_purchase", "email"), "rolling_7d_responses"] == 2
    assert got.loc[(date(2024, 3, 20), "post_purchase", "email"), "rolling_7d_responses"] == 1


def test_sales_team_top_seller_earns_one_percent(gold: tuple[Settings, Lake]) -> None:
    o = orders_frame().dropna(subset=["sp"])
    o["month"] = [date(d.year, d.month, 1) for d in o["day"]]
    got = frame(gold[1], "gold.sales_team_monthly").set_index(["month", "salesperson_id"])
    per = o.groupby(["month", "store", "sp"]).agg(cents=("cents", "sum"), orders=("order_id", "nunique"))
    assert len(got) == len(per)
    for (month, store, sp), e in per.iterrows():
        rivals = per.loc[(month, store)]
        top = sorted(rivals.index, key=lambda s: (-rivals.loc[s, "cents"], s))[0]
        r = got.loc[(month, sp)]
        assert r["sales"] == e["cents"] / 100 and r["orders"] == e["orders"]
        assert r["is_top_seller"] == (sp == top)
        incentive = float((Decimal(int(e["cents"])) / 100).quantize(Decimal(1), ROUND_HALF_UP) / 100)
        assert r["incentive"] == pytest.approx(incentive if sp == top else 0.0)
    assert got.loc[(date(2024, 1, 1), "SP1"), "incentive"] == pytest.approx(0.28)  # 1 % of 27.50, half up


def test_reports_and_their_exports(gold: tuple[Settings, Lake]) -> None:
    from c360.lake.gold.export import export_dir

    settings, lake = gold
    o, sv = orders_frame(), surveys_frame()
    firsts = o.dropna(subset=["person_id"]).groupby("person_id")["day"].min()
    ev = pd.DataFrame([{"day": ts(t).date(), "session": s} for _, _, t, _, s, *_ in EVENTS])
    daily = frame(lake, "gold.daily_report").set_index("date")
    days = set(o["day"]) | set(ev["day"]) | set(sv["day"])
    assert set(daily.index) == days
    for day in days:
        lines, s = o[o["day"] == day], sv[sv["day"] == day]
        r = daily.loc[day]
        assert r["orders"] == lines["order_id"].nunique() and r["units"] == lines["qty"].sum()
        assert r["customers"] == lines["person_id"].dropna().nunique()
        assert r["new_customers"] == (firsts == day).sum()
        assert r["revenue"] == lines["cents"].sum() / 100 and r["returns"] == lines["ret_cents"].sum() / 100
        assert r["sessions"] == ev[ev["day"] == day]["session"].nunique() and r["responses"] == len(s)
        if len(s):
            assert r["nps"] == pytest.approx(nps(s["nps"]))
    monthly = frame(lake, "gold.monthly_report").set_index("month")
    o["month"] = [date(d.year, d.month, 1) for d in o["day"]]
    revenue = o.groupby("month")["cents"].sum()
    for m, r in monthly.iterrows():
        lines = o[o["month"] == m]
        assert r["customers"] == lines["person_id"].dropna().nunique() and r["revenue"] == revenue.get(m, 0) / 100
        prev = [p for p in monthly.index if p < m]
        if prev and revenue.get(max(prev)):
            assert r["revenue_growth_pct"] == pytest.approx(
                round(100 * (revenue.get(m, 0) - revenue[max(prev)]) / revenue[max(prev)], 2))
    root = export_dir(settings)
    back = pq.read_table(root / "daily_report" / "parquet")
    assert back.num_rows == len(daily) and set(back.column("month").to_pylist()) == {"2024-01", "2024-02", "2024-03"}
    assert sorted(p.name for p in (root / "monthly_report" / "csv").iterdir()) == ["year=2024"]
    csv_rows = sum(len(pd.read_csv(f)) for f in (root / "daily_report" / "csv").rglob("*.csv"))
    assert csv_rows == len(daily)


def test_coupon_offers_follow_segment_churn_and_consent(gold: tuple[Settings, Lake]) -> None:
    offers = frame(gold[1], "gold.coupon_offers").set_index("person_id")
    assert offers.loc["P1", ["offer", "discount_pct", "product_id", "can_contact"]].tolist() == [
        "win_back_premium", 25, "D", False]  # Cannot Lose Them; Ann withdrew consent on her newest record
    assert offers.loc["P2", ["offer", "discount_pct", "product_id", "can_contact"]].tolist() == [
        "vip_early_access", 0, "A", True]
    assert offers.loc["P3", ["offer", "discount_pct", "can_contact"]].tolist() == ["membership_upgrade", 10, False]
    assert "Cannot Lose Them" in offers.loc["P1", "reason"] and "bought with B" in offers.loc["P1", "reason"]


def test_customer_engagement_per_person(gold: tuple[Settings, Lake]) -> None:
    person = dict(IDENTITY)
    sessions: dict[tuple[str, str], list[str]] = {}
    for _, et, _, cookie, sess, c, _, _ in EVENTS:
        pid = person.get(f"crm:{c}") if c is not None else None
        pid = pid or person.get(f"web:{cookie}")
        if pid:
            sessions.setdefault((pid, sess), []).append(et)
    expected: dict[str, dict[str, object]] = {}
    for (pid, _), types in sessions.items():
        e = expected.setdefault(pid, {"sessions": 0, "page_views": 0, "product_views": 0, "cart_adds": 0,
                                      "carted_sessions": 0, "abandoned_sessions": 0, "social_interactions": 0})
        e["sessions"] += 1
        e["page_views"] += types.count("page_view")
        e["product_views"] += types.count("product_view")
        e["cart_adds"] += types.count("add_to_cart")
        e["carted_sessions"] += "add_to_cart" in types
        e["abandoned_sessions"] += "add_to_cart" in types and "checkout" not in types
        e["social_interactions"] += sum(t in ("like", "share", "comment") for t in types)
    for e in expected.values():
        e["cart_abandonment_rate"] = (round(e["abandoned_sessions"] / e["carted_sessions"], 4)
                                      if e["carted_sessions"] else None)
    got = {r.pop("person_id"): r for r in gold[1].read("gold.customer_engagement").to_pylist()}
    assert got == expected and set(got) == {"P1"}  # E9's cookie ck9 belongs to nobody
    c360 = frame(gold[1], "gold.customer_360").set_index("person_id")
    assert c360.loc["P1", "sessions"] == expected["P1"]["sessions"]
    assert c360.loc["P2", "sessions"] == 0 and nn(c360.loc["P2", "cart_abandonment_rate"]) is None


def test_customer_purchases_per_buyer(gold: tuple[Settings, Lake]) -> None:
    o = orders_frame().dropna(subset=["person_id"])
    category = {p: c for p, c, _ in PRODUCTS}
    got = frame(gold[1], "gold.customer_purchases").set_index("person_id")
    assert sorted(got.index) == sorted(o["person_id"].unique())  # buyers only
    for p, r in got.iterrows():
        rows = o[o["person_id"] == p]
        orders = rows.groupby("order_id").agg(cents=("cents", "sum"), ret=("ret_cents", "sum"),
                                              returned=("ret_cents", lambda x: int((x > 0).sum())),
                                              channel=("channel", "first"), at=("ts", "first"))
        n, cents, ret = len(orders), int(orders["cents"].sum()), int(orders["ret"].sum())
        assert (r["order_count"], r["total_spend"], r["returned_amount"]) == (n, cents / 100, ret / 100)
        assert r["net_spend"] == (cents - ret) / 100
        assert r["avg_order_value"] == float((Decimal(cents) / n).quantize(Decimal(1), ROUND_HALF_UP) / 100)
        assert (r["first_order_at"], r["last_order_at"]) == (orders["at"].min(), orders["at"].max())
        assert (r["first_order_date"], r["last_order_date"]) == (rows["day"].min(), rows["day"].max())
        assert r["returned_lines"] == orders["returned"].sum()
        spend = rows.assign(cat=rows["product"].map(category)).groupby("cat")["cents"].sum()
        assert r["favourite_category"] == sorted(spend.index, key=lambda c: (-spend[c], c))[0]
        per_channel = orders.groupby("channel").size()
        assert r["favourite_channel"] == sorted(per_channel.index, key=lambda c: (-per_channel[c], c))[0]


def test_customer_360_per_person(gold: tuple[Settings, Lake]) -> None:
    vader = SentimentIntensityAnalyzer()
    o = orders_frame().dropna(subset=["person_id"])
    category = {p: c for p, c, _ in PRODUCTS}
    person = dict(IDENTITY)
    c360 = frame(gold[1], "gold.customer_360").set_index("person_id")
    assert sorted(c360.index) == ["P1", "P2", "P3", "P4"]
    recs = expected_recommendations(3)
    for p, r in c360.iterrows():
        rows = o[o["person_id"] == p]
        n, cents = rows["order_id"].nunique(), rows["cents"].sum()
        assert r["order_count"] == n and r["total_spend"] == cents / 100
        assert r["net_spend"] == (cents - rows["ret_cents"].sum()) / 100
        aov = float((Decimal(int(cents)) / n).quantize(Decimal(1), ROUND_HALF_UP) / 100) if n else 0.0
        assert r["avg_order_value"] == pytest.approx(aov)
        if n:
            assert r["recency_days"] == (AS_OF - rows["day"].max()).days
            spend = rows.assign(cat=rows["product"].map(category)).groupby("cat")["cents"].sum()
            assert r["favourite_category"] == sorted(spend.index, key=lambda c: (-spend[c], c))[0]
        else:
            assert pd.isna(r["recency_days"]) and pd.isna(r["favourite_category"])
        assert nn(r["next_best_products"]) == (",".join(q for q, _, _ in recs[p]) if recs.get(p) else None)
        texts = [t for _, c, _, t, _ in FEEDBACK if person[f"crm:{c}"] == p]
        texts += [t for _, c, *_, t in SURVEYS if t and person[f"crm:{c}"] == p]
        texts += [t for _, et, _, _, _, c, _, t in EVENTS if et == "comment" and person[f"crm:{c}"] == p]
        if texts:
            scores = [round(vader.polarity_scores(t)["compound"], 4) for t in texts]
            assert r["avg_sentiment"] == pytest.approx(round(sum(scores) / len(scores), 4), abs=1e-4)
    ann = c360.loc["P1"]
    # by hand: sessions S1 (logged in), S2 (anonymous, on Ann's cookie), S3; S1 carted without checkout
    assert ann[["sessions", "page_views", "product_views", "cart_adds", "social_interactions"]].tolist() == [
        3, 2, 1, 2, 2]
    assert ann["cart_abandonment_rate"] == 0.5
    assert (ann["last_nps"], ann["nps_class"]) == (9, "promoter")  # SV4 (03-20) is her latest survey
    assert (ann["returned_lines"], ann["returned_amount"]) == (1, 20.0)
    assert (ann["segment"], ann["age"]) == ("Cannot Lose Them", 33)
    assert c360.loc["P2", "nps_class"] == "detractor" and c360.loc["P4", "order_count"] == 0


def test_classic_questions_answer_from_gold(gold: tuple[Settings, Lake]) -> None:
    from c360.analytics.questions import ask, questions

    lake = gold[1]
    assert set(questions()) == {"top_customers_by_spend", "best_sellers_per_category", "monthly_revenue_trend",
                                "aov_by_country"}
    o = orders_frame()
    buyers = o.dropna(subset=["person_id"]).groupby("person_id").apply(
        lambda g: (g["cents"].sum() - g["ret_cents"].sum()) / 100, include_groups=False)
    top = ask(lake, "top_customers_by_spend").to_pylist()
    assert [(r["person_id"], r["net_spend"]) for r in top] == sorted(buyers.items(), key=lambda t: (-t[1], t[0]))[:10]

    category = {p: c for p, c, _ in PRODUCTS}
    o["category"] = o["product"].map(category)
    units = o.groupby(["category", "product"]).agg(units=("qty", "sum"), cents=("cents", "sum")).reset_index()
    best = ask(lake, "best_sellers_per_category").to_pylist()
    for cat, g in units.groupby("category"):
        expected = g.sort_values(["units", "cents", "product"], ascending=[False, False, True])["product"][:3]
        assert [r["product_id"] for r in best if r["category"] == cat] == list(expected)

    o["ym"] = [d.strftime("%Y-%m") for d in o["day"]]
    trend = ask(lake, "monthly_revenue_trend").to_pylist()
    assert [(r["year_month"], r["revenue"]) for r in trend] == [
        (m, c / 100) for m, c in o.groupby("ym")["cents"].sum().items()]

    country = {p: c["country"] for c in CUSTOMERS for k, p in IDENTITY if k == f"crm:{c['customer_id']}"}
    country |= {"P1": "US", "P3": None}  # Ann's address survives from crm:1 (US); the guest has none
    o["country"] = [country.get(p) or "unknown" if isinstance(p, str) else "unknown" for p in o["person_id"]]
    per_order = o.groupby(["country", "order_id"])["cents"].sum().reset_index()
    aov = {r["country"]: r["avg_order_value"] for r in ask(lake, "aov_by_country").to_pylist()}
    for c, g in per_order.groupby("country"):
        exact = Decimal(int(g["cents"].sum())) / len(g)
        assert aov[c] == pytest.approx(float(exact.quantize(Decimal(1), ROUND_HALF_UP) / 100)), c


def test_product_store_and_salesperson_dimensions(gold: tuple[Settings, Lake]) -> None:
    lake = gold[1]
    products = frame(lake, "gold.dim_product").set_index("product_id")
    assert {p: (r["category"], r["price"]) for p, r in products.iterrows()} == {p: (c, pr) for p, c, pr in PRODUCTS}
    stores = frame(lake, "gold.dim_store").set_index("store_id")
    team = frame(lake, "silver.salespeople").groupby("store_id").size()
    assert stores["salespeople"].to_dict() == team.to_dict() == {"ST1": 2}
    people = frame(lake, "gold.dim_salesperson")
    assert sorted(people["salesperson_id"]) == ["SP1", "SP2"] and set(people["store_id"]) == {"ST1"}


def test_product_sales_per_product_and_category_rank(gold: tuple[Settings, Lake]) -> None:
    o = orders_frame()
    got = frame(gold[1], "gold.product_sales").set_index("product_id")
    assert set(got.index) == {p for p, *_ in PRODUCTS}
    category = {p: c for p, c, _ in PRODUCTS}
    for p, _c, _pr in PRODUCTS:
        lines = o[o["product"] == p]
        r = got.loc[p]
        assert r["lines"] == len(lines) and r["units"] == lines["qty"].sum()
        assert r["customers"] == lines["person_id"].dropna().nunique()
        assert r["revenue"] == lines["cents"].sum() / 100 and r["returned"] == lines["ret_cents"].sum() / 100
        assert r["net_revenue"] == (lines["cents"].sum() - lines["ret_cents"].sum()) / 100
        rivals = sorted((q for q in category if category[q] == category[p]),
                        key=lambda q: (-o[o["product"] == q]["cents"].sum(), -o[o["product"] == q]["qty"].sum(), q))
        assert r["category_rank"] == rivals.index(p) + 1
    assert got.loc["C", "revenue"] == 40.0 and got.loc["C", "returned"] == 20.0  # O2 + O3, O3's line returned
