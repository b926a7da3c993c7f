"""The dashboard in a real headless Chromium (Debian's, installed by scripts/services.sh), driven by
Playwright against `c360 serve api` on 127.0.0.1: the page signs in, every chart renders with the
numbers of gold for a known company, the customer lookup works, and a masked role sees masked
values. Screenshots go to build/screenshots/."""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from c360.config import Settings, load_settings
from c360.lake.store import lake_from_settings
from c360.serve.api import create_app
from c360.serve.auth import dev_keys
from c360.serve.load import load
from tests.integration.conftest import built_company

pytestmark = pytest.mark.browser
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SHOTS = Path(__file__).resolve().parents[2] / "build" / "screenshots"
# as the machine's notes advise: no background networking (the machine's network is closed)
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    yield from built_company(tmp_path_factory, "dashboard")


@pytest.fixture(scope="module")
def server(built: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Settings, str]]:
    """The API serving the company from a DuckDB serving file, on a free port."""
    s = load_settings(home=built.home, serving={"url": str(tmp_path_factory.mktemp("srv") / "serving.duckdb")})
    load(s, lake_from_settings(s))
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    srv = uvicorn.Server(uvicorn.Config(create_app(s), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started:
        assert time.monotonic() < deadline, "the API did not start"
        time.sleep(0.05)
    yield s, f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(10)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"no Chromium at {CHROMIUM} — install it with `bash scripts/services.sh up chromium`")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        yield b
        b.close()


def open_as(browser: Any, url: str, key: str) -> Any:
    page = browser.new_page(viewport={"width": 1280, "height": 1600})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{url}/")
    page.fill("#key", key)
    page.click("#signin button")
    page.wait_for_selector("body[data-ready=true]", timeout=20_000)
    assert not errors, errors
    return page


def marks(page: Any, chart: str, selector: str) -> dict[str, float]:
    return {m.get_attribute("data-label"): float(m.get_attribute("data-value"))
            for m in page.query_selector_all(f'[data-chart="{chart}"] {selector}')}


def test_the_dashboard_shows_gold_numbers_and_looks_customers_up(server: tuple[Settings, str], browser: Any) -> None:
    s, url = server
    lake = lake_from_settings(s)
    page = open_as(browser, url, dev_keys(s)["admin"])
    assert page.get_attribute("#whoami", "data-role") == "admin"
    for chart in ("revenue", "segments", "clv", "sentiment", "nps", "products", "quality"):
        assert page.get_attribute(f'[data-chart="{chart}"]', "data-ready") == "true", chart

    c360 = lake.read("gold.customer_360").to_pandas()
    kpis = {k: page.get_attribute(f"#kpi-{k} .value", "data-value") for k in ("customers", "revenue", "aov", "clv")}
    assert int(kpis["customers"]) == len(c360)
    assert float(kpis["revenue"]) == pytest.approx(round(c360.total_spend.sum(), 2))
    assert float(kpis["aov"]) == pytest.approx(c360.total_spend.sum() / c360.order_count.sum(), abs=0.01)
    assert float(kpis["clv"]) == pytest.approx(c360.predicted_clv.mean())
    assert page.inner_text("#kpi-customers .value") == f"{len(c360):,}"

    monthly = lake.read("gold.monthly_report").to_pandas()
    assert marks(page, "revenue", "circle") == pytest.approx(
        {m.strftime("%Y-%m"): r for m, r in zip(monthly.month, monthly.revenue, strict=True)})
    rfm = lake.read("gold.customer_rfm").to_pandas()
    assert marks(page, "segments", "rect") == rfm.groupby("segment").size().astype(float).to_dict()
    clv = marks(page, "clv", "rect")
    buyers = lake.read("gold.customer_clv").to_pandas().predicted_clv.notna().sum()
    assert len(clv) == 20 and sum(clv.values()) == buyers
    sent = c360.avg_sentiment
    assert marks(page, "sentiment", "rect") == {"positive": (sent >= 0.05).sum(), "negative": (sent <= -0.05).sum(),
                                                "neutral": ((sent > -0.05) & (sent < 0.05)).sum(),
                                                "none": sent.isna().sum()}
    assert marks(page, "nps", "circle") == pytest.approx(
        {m.strftime("%Y-%m"): n for m, n in zip(monthly.month, monthly.nps, strict=True) if n == n})
    products = lake.read("gold.product_sales").to_pandas().sort_values(["revenue", "product_id"],
                                                                       ascending=[False, True]).head(10)
    assert [r.get_attribute("data-label") for r in page.query_selector_all('[data-chart="products"] tr[data-label]')] \
        == list(products.product_id)
    from c360.quality.scorecard import scorecard

    cards = scorecard(lake, s)
    assert marks(page, "quality", "tr[data-label]") == {
        st: float(sum(t.status == st for t in cards)) for st in ("PASS", "FAILED", "NOT RUN")}
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "dashboard-admin.png"), full_page=True)

    person = c360[c360.email.notna()].sort_values("person_id").iloc[0]
    page.select_option("#lookup-by", "email")
    page.fill("#lookup-value", person.email)
    page.click("#lookup button")
    page.wait_for_selector(f'#profile[data-person="{person.person_id}"]', timeout=10_000)
    assert page.inner_text('#profile [data-field="email"]') == person.email
    assert page.inner_text('#profile [data-field="last_name"]') == person.last_name
    page.screenshot(path=str(SHOTS / "lookup-admin.png"), full_page=True)
    page.fill("#lookup-value", "nobody@example.invalid")
    page.click("#lookup button")
    page.wait_for_selector("#profile [data-error=true]", timeout=10_000)
    page.close()


def test_a_masked_role_sees_masked_values_in_the_browser(server: tuple[Settings, str], browser: Any) -> None:
    s, url = server
    c360 = lake_from_settings(s).read("gold.customer_360").to_pandas()
    person = c360[c360.email.notna()].sort_values("person_id").iloc[0]
    page = open_as(browser, url, dev_keys(s)["support"])
    assert page.get_attribute("#whoami", "data-role") == "support"
    page.select_option("#lookup-by", "person_id")
    page.fill("#lookup-value", person.person_id)
    page.click("#lookup button")
    page.wait_for_selector(f'#profile[data-person="{person.person_id}"]', timeout=10_000)
    shown = page.inner_text('#profile [data-field="email"]')
    assert shown != person.email and "***" in shown and shown.endswith(person.email.split("@")[1])
    assert person.email not in page.content() and person.last_name not in page.inner_text("#profile")
    page.screenshot(path=str(SHOTS / "lookup-support.png"), full_page=True)
    page.close()


def test_a_wrong_key_is_refused_in_the_page(server: tuple[Settings, str], browser: Any) -> None:
    _, url = server
    page = browser.new_page()
    page.goto(f"{url}/")
    page.fill("#key", "wrong-key")
    page.click("#signin button")
    page.wait_for_selector("#message:not([hidden])", timeout=10_000)
    assert "invalid API key" in page.inner_text("#message")
    assert page.is_hidden("#board")
    page.close()
