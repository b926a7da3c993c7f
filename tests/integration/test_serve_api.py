"""The REST API over both serving databases (the embedded DuckDB file and a real PostgreSQL): every
answer equals what the caller's role may see — each customer row equals `c360 query --role`
(itself proven against independent Python in test_governance), aggregates equal gold computed
here — pagination walks every row once, and bad requests get 4xx with the error body, never a
500 or a leak."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import psycopg
import pytest
from fastapi.testclient import TestClient
from pydantic_core import to_jsonable_python

from c360.config import Settings, load_settings
from c360.governance.query import query_as_role
from c360.lake.store import lake_from_settings
from c360.serve.api import create_app
from c360.serve.auth import dev_keys, mint_token, token_secret
from c360.serve.load import load
from tests.conftest import SERVICE_PORTS
from tests.integration.conftest import built_company, roles_with_local_analyst

PORT = SERVICE_PORTS["postgres"]
ROLES = ["admin", "analyst", "marketing", "support", "analyst_local"]
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    yield from built_company(tmp_path_factory, "serve_api")


@pytest.fixture(scope="module", params=["duckdb", pytest.param("postgres", marks=pytest.mark.services)])
def api(request: pytest.FixtureRequest, built: Settings, tmp_path_factory: pytest.TempPathFactory,
        ) -> Iterator[tuple[Settings, TestClient]]:
    """The company served by the API from a fresh serving database of each kind."""
    roles = roles_with_local_analyst(built)
    if request.param == "duckdb":
        path = tmp_path_factory.mktemp("serving") / "serving.duckdb"
        s = load_settings(home=built.home, serving={"url": str(path)}, governance={"roles": roles})
        load(s, lake_from_settings(s))
        with TestClient(create_app(s), raise_server_exceptions=False) as client:
            yield s, client
        return
    try:
        admin = psycopg.connect(f"postgresql://postgres@127.0.0.1:{PORT}/postgres", autocommit=True)
    except psycopg.OperationalError as e:
        pytest.fail(f"PostgreSQL is down ({e}) — start it with `bash scripts/services.sh up postgres`")
    db = f"c360_api_{uuid.uuid4().hex[:8]}"
    admin.execute(f"CREATE DATABASE {db}")
    try:
        s = load_settings(home=built.home, serving={"url": f"postgresql+psycopg://postgres@127.0.0.1:{PORT}/{db}"},
                          governance={"roles": roles})
        load(s, lake_from_settings(s))
        app = create_app(s)
        with TestClient(app, raise_server_exceptions=False) as client:
            yield s, client
        app.state.reader.close()
    finally:
        admin.execute(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")
        admin.close()


def key(s: Settings, role: str) -> dict[str, str]:
    return {"X-API-Key": dev_keys(s)[role]}


def get(client: TestClient, s: Settings, role: str, path: str, status: int = 200, **params: Any) -> Any:
    r = client.get(f"/api/v1/{path}", headers=key(s, role), params=params)
    assert r.status_code == status, (path, r.status_code, r.text[:300])
    return r.json()


def governed(s: Settings, role: str, sql: str) -> list[dict[str, Any]]:
    """The reference: the rows `c360 query --role` gives, as the API's JSON writes them."""
    rows = query_as_role(s, lake_from_settings(s), role, sql).to_pylist()
    return json.loads(json.dumps(to_jsonable_python(rows)).replace("NaN", "null"))


def people(s: Settings, n: int = 6) -> list[dict[str, Any]]:
    lake = lake_from_settings(s)
    return lake.sql("SELECT person_id, email, phone, country, first_name FROM gold_customer_360 "
                    "WHERE email IS NOT NULL AND phone IS NOT NULL ORDER BY person_id LIMIT ?", "gold.customer_360",
                    params=[n]).to_pylist()


