"""/api/search: submit, queue, progress, completion, charging and refusals, all on a fake clock."""

from __future__ import annotations

from typing import Any

import pytest

from tests.fixtures.contract import validate_envelope
from tests.fixtures.images import make_image
from tests.fixtures.sandbox_app import AUTH, Sandbox, SandboxFactory

POLL = {"with_progress": True, "status_only": False, "demo": False}


async def new_search(sandbox: Sandbox, *seeds: int) -> str:
    body = await sandbox.upload(*(make_image(seed) for seed in seeds or (1,)))
    id_search: str = body["id_search"]
    return id_search


async def test_queue_progress_then_final(make_sandbox: SandboxFactory) -> None:
    sandbox = make_sandbox(queue_seconds=2.0, search_seconds=4.0)
    first = await new_search(sandbox, 1)
    second = await new_search(sandbox, 2)

    queued = await sandbox.search(first, **POLL)
    assert queued["message"] == "Waiting in queue. Position: 1"
    assert (queued["progress"], queued["output"], queued["error"]) == (0, None, None)
    sandbox.clock.advance(0.5)
    behind = await sandbox.search(second, **POLL)
    assert behind["message"] == "Waiting in queue. Position: 2"

    seen: list[int] = []
    for _ in range(11):  # t = 0.5 .. 5.5 in steps of 0.5 for the first search
        body = await sandbox.search(first, **POLL)
        validate_envelope(body)
        assert body["output"] is None
        assert 0 <= body["progress"] <= 99
        seen.append(body["progress"])
        sandbox.clock.advance(0.5)
    assert seen == sorted(seen) and seen[-1] > 80
    assert any(progress == 0 for progress in seen[:3])
    assert (await sandbox.search(second, **POLL))["message"] == "Searching..."

    sandbox.clock.advance(0.5)  # t = 6.0: queue + search seconds
    done = await sandbox.search(first, **POLL)
    validate_envelope(done)
    assert done["message"] == "Search completed."
    assert done["progress"] == 100
    assert done["error"] is None
    items = done["output"]["items"]
    assert 5 <= len(items) <= 20
    assert [i["score"] for i in items] == sorted((i["score"] for i in items), reverse=True)
    assert done["output"]["max_score"] == items[0]["score"]
    assert done["output"]["searchedFaces"] == 212417831
    assert done["output"]["images_in_bundle"] == 1
    assert done["output"]["demo"] is False
    assert (await sandbox.search(first, **POLL)) == done


async def test_queue_position_moves_up(make_sandbox: SandboxFactory) -> None:
    sandbox = make_sandbox(queue_seconds=2.0)
    ids = [await new_search(sandbox, seed) for seed in range(3)]
    for id_search in ids:
        await sandbox.search(id_search)
        sandbox.clock.advance(0.75)
    # t = 2.25 after the first submit: the first has left the queue, the others moved up.
    assert (await sandbox.search(ids[1], status_only=True))["message"] == "Waiting in queue. Position: 1"
    assert (await sandbox.search(ids[2], status_only=True))["message"] == "Waiting in queue. Position: 2"


async def test_repeated_submit_is_a_status_check_and_not_charged(sandbox: Sandbox) -> None:
    id_search = await new_search(sandbox)
    for _ in range(5):
        await sandbox.search(id_search, **POLL)
    assert (await sandbox.info())["remaining_credits"] == 997
    stats = await sandbox.stats()
    assert (stats["search_submits"], stats["duplicate_submits"], stats["status_polls"]) == (1, 4, 4)


async def test_status_only_never_submits(sandbox: Sandbox) -> None:
    id_search = await new_search(sandbox)
    for _ in range(3):
        body = await sandbox.search(id_search, status_only=True)
        validate_envelope(body)
        assert body["message"] == "Search not submitted yet."
        assert (body["progress"], body["output"], body["error"]) == (None, None, None)
        sandbox.clock.advance(100)
    assert (await sandbox.info())["remaining_credits"] == 1000
    assert (await sandbox.stats())["search_submits"] == 0


async def test_missing_flags_take_upstream_defaults(sandbox: Sandbox) -> None:
    """Only id_search: submits (status_only false), charges (demo false), returns at once."""
    id_search = await new_search(sandbox)
    body = await sandbox.search(id_search)
    assert body["message"].startswith("Waiting in queue. ")
    assert sandbox.clock.slept == []
    assert (await sandbox.info())["remaining_credits"] == 997
    nulls = await sandbox.search(await new_search(sandbox, 2), with_progress=None, status_only=None, demo=None)
    assert nulls["progress"] == 0 and sandbox.clock.slept == []


async def test_demo_is_free_and_poorer(sandbox: Sandbox) -> None:
    id_search = await new_search(sandbox)
    await sandbox.search(id_search, demo=True)
    sandbox.clock.advance(10)
    body = await sandbox.search(id_search, demo=True)
    output = body["output"]
    assert output["demo"] is True
    assert output["searchedFaces"] == 100_000
    assert 1 <= len(output["items"]) <= 6
    assert output["max_score"] <= 78
    assert (await sandbox.info())["remaining_credits"] == 1000


