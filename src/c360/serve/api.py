"""The REST API (``c360 serve api``): the served gold tables, through the caller's role.

Every route reads the serving database through ``Reader.query(role, …)``, that is through the
role's views (masking, hashing, row filters; serve/reader.py) — never the base tables. Requests
carry an API key or a bearer token (serve/auth.py). Lists are keyset-paginated (``limit``,
``after`` = the last key of the previous page, ``next`` = the next page's URL). Every error is
``{"error": {"status", "code", "message", "request_id"}}`` with a 4xx status for anything the
caller can fix; a 500 says only "internal error" and its request id (the log has the rest).

The dashboard (serve/dashboard/) is served at ``/`` by the same app and calls these routes.
"""


import json
import logging
import re
import threading
import time
import uuid
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from fastapi import Depends, FastAPI, Header, Query, Request
from fastapi import Path as PathParam
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from c360 import __version__
from c360.config import Settings
from c360.errors import C360Error
from c360.governance.policy import columns, role, rule_for
from c360.lake.standardise import e164_one
from c360.serve.auth import Authenticator, AuthError, Caller
from c360.serve.load import SERVED
from c360.serve.reader import PERSON_SERVED, Reader, RoleCannotRead, open_reader, table_of

log = logging.getLogger("c360.api")
PREFIX = "/api/v1"
DASHBOARD = Path(__file__).with_name("dashboard")
_PERSON_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
_CACHE_SECONDS = 30.0