# ------------------------------------------------------------------ authentication
def test_credentials_are_required_and_checked(api: tuple[Settings, TestClient]) -> None:
    s, client = api
    for headers in ({}, {"X-API-Key": "nope"}, {"Authorization": "Basic abc"}, {"Authorization": "Bearer "},
                    {"Authorization": f"Bearer {dev_keys(s)['admin']}x"}):
        r = client.get("/api/v1/metrics/summary", headers=headers)
        assert r.status_code == 401, headers
        body = r.json()["error"]
        assert body["status"] == 401 and body["code"] == "unauthorized" and body["request_id"]
        assert r.headers["WWW-Authenticate"] == "Bearer"
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {dev_keys(s)['support']}"}).json()["role"] \
        == "support"
    token = mint_token(s, "marketing", 60, "tester")
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).json()
    assert (me["role"], me["via"]) == ("marketing", "token")
    now = int(time.time())
    secret = token_secret(s)
    expired = jwt.encode({"iss": "c360", "sub": "x", "role": "admin", "iat": now - 100, "exp": now - 10}, secret,
                         algorithm="HS256")
    r = client.get("/api/v1/me", headers={"Authorization": f"Bearer {expired}"})
    assert r.status_code == 401 and "expired" in r.json()["error"]["message"]
    forged = jwt.encode({"iss": "c360", "sub": "x", "role": "admin", "iat": now, "exp": now + 60}, "x" * 40,
                        algorithm="HS256")
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {forged}"}).status_code == 401
    unknown = jwt.encode({"iss": "c360", "sub": "x", "role": "root", "iat": now, "exp": now + 60}, secret,
                         algorithm="HS256")
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {unknown}"}).status_code == 403
    assert client.get("/api/v1/health").json()["status"] == "ok"  # health needs no key


# ------------------------------------------------------------------ customers through the role's policy
@pytest.mark.parametrize("role", ROLES)
def test_customer_lookup_is_the_roles_view_of_the_person(api: tuple[Settings, TestClient], role: str) -> None:
    s, client = api
    for p in people(s):
        want = governed(s, role, f"SELECT * FROM customer_360 WHERE person_id = '{p['person_id']}'")
        r = client.get(f"/api/v1/customers/{p['person_id']}", headers=key(s, role))
        if not want:  # a row filter hides the person: not found, as if absent
            assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
            continue
        assert r.status_code == 200
        assert r.json()["customer"] == want[0]
        if role != "admin":
            for secret in (p["email"], p["phone"], p["first_name"]):
                assert secret not in r.text, (role, "clear PII in the response")


def test_lookup_by_email_and_phone_follows_each_roles_rule(api: tuple[Settings, TestClient]) -> None:
    s, client = api
    p = people(s, 1)[0]
    for role in ("admin", "support", "marketing"):  # clear or masked: the address itself finds the person
        for field in ("email", "phone"):
            got = get(client, s, role, "customers", **{field: p[field]})
            assert [c["person_id"] for c in got["items"]] == [p["person_id"]], (role, field)
    masked = get(client, s, "support", "customers", email=p["email"].upper())["items"][0]
    assert masked["email"] != p["email"] and "***" in masked["email"]
    # hashed: the clear address matches nothing; the role's hash of it finds the person
    assert get(client, s, "analyst", "customers", email=p["email"])["items"] == []
    hashed = governed(s, "analyst", f"SELECT email FROM customer_360 WHERE person_id = '{p['person_id']}'")
    got = get(client, s, "analyst", "customers", email=hashed[0]["email"])["items"]
    assert [c["person_id"] for c in got] == [p["person_id"]]
    get(client, s, "admin", "customers", 400, phone="12345")
    get(client, s, "admin", "customers", 400, email="not-an-email")


