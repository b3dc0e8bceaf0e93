"""Every metric the gateway exposes, defined here and nowhere else.

Labels are bounded on purpose: the route *template* (never the raw path), the tenant *name* (there
are as many as an operator creates), fixed sets of methods, outcomes and error codes. Never a key,
an id_search or a query string. Series that multi-worker mode must combine say how
(`multiprocess_mode`): counters and histograms are summed over workers automatically.

The features that own a metric move it through the objects below: the quota engine (credits, quota
rejections), the search tracker (searches in flight and unresolved), the result cache (hits,
misses, coalesced polls, credits saved), the audit writer (spool depth, events per commit), the
circuit breaker (circuit state) and the ledger (drift).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from prometheus_client import Counter, Gauge, Histogram, disable_created_metrics
from prometheus_client.metrics import MetricWrapperBase

from app.errors import (
    ConcurrencyLimited,
    DailyLimit,
    DemoOnly,
    GatewayError,
    NoCredits,
    QuotaExceeded,
    RateLimited,
)

PREFIX = "facecheck_gateway_"
# Refusals by a limit or budget, counted as quota rejections (the codes come from the error classes).
QUOTA_CODES = frozenset(
    e.code for e in (QuotaExceeded, DailyLimit, RateLimited, ConcurrencyLimited, NoCredits, DemoOnly)
)
NO_TENANT = "-"  # requests with no authenticated tenant; tenant names start with a letter or digit
OTHER = "other"
UPSTREAM_OTHER_CODE = "UPSTREAM_OTHER"
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# The only error code the upstream has been seen to send in-band (see UPSTREAM.md).
_UPSTREAM_CODES = frozenset({"EXCEPTION"})

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
_OVERHEAD_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)

UpstreamEndpoint = Literal["upload_pic", "search", "search_status", "delete_pic", "info"]
UpstreamOutcome = Literal["ok", "error", "http_error", "bad_answer", "timeout", "unavailable"]
# How a gauge combines over worker processes ("live" ones forget workers that have exited).
GaugeMode = Literal["liveall", "livesum", "livemax", "mostrecent", "livemostrecent"]

DEFINED: list[MetricWrapperBase] = []
# `_created` companions would double the output; Prometheus does not need them for rate().
disable_created_metrics()  # type: ignore[no-untyped-call]


def _counter(name: str, doc: str, labels: Sequence[str] = ()) -> Counter:
    metric = Counter(PREFIX + name, doc, labels)
    DEFINED.append(metric)
    return metric


def _gauge(name: str, doc: str, mode: GaugeMode, labels: Sequence[str] = ()) -> Gauge:
    metric = Gauge(PREFIX + name, doc, labels, multiprocess_mode=mode)
    DEFINED.append(metric)
    return metric


def _histogram(name: str, doc: str, labels: Sequence[str], buckets: Sequence[float]) -> Histogram:
    metric = Histogram(PREFIX + name, doc, labels, buckets=buckets)
    DEFINED.append(metric)
    return metric


# -- HTTP surface (the request middleware) ---------------------------------------------------------
REQUESTS = _counter("requests_total", "Requests served.", ("route", "method", "status", "tenant"))
ERRORS = _counter(
    "errors_total", "Requests answered with an error envelope, by code (errors are HTTP 200 in compat mode).",
    ("route", "code", "tenant"),
)  # fmt: skip
REQUEST_DURATION = _histogram(
    "request_duration_seconds", "Time from request to response end.", ("route",), _LATENCY_BUCKETS
)
GATEWAY_OVERHEAD = _histogram(
    "gateway_overhead_seconds", "Request duration minus the time spent waiting on upstream.",
    ("route",), _OVERHEAD_BUCKETS,
)  # fmt: skip
WORKER_REQUESTS = _gauge(
    "worker_requests", "Requests served by each live worker process, by route (pid label with several workers).",
    "liveall", ("route",),
)  # fmt: skip

# -- upstream (app/upstream/client.py) --------------------------------------------------------------
UPSTREAM_REQUESTS = _counter(
    "upstream_requests_total", "Calls to the FaceCheck upstream, each attempt counted.", ("endpoint", "outcome")
)
UPSTREAM_DURATION = _histogram(
    "upstream_request_duration_seconds", "Duration of one upstream call attempt.", ("endpoint",), _LATENCY_BUCKETS
)
UPSTREAM_BALANCE = _gauge(
    "upstream_balance_credits", "Credits left on the company's FaceCheck account, from the last /api/info answer.",
    "mostrecent",
)  # fmt: skip
UPSTREAM_FACES = _gauge(
    "upstream_indexed_faces", "Faces in the upstream index, from the last /api/info answer.", "mostrecent"
)
CIRCUIT_STATE = _gauge(
    "circuit_state", "Upstream circuit breaker: 0 closed, 1 half-open, 2 open (set by the circuit breaker).",
    "livemax",
)  # fmt: skip

LEDGER_DRIFT = _gauge(
    "ledger_drift_credits",
    "Credits upstream's balance dropped by minus credits the gateway charged and holds, over LEDGER_DAYS days "
    "(set by the ledger; positive: upstream took credits the gateway did not account for).",
    "mostrecent",
)  # fmt: skip

# -- searches (app/facecheck/service.py) -----------------------------------------------------------
SEARCHES_SUBMITTED = _counter("searches_submitted_total", "Searches started upstream.", ("tenant", "demo"))
SEARCHES_FINISHED = _counter("searches_finished_total", "Searches that ended with a result.", ("tenant", "demo"))
SEARCHES_FAILED = _counter("searches_failed_total", "Searches that ended with an upstream error.", ("tenant", "demo"))
SEARCHES_IN_FLIGHT = _gauge(
    "searches_in_flight", "Searches upstream and not finished (set by the search tracker).", "mostrecent"
)
SEARCHES_UNRESOLVED = _gauge(
    "searches_unresolved",
    "Searches upstream never said the outcome of before UNRESOLVED_AFTER_HOURS: credits held, an operator "
    "must settle them (set by the search tracker).",
    "mostrecent",
)  # fmt: skip

# -- credits and quotas (set by the search tracker from the database) -------------------------------------------------
CREDITS_RESERVED = _counter("credits_reserved_total", "Credits reserved before a submit.", ("tenant",))
CREDITS_CHARGED = _counter("credits_charged_total", "Reserved credits committed when a search finished.", ("tenant",))
CREDITS_REFUNDED = _counter("credits_refunded_total", "Reserved credits given back after a failure.", ("tenant",))
QUOTA_REJECTIONS = _counter("quota_rejections_total", "Requests refused by a limit or budget.", ("tenant", "code"))

# -- result cache (app/cache, app/facecheck/sharing.py)---------------------------------------------
CACHE_HITS = _counter("cache_hits_total", "Searches answered from the result cache.", ("tenant",))
CACHE_MISSES = _counter("cache_misses_total", "Searches the cache could not answer.", ("tenant",))
CACHE_COALESCED = _counter(
    "cache_coalesced_total", "Answers served by another caller's upstream call (attached searches, shared polls).",
    ("tenant",),
)
CACHE_EVICTIONS = _counter(
    "cache_evictions_total", "Results dropped from the in-process cache to stay within CACHE_MAX_BYTES."
)
CACHE_CREDITS_SAVED = _counter(
    "cache_credits_saved_total", "Credits not spent thanks to cache hits and attached searches.", ("tenant",)
)

# -- dependencies and the audit writer ------------------------------------------------------------
AUDIT_SPOOL_DEPTH = _gauge(
    "audit_spool_depth", "Audit events waiting in the durable spool (set by the audit writer).", "livesum"
)
AUDIT_COMMIT_EVENTS = _histogram(
    "audit_commit_events", "Audit events written by each group commit (one transaction) of the audit writer.",
    (), (1, 2, 5, 10, 20, 50, 100, 200),
)  # fmt: skip
DATABASE_UP = _gauge("database_up", "1 when the last check reached the database, else 0.", "livemostrecent")
REDIS_UP = _gauge(
    "redis_up", "1 when the last check reached Redis, else 0 (also 0 when REDIS_URL is not set).", "livemostrecent"
)

# -- tenant budgets (app/notify, from the database on every replica: aggregate with max by tenant) -------
TENANT_BUDGET_USED = _gauge(
    "tenant_budget_used_ratio", "Credits charged this month over the tenant's monthly budget (tenants with one).",
    "livemax", ("tenant",),
)  # fmt: skip


# -- label helpers ---------------------------------------------------------------------------------
def tenant_label(name: str | None) -> str:
    return name or NO_TENANT


def method_label(method: str) -> str:
    return method if method in _METHODS else OTHER


def _gateway_codes(cls: type[GatewayError] = GatewayError) -> set[str]:
    codes = {cls.code}
    for sub in cls.__subclasses__():
        codes |= _gateway_codes(sub)
    return codes


def code_label(code: str) -> str:
    """Upstream codes pass through to clients, so bound them: known codes only."""
    return code if code in _UPSTREAM_CODES or code in _gateway_codes() else UPSTREAM_OTHER_CODE


# -- recording helpers (one call per event at the call site) ---------------------------------------
# Every request moves these series; looking each child up by its labels once, not per request, is a
# measurable share of a cheap request's cost. Both maps are bounded as the labels are.
_REQUEST_COUNTERS: dict[tuple[str, str, str, str], Any] = {}
_ROUTE_SERIES: dict[str, tuple[Any, Any, Any]] = {}


def observe_request(
    *, route: str, method: str, status: int, tenant: str | None, duration: float, overhead: float,
    error_code: str | None,
) -> None:  # fmt: skip
    tenant = tenant_label(tenant)
    if tenant not in _BORN:
        tenant_series(tenant)
    counter_key = (route, method_label(method), str(status), tenant)
    if (counter := _REQUEST_COUNTERS.get(counter_key)) is None:
        counter = _REQUEST_COUNTERS[counter_key] = REQUESTS.labels(*counter_key)
    counter.inc()
    if (per_route := _ROUTE_SERIES.get(route)) is None:
        per_route = _ROUTE_SERIES[route] = (
            REQUEST_DURATION.labels(route=route), GATEWAY_OVERHEAD.labels(route=route),
            WORKER_REQUESTS.labels(route=route),
        )  # fmt: skip
    per_route[0].observe(duration)
    per_route[1].observe(overhead)
    per_route[2].inc()
    if error_code is not None:
        ERRORS.labels(route=route, code=code_label(error_code), tenant=tenant).inc()
        if error_code in QUOTA_CODES:
            QUOTA_REJECTIONS.labels(tenant=tenant, code=error_code).inc()


def observe_upstream(endpoint: UpstreamEndpoint, outcome: UpstreamOutcome, seconds: float) -> None:
    UPSTREAM_REQUESTS.labels(endpoint=endpoint, outcome=outcome).inc()
    UPSTREAM_DURATION.labels(endpoint=endpoint).observe(seconds)


def observe_info(body: dict[str, Any]) -> None:
    """Balance and index size from an /api/info answer (ignored when a field is missing or odd)."""
    for gauge, key in ((UPSTREAM_BALANCE, "remaining_credits"), (UPSTREAM_FACES, "faces")):
        value = body.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            gauge.set(value)


def search_submitted(tenant: str, demo: bool, credits: int) -> None:
    """A search went upstream holding `credits` (its reservation)."""
    SEARCHES_SUBMITTED.labels(tenant=tenant, demo=_flag(demo)).inc()
    CREDITS_RESERVED.labels(tenant=tenant).inc(credits)


def search_ended(tenant: str, finished: bool, demo: bool, credits: int) -> None:
    """A search settled: finished (its credits charged) or failed (refunded). Called once per search,
    by whichever request or tracker round moved it; the tenant is explicit because the tracker
    settles searches outside any request."""
    if finished:
        SEARCHES_FINISHED.labels(tenant=tenant, demo=_flag(demo)).inc()
        CREDITS_CHARGED.labels(tenant=tenant).inc(credits)
    else:
        SEARCHES_FAILED.labels(tenant=tenant, demo=_flag(demo)).inc()
        CREDITS_REFUNDED.labels(tenant=tenant).inc(credits)


def cache_outcome(tenant: str, outcome: str) -> None:
    """One /api/search answer's cache outcome: a new search answered from the cache (hit), a new
    search that went upstream (miss), or an answer another caller's upstream call provided
    (coalesced: an attached search, or a poll served from the shared status)."""
    counter = {"hit": CACHE_HITS, "miss": CACHE_MISSES, "coalesced": CACHE_COALESCED}.get(outcome)
    if counter is not None:
        counter.labels(tenant=tenant).inc()


def credits_saved(tenant: str, credits: int) -> None:
    if credits > 0:
        CACHE_CREDITS_SAVED.labels(tenant=tenant).inc(credits)


# Tenants whose per-tenant series exist already in this process.
_BORN: set[str] = {NO_TENANT}  # no tenant: nothing per tenant to create
_BORN_ROUTES = ("/api/upload_pic", "/api/search")


def tenant_series(tenant: str) -> None:
    """Create every per-tenant counter series at 0. A series born at its first count loses that
    count to rate() and increase(); born at 0 and scraped once, the first event shows."""
    if tenant in _BORN:
        return
    _BORN.add(tenant)
    for counter in (CREDITS_RESERVED, CREDITS_CHARGED, CREDITS_REFUNDED, CACHE_HITS, CACHE_MISSES, CACHE_COALESCED,
                    CACHE_CREDITS_SAVED):
        counter.labels(tenant=tenant)
    for counter in (SEARCHES_SUBMITTED, SEARCHES_FINISHED, SEARCHES_FAILED):
        for demo in ("true", "false"):
            counter.labels(tenant=tenant, demo=demo)
    for code in QUOTA_CODES:
        QUOTA_REJECTIONS.labels(tenant=tenant, code=code)
        ERRORS.labels(route="/api/search", code=code, tenant=tenant)
    for route in _BORN_ROUTES:
        REQUESTS.labels(route=route, method="POST", status="200", tenant=tenant)


def set_up(gauge: Gauge, up: bool) -> None:
    gauge.set(1 if up else 0)


def _flag(value: bool) -> str:
    return "true" if value else "false"