class ApiError(Exception):
    """A request the API refuses: its status, a short code and a message for the caller."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


# ------------------------------------------------------------------ response models
class ErrorDetail(BaseModel):
    status: int = Field(description="The HTTP status.")
    code: str = Field(description="A stable machine-readable code, e.g. not_found, bad_request.")
    message: str = Field(description="What was wrong, for a person.")
    request_id: str = Field(description="Quote it when asking about this request (also X-Request-Id).")


class ErrorBody(BaseModel):
    error: ErrorDetail


class Page(BaseModel):
    items: list[dict[str, Any]] = Field(description="Rows as the caller's role sees them (its columns, masked "
                                        "or hashed per its policy; see /api/v1/me).")
    limit: int
    next_after: str | None = Field(None, description="Pass as `after` for the next page; null on the last page.")
    next: str | None = Field(None, description="The next page's URL.")


class Customer(BaseModel):
    customer: dict[str, Any] = Field(description="The customer_360 row as the caller's role sees it.")


class Recommendation(BaseModel):
    rank: int
    product_id: str
    name: str | None
    category: str | None
    score: float
    because_of: str | None


class Recommendations(BaseModel):
    person_id: str
    items: list[Recommendation]


class SegmentSize(BaseModel):
    segment: str
    customers: int
    avg_recency_days: float | None
    avg_frequency: float | None
    avg_monetary: float | None
    monetary: float | None


class Bin(BaseModel):
    lower: float
    upper: float | None = Field(description="null for the last, open-ended bin.")
    customers: int


class ClvDistribution(BaseModel):
    customers: int
    mean: float | None
    median: float | None
    p90: float | None
    p99: float | None
    max: float | None
    total: float | None
    bins: list[Bin]


class Summary(BaseModel):
    customers: int = Field(description="Persons in customer_360 the role may see.")
    buyers: int
    orders: int
    revenue: float = Field(description="Gross spend of those persons.")
    net_revenue: float
    avg_order_value: float | None
    avg_predicted_clv: float | None
    high_churn_risk: int
    nps: float | None = Field(description="Over every survey (cx_summary all/all).")
    avg_csat: float | None
    sentiment: dict[str, int] = Field(description="Persons by average sentiment of their comments: positive "
                                      "(≥ 0.05), neutral, negative (≤ -0.05), none.")
    segments: int
    as_of: date | None = Field(description="The last day with sales.")


class Rows(BaseModel):
    items: list[dict[str, Any]]


class TableRules(BaseModel):
    table: str
    columns: dict[str, str] = Field(description="Column -> clear, masked or hashed (hidden ones are absent).")


class Me(BaseModel):
    role: str
    description: str
    via: str
    row_filter: dict[str, Any] | None
    tables: list[TableRules]


class Health(BaseModel):
    status: str
    backend: str
    version: str


# ------------------------------------------------------------------ the app
class _Cache:
    """Aggregates per (role, route, parameters), kept ``_CACHE_SECONDS``: the dashboard asks for the
    same summaries often and the served tables change only on a load. Lookups are not cached."""

    def __init__(self) -> None:
        self._data: dict[tuple[Any, ...], tuple[float, Any]] = {}
        self._lock = threading.Lock()

    def get(self, key: tuple[Any, ...], make: Callable[[], Any]) -> Any:
        now = time.monotonic()
        with self._lock:
            hit = self._data.get(key)
        if hit and now - hit[0] < _CACHE_SECONDS:
            return hit[1]
        value = make()
        with self._lock:
            self._data[key] = (now, value)
        return value


def _error(status: int, code: str, message: str, request: Request) -> JSONResponse:
    rid = getattr(request.state, "request_id", "-")
    body = ErrorBody(error=ErrorDetail(status=status, code=code, message=message, request_id=rid))
    return JSONResponse(body.model_dump(), status_code=status, headers={"X-Request-Id": rid})


_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
          406: "not_acceptable", 409: "conflict", 413: "too_large", 415: "unsupported_media_type",
          422: "invalid_parameter", 429: "too_many_requests", 503: "unavailable"}


def create_app(settings: Settings, reader: Reader | None = None) -> FastAPI:
    """The API over the configured serving database (``reader`` overrides it, for tests)."""
    auth = Authenticator(settings)
    db = reader or open_reader(settings)
    cache = _Cache()
    s = settings.serving
    app = FastAPI(title="c360 API", version=__version__, docs_url=None, redoc_url=None,
                  description="Customer 360 gold tables through the caller's governance role: every row and "
                              "column is what that role may see (masking, hashing, row filters). "
                              "Authenticate with `X-API-Key: <key>` or `Authorization: Bearer <key or token>`.",
                  openapi_url=f"{PREFIX}/openapi.json",
                  responses={401: {"model": ErrorBody}, 403: {"model": ErrorBody}, 422: {"model": ErrorBody}})
    app.state.reader = db

    # ---------------------------------------------------------------- plumbing
    @app.middleware("http")
    async def request_id(request: Request, call_next: Callable[..., Any]) -> Any:
        rid = request.headers.get("x-request-id", "")
        request.state.request_id = rid if re.fullmatch(r"[A-Za-z0-9._-]{1,64}", rid) else uuid.uuid4().hex[:16]
        t0 = time.perf_counter()
        response = await call_next(request)
        response.headers["X-Request-Id"] = request.state.request_id
        response.headers.setdefault("Cache-Control", "no-store")
        log.info("%s %s %s %.1fms %s", request.method, request.url.path, response.status_code,
                 (time.perf_counter() - t0) * 1000, getattr(request.state, "caller", "-"))
        return response

    @app.exception_handler(ApiError)
    async def api_error(request: Request, e: ApiError) -> JSONResponse:
        return _error(e.status, e.code, e.message, request)

    @app.exception_handler(AuthError)
    async def auth_error(request: Request, e: AuthError) -> JSONResponse:
        r = _error(e.status, _CODES[e.status], e.message, request)
        if e.status == 401:
            r.headers["WWW-Authenticate"] = "Bearer"
        return r

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, e: RequestValidationError) -> JSONResponse:
        parts = []
        for err in e.errors()[:5]:
            where = ".".join(str(p) for p in err.get("loc", ()) if p not in ("query", "path", "header"))
            parts.append(f"{where}: {err.get('msg', 'invalid')}")
        return _error(422, "invalid_parameter", "; ".join(parts) or "invalid request", request)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, e: StarletteHTTPException) -> JSONResponse:
        message = e.detail if isinstance(e.detail, str) else "request refused"
        if e.status_code == 404 and message == "Not Found":
            message = f"no such route: {request.url.path}"
        return _error(e.status_code, _CODES.get(e.status_code, "error"), message, request)

    @app.exception_handler(C360Error)
    async def c360_error(request: Request, e: C360Error) -> JSONResponse:
        log.error("request %s: %s", getattr(request.state, "request_id", "-"), e.line())
        return _error(503, "unavailable", "the serving database cannot answer this request", request)

    @app.exception_handler(Exception)
    async def internal(request: Request, e: Exception) -> JSONResponse:
        log.exception("request %s failed", getattr(request.state, "request_id", "-"))
        return _error(500, "internal", "internal error", request)

    def caller(request: Request,
               x_api_key: Annotated[str | None, Header(description="An API key.")] = None,
               authorization: Annotated[str | None, Header(description="Bearer <API key or token>.")] = None,
               ) -> Caller:
        c = auth.caller(x_api_key, authorization)
        request.state.caller = f"{c.role}:{c.subject}"
        return c

    Who = Annotated[Caller, Depends(caller)]
    Limit = Annotated[int | None, Query(ge=1, description=f"Rows per page (default {s.api_page_size}, "
                                                           f"at most {s.api_max_page_size}).")]
    After = Annotated[str | None, Query(max_length=128, description="The next_after of the previous page.")]

    def rel(c: Caller, served: str) -> str:
        try:
            return db.relation(c.role, served)
        except RoleCannotRead:
            raise ApiError(403, "forbidden", f"role {c.role} cannot read {served}") from None

    def q(c: Caller, sql: str, params: list[Any] | tuple[Any, ...] = ()) -> list[dict[str, Any]]:
        return db.query(c.role, sql, params)

    def limit_of(limit: int | None) -> int:
        if limit is None:
            return s.api_page_size
        if limit > s.api_max_page_size:
            raise ApiError(400, "bad_request", f"limit must be at most {s.api_max_page_size}")
        return limit

    def page(request: Request, rows: list[dict[str, Any]], limit: int, key: str) -> Page:
        more = len(rows) > limit
        rows = rows[:limit]
        after = str(rows[-1][key]) if more and rows else None
        nxt = None
        if after is not None:
            params = dict(request.query_params)
            params["after"], params["limit"] = after, str(limit)
            nxt = f"{request.url.path}?{urlencode(params)}"
        return Page(items=rows, limit=limit, next_after=after, next=nxt)

    def rule(c: Caller, served: str, column: str) -> str:
        spec = table_of(served)
        return rule_for(role(settings, c.role), spec.column(column))

    # ---------------------------------------------------------------- routes
    @app.get(f"{PREFIX}/health", response_model=Health, tags=["status"])
    def health() -> Health:
        """Liveness and the serving backend (no credentials needed)."""
        try:
            db.ping()
        except Exception:  # any failure means "not ready"
            raise ApiError(503, "unavailable", "the serving database does not answer") from None
        return Health(status="ok", backend=db.kind, version=__version__)

    @app.get(f"{PREFIX}/me", response_model=Me, tags=["status"])
    def me(c: Who) -> Me:
        """The caller's role: its row filter and, per table it can read, the rule of each column."""
        r = role(settings, c.role)
        tables = []
        for served in sorted(SERVED.values()):
            try:
                db.relation(c.role, served)
            except RoleCannotRead:
                continue
            cols = {p.column.name: p.rule for p in columns(r, table_of(served))}
            tables.append(TableRules(table=served, columns=cols))
        f = r.row_filter
        return Me(role=c.role, description=r.description, via=c.via, tables=tables,
                  row_filter={"column": f.column, "values": f.values} if f else None)

    @app.get(f"{PREFIX}/customers/{{person_id}}", response_model=Customer, tags=["customers"],
             responses={404: {"model": ErrorBody}})
    def customer_by_id(c: Who, person_id: str) -> Customer:
        """The whole customer-360 profile of one person, as the caller's role sees it."""
        pid = _check_person(person_id)
        rows = q(c, f"SELECT * FROM {rel(c, PERSON_SERVED)} WHERE person_id = ?", [pid])
        if not rows:
            raise ApiError(404, "not_found", f"no customer {pid}")
        return Customer(customer=rows[0])

    @app.get(f"{PREFIX}/customers", response_model=Page, tags=["customers"])
    def customers(
        request: Request, c: Who,
        email: Annotated[str | None, Query(max_length=254, description="Exact email (clear or masked roles: "
                                           "the address itself; hashed roles: its hash).")] = None,
        phone: Annotated[str | None, Query(max_length=32, description="Exact phone, international format "
                                           "(+4930…); hashed roles: its hash.")] = None,
        q_: Annotated[str | None, Query(alias="q", min_length=2, max_length=64,
                                        description="Name prefix (roles that see names in clear).")] = None,
        segment: Annotated[str | None, Query(max_length=64)] = None,
        country: Annotated[str | None, Query(min_length=2, max_length=2, description="ISO 3166 alpha-2.")] = None,
        churn_risk: Annotated[Literal["high", "medium", "low", "unknown"] | None, Query()] = None,
        limit: Limit = None, after: After = None,
    ) -> Page:
        """Search customers: by exact email or phone (a lookup), name prefix, segment, country,
        churn risk; ordered by person_id."""
        n = limit_of(limit)
        where, params = [], []
        for column, raw in (("email", email), ("phone", phone)):
            if raw is None:
                continue
            how = rule(c, PERSON_SERVED, column)
            if how == "hidden":
                raise ApiError(403, "forbidden", f"role {c.role} cannot see {column}: no lookup by it")
            value = raw.strip()
            if how == "hashed":
                where.append(f"{column} = ?")
                params.append(value.lower())
                continue
            value = _normal_email(value) if column == "email" else _normal_phone(value)
            ids = db.resolve(column, value)
            if not ids:
                return Page(items=[], limit=n)
            where.append(f"person_id IN ({', '.join('?' for _ in ids)})")
            params += ids
        if q_ is not None:
            if any(rule(c, PERSON_SERVED, col) != "clear" for col in ("first_name", "last_name")):
                raise ApiError(403, "forbidden", f"role {c.role} does not see names in clear: search by name "
                                                 "is not available (use email, phone, segment or country)")
            pattern = _like_prefix(q_.strip().lower())
            where.append("(lower(first_name) LIKE ? ESCAPE '\\' OR lower(last_name) LIKE ? ESCAPE '\\' "
                         "OR lower(first_name || ' ' || last_name) LIKE ? ESCAPE '\\')")
            params += [pattern, pattern, pattern]
        for column, value in (("segment", segment), ("country", country.upper() if country else None),
                              ("churn_risk", churn_risk)):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        if after is not None:
            where.append("person_id > ?")
            params.append(after)
        sql = f"SELECT * FROM {rel(c, PERSON_SERVED)}"
        if where:
            sql += " WHERE " + " AND ".join(where)
        rows = q(c, f"{sql} ORDER BY person_id LIMIT ?", [*params, n + 1])
        return page(request, rows, n, "person_id")

    @app.get(f"{PREFIX}/customers/{{person_id}}/recommendations", response_model=Recommendations,
             tags=["customers"], responses={404: {"model": ErrorBody}})
    def recommendations(c: Who, person_id: str) -> Recommendations:
        """The person's next-best products, best first, with the product each comes from."""
        pid = _check_person(person_id)
        if not q(c, f"SELECT person_id FROM {rel(c, PERSON_SERVED)} WHERE person_id = ?", [pid]):
            raise ApiError(404, "not_found", f"no customer {pid}")
        rows = q(c, f"SELECT r.rank, r.product_id, p.name, p.category, r.score, r.because_of "
                    f"FROM {rel(c, 'recommendations')} AS r LEFT JOIN {rel(c, 'products')} AS p "
                    f"ON p.product_id = r.product_id WHERE r.person_id = ? ORDER BY r.rank", [pid])
        return Recommendations(person_id=pid, items=[Recommendation(**r) for r in rows])

    @app.get(f"{PREFIX}/segments", response_model=list[SegmentSize], tags=["segments"])
    def segments(c: Who) -> list[SegmentSize]:
        """RFM segments: members and their average recency, frequency and spend."""
        def make() -> list[SegmentSize]:
            rows = q(c, f"SELECT segment, count(*) AS customers, avg(recency_days) AS avg_recency_days, "
                        f"avg(frequency) AS avg_frequency, avg(monetary) AS avg_monetary, sum(monetary) AS monetary "
                        f"FROM {rel(c, 'customer_segments')} GROUP BY segment ORDER BY customers DESC, segment")
            return [SegmentSize(**r) for r in rows]
        return cache.get((c.role, "segments"), make)

    @app.get(f"{PREFIX}/segments/{{segment}}/customers", response_model=Page, tags=["segments"],
             responses={404: {"model": ErrorBody}})
    def segment_members(request: Request, c: Who, segment: str, limit: Limit = None, after: After = None) -> Page:
        """The members of one segment with their RFM figures, ordered by person_id."""
        n = limit_of(limit)
        known = {x.segment for x in segments(c)}
        if segment not in known:
            raise ApiError(404, "not_found", f"no segment {segment!r} (segments: {', '.join(sorted(known))})")
        sql = f"SELECT * FROM {rel(c, 'customer_segments')} WHERE segment = ?"
        params: list[Any] = [segment]
        if after is not None:
            sql += " AND person_id > ?"
            params.append(after)
        return page(request, q(c, f"{sql} ORDER BY person_id LIMIT ?", [*params, n + 1]), n, "person_id")

    @app.get(f"{PREFIX}/clv/distribution", response_model=ClvDistribution, tags=["analytics"])
    def clv_distribution(c: Who, bins: Annotated[int, Query(ge=1, le=100)] = 20) -> ClvDistribution:
        """Predicted 12-month CLV: summary statistics and a histogram of equal-width bins up to the
        99th percentile (the last bin holds everything above)."""
        def make() -> ClvDistribution:
            src = rel(c, "customer_clv")
            st = q(c, f"SELECT count(*) AS n, avg(predicted_clv) AS mean, max(predicted_clv) AS mx, "
                      f"sum(predicted_clv) AS total, "
                      f"percentile_cont(0.5) WITHIN GROUP (ORDER BY predicted_clv) AS median, "
                      f"percentile_cont(0.9) WITHIN GROUP (ORDER BY predicted_clv) AS p90, "
                      f"percentile_cont(0.99) WITHIN GROUP (ORDER BY predicted_clv) AS p99 FROM {src}")[0]
            out: list[Bin] = []
            if st["n"]:
                top = float(st["p99"] or 0) or float(st["mx"] or 0) or 1.0
                width = top / bins
                counts = {r["b"]: r["customers"] for r in q(
                    c, f"SELECT LEAST(CAST(floor(predicted_clv / ?) AS INTEGER), ?) AS b, count(*) AS customers "
                       f"FROM {src} WHERE predicted_clv IS NOT NULL GROUP BY 1", [width, bins - 1])}
                out = [Bin(lower=round(i * width, 6), upper=None if i == bins - 1 else round((i + 1) * width, 6),
                           customers=int(counts.get(i, 0))) for i in range(bins)]
            return ClvDistribution(customers=st["n"], mean=st["mean"], median=st["median"], p90=st["p90"],
                                   p99=st["p99"], max=st["mx"], total=st["total"], bins=out)
        return cache.get((c.role, "clv", bins), make)

    @app.get(f"{PREFIX}/metrics/summary", response_model=Summary, tags=["analytics"])
    def summary(c: Who) -> Summary:
        """The headline KPIs over the customers the role may see."""
        def make() -> Summary:
            p = rel(c, PERSON_SERVED)
            k = q(c, f"SELECT count(*) AS customers, sum(CASE WHEN order_count > 0 THEN 1 ELSE 0 END) AS buyers, "
                     f"coalesce(sum(order_count), 0) AS orders, coalesce(sum(total_spend), 0) AS revenue, "
                     f"coalesce(sum(net_spend), 0) AS net_revenue, avg(predicted_clv) AS avg_predicted_clv, "
                     f"sum(CASE WHEN churn_risk = 'high' THEN 1 ELSE 0 END) AS high_churn_risk, "
                     f"count(DISTINCT segment) AS segments, CAST(max(last_order_at) AS DATE) AS as_of FROM {p}")[0]
            sent = {r["s"]: int(r["n"]) for r in q(
                c, f"SELECT CASE WHEN avg_sentiment IS NULL THEN 'none' WHEN avg_sentiment >= 0.05 THEN 'positive' "
                   f"WHEN avg_sentiment <= -0.05 THEN 'negative' ELSE 'neutral' END AS s, count(*) AS n "
                   f"FROM {p} GROUP BY 1")}
            cx = q(c, f"SELECT nps, avg_csat FROM {rel(c, 'cx_summary')} WHERE survey_type = 'all' "
                      f"AND channel = 'all'")
            orders = int(k["orders"] or 0)
            revenue = round(float(k["revenue"]), 2)  # sums of cents: no float noise in a KPI
            return Summary(customers=k["customers"], buyers=int(k["buyers"] or 0), orders=orders,
                           revenue=revenue, net_revenue=round(float(k["net_revenue"]), 2),
                           avg_order_value=round(revenue / orders, 2) if orders else None,
                           avg_predicted_clv=k["avg_predicted_clv"], high_churn_risk=int(k["high_churn_risk"] or 0),
                           nps=cx[0]["nps"] if cx else None, avg_csat=cx[0]["avg_csat"] if cx else None,
                           sentiment={x: sent.get(x, 0) for x in ("positive", "neutral", "negative", "none")},
                           segments=int(k["segments"] or 0), as_of=k["as_of"])
        return cache.get((c.role, "summary"), make)

    def dated(c: Caller, served: str, key: str, cols: str, start: date | None, end: date | None,
              extra: str = "", extra_params: tuple[Any, ...] = (), limit: int | None = None) -> list[dict[str, Any]]:
        if start and end and start > end:
            raise ApiError(400, "bad_request", "from must not be after to")
        where, params = [], list(extra_params)
        if extra:
            where.append(extra)
        if start:
            where.append(f"{key} >= ?")
            params.append(start)
        if end:
            where.append(f"{key} <= ?")
            params.append(end)
        sql = f"SELECT {cols} FROM {rel(c, served)}" + (" WHERE " + " AND ".join(where) if where else "")
        if limit is None:
            return q(c, f"{sql} ORDER BY {key}", params)
        return q(c, f"{sql} ORDER BY {key} LIMIT ?", [*params, limit])

    @app.get(f"{PREFIX}/trends/revenue", response_model=Rows, tags=["trends"])
    def revenue_trend(c: Who, grain: Literal["day", "month"] = "month",
                      start: Annotated[date | None, Query(alias="from", description="YYYY-MM-DD")] = None,
                      end: Annotated[date | None, Query(alias="to", description="YYYY-MM-DD")] = None) -> Rows:
        """Revenue, orders and AOV per day or month."""
        if grain == "day":
            rows = dated(c, "daily_report", "date", "date, orders, customers, revenue, net_revenue, "
                         "avg_order_value", start, end)
        else:
            rows = dated(c, "monthly_report", "month", "month, orders, customers, revenue, net_revenue, "
                         "avg_order_value, revenue_growth_pct", start, end)
        return Rows(items=rows)

    @app.get(f"{PREFIX}/trends/cx", response_model=Rows, tags=["trends"])
    def cx_trend(c: Who, survey_type: Annotated[str | None, Query(max_length=64)] = None,
                 channel: Annotated[str | None, Query(max_length=64)] = None,
                 start: Annotated[date | None, Query(alias="from")] = None,
                 end: Annotated[date | None, Query(alias="to")] = None) -> Rows:
        """Daily CSAT and NPS: for one survey type and channel with 7-day rolling averages, or over
        every survey (from the daily report) when neither is given."""
        if survey_type is None and channel is None:
            rows = dated(c, "daily_report", "date", "date, responses, avg_csat, nps", start, end,
                         "responses > 0")
        elif survey_type is None or channel is None:
            raise ApiError(400, "bad_request", "give both survey_type and channel, or neither")
        else:
            rows = dated(c, "cx_daily", "date", "date, responses, avg_csat, nps, rolling_7d_responses, "
                         "rolling_7d_avg_csat, rolling_7d_nps", start, end, "survey_type = ? AND channel = ?",
                         (survey_type, channel))
        return Rows(items=rows)

    @app.get(f"{PREFIX}/reports/daily", response_model=Page, tags=["reports"])
    def daily_report(request: Request, c: Who, start: Annotated[date | None, Query(alias="from")] = None,
                     end: Annotated[date | None, Query(alias="to")] = None, limit: Limit = None,
                     after: Annotated[date | None, Query(description="The next_after of the previous page.")] = None,
                     ) -> Page:
        """The daily report (sales, customers, traffic, CX), oldest first."""
        n = limit_of(limit)
        rows = dated(c, "daily_report", "date", "*", start, end, "date > ?" if after else "",
                     (after,) if after else (), limit=n + 1)
        return page(request, rows, n, "date")

    @app.get(f"{PREFIX}/reports/monthly", response_model=Rows, tags=["reports"])
    def monthly_report(c: Who, start: Annotated[date | None, Query(alias="from")] = None,
                       end: Annotated[date | None, Query(alias="to")] = None) -> Rows:
        """The monthly report, oldest first."""
        return Rows(items=dated(c, "monthly_report", "month", "*", start, end))

    @app.get(f"{PREFIX}/products/top", response_model=Rows, tags=["analytics"])
    def top_products(c: Who, limit: Annotated[int, Query(ge=1, le=100)] = 10,
                     by: Literal["revenue", "units", "lines", "customers"] = "revenue",
                     category: Annotated[str | None, Query(max_length=64)] = None) -> Rows:
        """The best-selling products, overall or in one category."""
        where, params = ("WHERE category = ?", [category]) if category else ("", [])
        rows = q(c, f"SELECT * FROM {rel(c, 'product_sales')} {where} ORDER BY {by} DESC, product_id LIMIT ?",
                 [*params, limit])
        return Rows(items=rows)

    @app.get(f"{PREFIX}/quality/scorecard", response_model=Rows, tags=["status"])
    def quality(c: Who, status: Literal["PASS", "FAILED", "NOT RUN"] | None = None) -> Rows:
        """The data-quality scorecard of the lake's tables (as of the last serve load)."""
        rows = q(c, f"SELECT * FROM {rel(c, 'dq_scorecard')}" + (" WHERE status = ?" if status else "")
                 + " ORDER BY table_id", [status] if status else [])
        for r in rows:
            for k in ("dimensions", "failing_rules"):
                if isinstance(r.get(k), str):
                    r[k] = json.loads(r[k])
        return Rows(items=rows)

    @app.get(f"{PREFIX}/runs", response_model=Rows, tags=["status"])
    def runs(c: Who, limit: Annotated[int, Query(ge=1, le=200)] = 20,
             status: Literal["RUNNING", "SUCCESS", "FAILED"] | None = None) -> Rows:
        """The recent pipeline runs, newest first (as of the last serve load)."""
        where = " WHERE status = ?" if status else ""
        rows = q(c, f"SELECT * FROM {rel(c, 'run_history')}{where} ORDER BY started_at DESC, run_id DESC LIMIT ?",
                 [*([status] if status else []), limit])
        return Rows(items=rows)

    @app.get(f"{PREFIX}/runs/{{run_id}}", response_model=Rows, tags=["status"],
             responses={404: {"model": ErrorBody}})
    def run(c: Who, run_id: Annotated[str, PathParam(max_length=64)]) -> Rows:
        """One run."""
        rows = q(c, f"SELECT * FROM {rel(c, 'run_history')} WHERE run_id = ?", [run_id])
        if not rows:
            raise ApiError(404, "not_found", f"no run {run_id}")
        return Rows(items=rows)

    # ---------------------------------------------------------------- the dashboard
    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse("/dashboard/")

    app.mount("/dashboard", StaticFiles(directory=DASHBOARD, html=True), name="dashboard")
    return app


def _check_person(value: str) -> str:
    if not _PERSON_ID.match(value):
        raise ApiError(400, "bad_request", "person_id must be 1-64 letters, digits or . _ : -")
    return value


def _normal_email(value: str) -> str:
    v = value.strip().lower()
    if v.count("@") != 1 or " " in v or len(v) < 3:
        raise ApiError(400, "bad_request", "email must be one address like name@example.com")
    return v


def _normal_phone(value: str) -> str:
    # the rule silver stored phones with (lake/standardise.py), so a lookup finds what was stored
    e164 = e164_one(value, None)
    if e164 is None:
        raise ApiError(400, "bad_request", "phone must be a possible number in international format, "
                                           "e.g. +4930123456")
    return e164


def _like_prefix(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