def test_search_filters_and_pagination_walk_every_row_once(api: tuple[Settings, TestClient]) -> None:
    s, client = api
    lake = lake_from_settings(s)
    segment = lake.sql("SELECT segment FROM gold_customer_360 WHERE segment IS NOT NULL GROUP BY 1 "
                       "ORDER BY count(*) DESC LIMIT 1", "gold.customer_360").column("segment")[0].as_py()
    want = [r["person_id"] for r in governed(s, "marketing", f"SELECT person_id FROM customer_360 WHERE segment = "
                                                             f"'{segment}' ORDER BY person_id")]
    seen, params = [], {"segment": segment, "limit": 7}
    while True:
        got = get(client, s, "marketing", "customers", **params)
        assert len(got["items"]) <= 7
        seen += [c["person_id"] for c in got["items"]]
        if not got["next_after"]:
            break
        assert got["next"].startswith("/api/v1/customers?") and f"after={got['next_after']}" in got["next"]
        params["after"] = got["next_after"]
    assert seen == want and len(want) > 7
    first = people(s, 1)[0]["first_name"]
    hits = get(client, s, "admin", "customers", q=first[:3].lower(), limit=500)["items"]
    assert hits and all(c["first_name"].lower().startswith(first[:3].lower())
                        or c["last_name"].lower().startswith(first[:3].lower()) for c in hits)
    refused = client.get("/api/v1/customers", headers=key(s, "support"), params={"q": "an"})
    assert refused.status_code == 403 and "names" in refused.json()["error"]["message"]
    assert get(client, s, "admin", "customers", 400, limit=100_000)["error"]["message"].startswith("limit must")
    get(client, s, "admin", "customers", 422, limit=0)


def test_a_country_scoped_role_sees_only_its_country(api: tuple[Settings, TestClient]) -> None:
    s, client = api
    country = s.governance.roles["analyst_local"].row_filter.values[0]  # type: ignore[union-attr]
    rows = get(client, s, "analyst_local", "customers", limit=500)
    assert rows["items"] and {c["country"] for c in rows["items"]} == {country}
    n = len(governed(s, "analyst_local", "SELECT person_id FROM customer_360"))
    assert get(client, s, "analyst_local", "metrics/summary")["customers"] == n
    assert n < get(client, s, "admin", "metrics/summary")["customers"]


def test_recommendations_are_the_persons_ranked_products(api: tuple[Settings, TestClient]) -> None:
    s, client = api
    lake = lake_from_settings(s)
    pid = lake.sql("SELECT person_id FROM gold_recommendations ORDER BY person_id LIMIT 1",
                   "gold.recommendations").column("person_id")[0].as_py()
    want = lake.sql("SELECT r.rank, r.product_id, p.name, p.category, r.score, r.because_of "
                    "FROM gold_recommendations r LEFT JOIN gold_dim_product p USING (product_id) "
                    "WHERE person_id = ? ORDER BY rank",
                    "gold.recommendations", "gold.dim_product", params=[pid]).to_pylist()
    got = get(client, s, "marketing", f"customers/{pid}/recommendations")
    assert got["person_id"] == pid and got["items"] == want
    assert get(client, s, "admin", "customers/P-nobody/recommendations", 404)["error"]["code"] == "not_found"


# ------------------------------------------------------------------ aggregates equal gold
def test_segments_and_their_members(api: tuple[Settings, TestClient]) -> None:
    s, client = api
    lake = lake_from_settings(s)
    rfm = lake.read("gold.customer_rfm").to_pandas()
    got = {x["segment"]: x for x in get(client, s, "analyst", "segments")}
    sizes = rfm.groupby("segment").size().to_dict()
    assert {k: v["customers"] for k, v in got.items()} == sizes
    for seg, v in got.items():
        assert v["avg_monetary"] == pytest.approx(rfm[rfm.segment == seg].monetary.mean())
    seg = max(sizes, key=lambda k: sizes[k])
    members = get(client, s, "analyst", f"segments/{seg}/customers", limit=500)["items"]
    assert sorted(m["person_id"] for m in members) == sorted(rfm[rfm.segment == seg].person_id)
    assert "Nope" in get(client, s, "analyst", "segments/Nope/customers", 404)["error"]["message"]


