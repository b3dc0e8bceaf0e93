"""The ledger: upstream's balance reads against the gateway's charges, per UTC day, on SQLite and
PostgreSQL; another user of the same FaceCheck account shows up as drift, in the report, the gauge
and the command line alike."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import requests

from tests.fixtures.api import search, upload
from tests.fixtures.images import make_image
from tests.fixtures.scrape import scrape
from tests.fixtures.stack import UPSTREAM_TOKEN, Stack


def ledger(stack: Stack, **params: Any) -> dict[str, Any]:
    response = stack.admin("GET", "/admin/ledger", params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def spend_directly(stack: Stack, seed: int) -> None:
    """Someone else with the company's FaceCheck token runs a search, bypassing the gateway."""
    auth = {"Authorization": UPSTREAM_TOKEN}
    files = [("images", ("x.jpg", make_image(seed), "image/jpeg"))]
    uploaded = requests.post(stack.sandbox.base_url + "/api/upload_pic", files=files, headers=auth, timeout=10)
    submitted = requests.post(stack.sandbox.base_url + "/api/search", json={"id_search": uploaded.json()["id_search"]},
                              headers=auth, timeout=10)
    assert submitted.json()["error"] is None, submitted.text


def test_ledger_balances_then_shows_another_account_user_as_drift(stack: Stack) -> None:
    key = stack.new_tenant("ledger")[1]
    base = ledger(stack)
    today = datetime.now(UTC).date().isoformat()
    assert base["days"][-1]["day"] == today and len(base["days"]) == 7
    sid = upload(stack, key, make_image(801))["id_search"]
    assert search(stack, key, sid, with_progress=False)["output"] is not None
    after = ledger(stack)
    moved = {k: after[k] - base[k] for k in ("upstream_spent", "gateway_charged", "gateway_held", "drift")}
    assert moved == {"upstream_spent": 3, "gateway_charged": 3, "gateway_held": 0, "drift": 0}
    assert after["days"][-1]["balance_reads"] > base["days"][-1]["balance_reads"]

    spend_directly(stack, 802)
    drifted = ledger(stack)
    assert drifted["drift"] - base["drift"] == 3 and drifted["gateway_charged"] == after["gateway_charged"]
    day = drifted["days"][-1]
    assert day["drift"] == day["upstream_spent"] - day["gateway_charged"] - day["gateway_held"]
    assert scrape(stack.url).value("facecheck_gateway_ledger_drift_credits") == drifted["drift"]
    # The command line prints the same report from the reads the gateway recorded.
    printed = stack.cli_json("ledger")
    assert (printed["drift"], printed["days"]) == (drifted["drift"], drifted["days"])
    assert stack.cli_json("ledger", "--days", "2")["since"] == drifted["days"][-2]["day"]


def test_ledger_days_are_bounded(stack: Stack) -> None:
    assert len(ledger(stack, days=1)["days"]) == 1
    for bad in ("0", "367", "x"):
        response = stack.admin("GET", "/admin/ledger", params={"days": bad})
        assert response.status_code == 422 and response.json()["code"] == "VALIDATION_ERROR", response.text
