"""Quota rejections: the documented HTTP status under API_ERROR_STATUS=http, 200 in compat mode, and
their RateLimit headers in both."""

from __future__ import annotations

import orjson
import pytest

from app.errors import (
    ConcurrencyLimited,
    DailyLimit,
    DemoOnly,
    GatewayError,
    NoCredits,
    QuotaExceeded,
    RateLimited,
    render_error,
)
from app.quotas.policy import QUOTA_EXCEEDED, Decision
from app.quotas.service import rate_headers

CASES = [(QuotaExceeded, 402), (NoCredits, 402), (DailyLimit, 429), (RateLimited, 429),
         (ConcurrencyLimited, 429), (DemoOnly, 403)]


@pytest.mark.parametrize(("error", "status"), CASES)
@pytest.mark.parametrize("http_status", [True, False])
def test_status_code_and_headers(error: type[GatewayError], status: int, http_status: bool) -> None:
    headers = rate_headers(Decision(error.code, limit=30, remaining=0, reset_seconds=12.2))
    response = render_error(error(headers=headers), path="/api/search", http_status=http_status)
    assert response.status_code == (status if http_status else 200)
    assert orjson.loads(response.body)["code"] == error.code
    assert response.headers["RateLimit-Limit"] == "30"
    assert response.headers["RateLimit-Remaining"] == "0"
    assert response.headers["RateLimit-Reset"] == response.headers["Retry-After"] == "13"


def test_an_allowed_decision_has_no_retry_after() -> None:
    headers = rate_headers(Decision(None, limit=30, remaining=27, reset_seconds=0.2))
    assert headers == {"RateLimit-Limit": "30", "RateLimit-Remaining": "27", "RateLimit-Reset": "1"}
    assert rate_headers(Decision(QUOTA_EXCEEDED)) == {}