def test_clv_distribution_bins_hold_every_buyer(api: tuple[Settings, TestClient]) -> None:
    s, client = api
    clv = lake_from_settings(s).read("gold.customer_clv").to_pandas().predicted_clv
    got = get(client, s, "analyst", "clv/distribution", bins=8)
    assert got["customers"] == len(clv) and sum(b["customers"] for b in got["bins"]) == clv.notna().sum()
    assert got["median"] == pytest.approx(clv.median()) and got["p90"] == pytest.approx(clv.quantile(0.9))
    assert got["mean"] == pytest.approx(clv.mean()) and got["max"] == pytest.approx(clv.max())
    assert len(got["bins"]) == 8 and got["bins"][-1]["upper"] is None
    width = got["bins"][0]["upper"]
    assert got["bins"][0]["customers"] == (clv < width).sum()
    get(client, s, "analyst", "clv/distribution", 422, bins=0)


def test_summary_kpis_equal_gold(api: tuple[Settings, TestClient]) -> None:
    s, client = api
    lake = lake_from_settings(s)
    c = lake.read("gold.customer_360").to_pandas()
    cx = lake.read("gold.cx_summary").to_pandas().set_index(["survey_type", "channel"]).loc[("all", "all")]
    got = get(client, s, "marketing", "metrics/summary")
    assert got["customers"] == len(c) and got["buyers"] == (c.order_count > 0).sum()
    assert got["orders"] == c.order_count.sum() and got["revenue"] == pytest.approx(round(c.total_spend.sum(), 2))
    assert got["avg_order_value"] == pytest.approx(round(c.total_spend.sum() / c.order_count.sum(), 2))
    assert got["avg_predicted_clv"] == pytest.approx(c.predicted_clv.mean())
    assert got["high_churn_risk"] == (c.churn_risk == "high").sum() and got["nps"] == pytest.approx(cx.nps)
    sent = c.avg_sentiment
    assert got["sentiment"] == {"positive": (sent >= 0.05).sum(), "negative": (sent <= -0.05).sum(),
                                "neutral": ((sent > -0.05) & (sent < 0.05)).sum(), "none": sent.isna().sum()}


def test_trends_reports_and_products_equal_gold(api: tuple[Settings, TestClient]) -> None:
    s, client = api
    lake = lake_from_settings(s)
    monthly = lake.read("gold.monthly_report").sort_by("month").to_pylist()
    got = get(client, s, "analyst", "trends/revenue", grain="month")["items"]
    assert [(g["month"], g["revenue"]) for g in got] == [(m["month"].isoformat(), m["revenue"]) for m in monthly]
    daily = lake.read("gold.daily_report").sort_by("date").to_pylist()
    window = get(client, s, "analyst", "trends/revenue", grain="day", **{"from": daily[3]["date"].isoformat(),
                                                                         "to": daily[9]["date"].isoformat()})
    assert [g["date"] for g in window["items"]] == [d["date"].isoformat() for d in daily[3:10]]
    get(client, s, "analyst", "trends/revenue", 400, **{"from": "2024-05-01", "to": "2024-04-01"})
    get(client, s, "analyst", "trends/revenue", 422, grain="week")
    pages, params = [], {"limit": 100}
    while True:
        got = get(client, s, "analyst", "reports/daily", **params)
        pages += got["items"]
        if not got["next_after"]:
            break
        params["after"] = got["next_after"]
    assert [p["date"] for p in pages] == [d["date"].isoformat() for d in daily]
    products = lake.read("gold.product_sales").to_pandas().sort_values(["revenue", "product_id"],
                                                                       ascending=[False, True])
    top = get(client, s, "analyst", "products/top", limit=5)["items"]
    assert [p["product_id"] for p in top] == list(products.product_id[:5])
    cx = get(client, s, "analyst", "trends/cx")["items"]
    assert cx and all(r["responses"] > 0 for r in cx)
    get(client, s, "analyst", "trends/cx", 400, survey_type="nps")