async def test_credits_exhausted(make_sandbox: SandboxFactory) -> None:
    sandbox = make_sandbox(initial_credits=5)
    await sandbox.search(await new_search(sandbox, 1))
    info = await sandbox.info()
    assert (info["remaining_credits"], info["has_credits_to_search"]) == (2, False)
    poor = await new_search(sandbox, 2)
    refused = await sandbox.search(poor)
    assert refused["error"] == "Not enough credits"
    assert refused["code"] == "EXCEPTION"
    assert refused["id_search"] == poor
    validate_envelope(refused)
    sandbox.clock.advance(100)
    assert (await sandbox.search(poor, status_only=True))["message"] == "Search not submitted yet."
    assert (await sandbox.search(poor, demo=True))["error"] is None  # demo needs no credits
    assert (await sandbox.stats())["search_submits"] == 2


async def test_failing_search_errors_at_the_end_and_refunds(make_sandbox: SandboxFactory) -> None:
    sandbox = make_sandbox(error_rate=1.0)
    id_search = await new_search(sandbox)
    running = await sandbox.search(id_search)
    assert running["error"] is None
    assert (await sandbox.info())["remaining_credits"] == 997
    sandbox.clock.advance(4.0)
    for _ in range(2):
        failed = await sandbox.search(id_search)
        validate_envelope(failed)
        assert (failed["error"], failed["code"], failed["id_search"]) == ("Search failed.", "EXCEPTION", id_search)
        assert failed["output"] is None
    assert (await sandbox.info())["remaining_credits"] == 1000
    stats = await sandbox.stats()
    assert (stats["failed_searches"], stats["credits_spent"], stats["search_submits"]) == (1, 0, 1)


async def test_refund_happens_when_the_run_ends_even_unpolled(make_sandbox: SandboxFactory) -> None:
    sandbox = make_sandbox(error_rate=1.0)
    await sandbox.search(await new_search(sandbox))
    sandbox.clock.advance(4.0)
    assert (await sandbox.info())["remaining_credits"] == 1000


async def test_without_progress_waits_until_final(make_sandbox: SandboxFactory) -> None:
    sandbox = make_sandbox(queue_seconds=1.0, search_seconds=3.0)
    id_search = await new_search(sandbox)
    start = sandbox.clock.now
    body = await sandbox.search(id_search, with_progress=False)
    assert body["progress"] == 100 and body["output"] is not None
    assert 4.0 <= sandbox.clock.now - start < 4.2
    assert all(step <= 0.1 + 1e-9 for step in sandbox.clock.slept)


async def test_without_progress_wait_is_capped(make_sandbox: SandboxFactory) -> None:
    sandbox = make_sandbox(queue_seconds=0.0, search_seconds=30.0, max_wait_seconds=2.0)
    id_search = await new_search(sandbox)
    start = sandbox.clock.now
    body = await sandbox.search(id_search, with_progress=False)
    assert body["output"] is None
    assert body["message"] == "Searching..." and 0 < body["progress"] < 99
    assert sandbox.clock.now - start == pytest.approx(2.0)


async def test_without_progress_on_unsubmitted_status_only_returns_at_once(sandbox: Sandbox) -> None:
    id_search = await new_search(sandbox)
    body = await sandbox.search(id_search, with_progress=False, status_only=True)
    assert body["message"] == "Search not submitted yet."
    assert sandbox.clock.slept == []


@pytest.mark.parametrize(
    "content_type", ["application/json", "text/json", "application/vnd.api+json", "text/plain", None]
)
async def test_body_is_json_whatever_the_content_type(sandbox: Sandbox, content_type: str | None) -> None:
    id_search = await new_search(sandbox)
    headers = dict(AUTH) if content_type is None else {**AUTH, "Content-Type": content_type}
    body = f'{{"id_search": "{id_search}", "with_progress": true, "status_only": false, "demo": false}}'
    response = await sandbox.client.post("/api/search", content=body.encode(), headers=headers)
    assert response.json()["message"] == "Waiting in queue. Position: 1"


@pytest.mark.parametrize(
    ("payload", "error"),
    [
        (b"{not json", "The request body is not valid JSON."),
        (b"[1, 2]", "The request body must be a JSON object."),
        (b"", "id_search is required."),
        (b'{"id_search": null}', "id_search is required."),
        (b'{"id_search": 42}', "id_search must be a string."),
        (b'{"id_search": "nope00-AAAAAAAAAAAAAAAAA"}', "Search request not found"),
    ],
)
async def test_bad_bodies_are_in_band_errors(sandbox: Sandbox, payload: bytes, error: str) -> None:
    response = await sandbox.client.post("/api/search", content=payload, headers=AUTH)
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    assert (body["error"], body["code"]) == (error, "EXCEPTION")
    validate_envelope(body)


async def test_bad_flag_type_is_refused(sandbox: Sandbox) -> None:
    id_search = await new_search(sandbox)
    body = await sandbox.search(id_search, demo="yes")
    assert body["error"] == "demo must be true, false or null."
    assert (await sandbox.stats())["search_submits"] == 0


async def test_search_with_every_image_deleted_is_refused(sandbox: Sandbox) -> None:
    upload = await sandbox.upload(make_image(1))
    await sandbox.delete(upload["id_search"], upload["input"][0]["id_pic"])
    body = await sandbox.search(upload["id_search"])
    assert body["error"] == "The search request has no images left."
    assert (await sandbox.info())["remaining_credits"] == 1000