def test_quality_scorecard_and_runs_are_served(api: tuple[Settings, TestClient]) -> None:
    from c360.ops.audit import recent_runs
    from c360.quality.scorecard import scorecard

    s, client = api
    lake = lake_from_settings(s)
    cards = get(client, s, "support", "quality/scorecard")["items"]
    assert {c["table_id"]: c["status"] for c in cards} == {t.table_id: t.status for t in scorecard(lake, s)}
    assert all(isinstance(c["dimensions"], dict) for c in cards)
    runs = get(client, s, "support", "runs")["items"]
    assert [r["run_id"] for r in runs] == [r["run_id"] for r in recent_runs(lake, 20)]
    assert get(client, s, "support", f"runs/{runs[0]['run_id']}")["items"][0]["status"] == runs[0]["status"]
    get(client, s, "support", "runs/nope", 404)


@pytest.mark.parametrize("role", ROLES)
def test_me_lists_the_roles_tables_and_rules(api: tuple[Settings, TestClient], role: str) -> None:
    from c360.governance.policy import columns
    from c360.serve.reader import table_of

    s, client = api
    me = get(client, s, role, "me")
    assert me["role"] == role and me["tables"]
    for t in me["tables"]:
        assert t["columns"] == {p.column.name: p.rule for p in columns(s.governance.roles[role], table_of(t["table"]))}


# ------------------------------------------------------------------ bad requests
BAD = [
    ("customers/' OR '1'='1", 400), ("customers/P1;DROP TABLE x", 400), ("customers/" + "P" * 200, 400),
    ("customers?email=a@b.com' OR 1=1 --", 400), ("customers?email=a'--@b.com", 200),
    ("customers?segment=x' OR '1'='1", 200), ("customers?after=' OR 1=1 --&segment=none", 200),
    ("customers?country=DEU", 422), ("customers?churn_risk=extreme", 422),
    ("customers?limit=-1", 422), ("customers?limit=abc", 422), ("customers?q=%25", 422),
    ("segments/x' UNION SELECT 1 --/customers", 404), ("clv/distribution?bins=1000", 422),
    ("reports/daily?from=yesterday", 422), ("products/top?by=price; DROP", 422), ("runs?limit=100000", 422),
    ("runs/" + "r" * 100, 422), ("nothing/here", 404), ("customers/%00", 400), ("trends/cx?survey_type=%27", 400),
]


@pytest.mark.parametrize(("path", "status"), BAD)
def test_bad_requests_get_a_clear_4xx_never_a_500(api: tuple[Settings, TestClient], path: str, status: int) -> None:
    s, client = api
    r = client.get(f"/api/v1/{path}", headers=key(s, "admin"))
    assert r.status_code == status, (path, r.text[:300])
    if status >= 400:
        err = r.json()["error"]
        assert err["status"] == status and err["code"] and err["message"] and err["request_id"]
        for leak in ("duckdb", "psycopg", "syntax error", "Traceback", "c360_", "FROM "):
            assert leak not in err["message"], (path, err["message"])
    else:
        assert r.json()["items"] == []  # the quote is a value like any other: nothing matches it
    r = client.post("/api/v1/customers", headers=key(s, "admin"))
    assert r.status_code == 405 and r.json()["error"]["code"] == "method_not_allowed"


def test_the_openapi_spec_in_docs_is_the_apps(api: tuple[Settings, TestClient]) -> None:
    _, client = api
    served = client.get("/api/v1/openapi.json").json()
    committed = json.loads((REPO / "docs" / "openapi.json").read_text())
    assert served == committed, "docs/openapi.json is stale: run `c360 serve openapi > docs/openapi.json`"
    assert {"/api/v1/customers/{person_id}", "/api/v1/customers", "/api/v1/segments", "/api/v1/clv/distribution",
            "/api/v1/metrics/summary", "/api/v1/trends/revenue", "/api/v1/reports/daily", "/api/v1/quality/scorecard",
            "/api/v1/runs"} <= set(served["paths"])
