"""With default knobs every answer matches the contract, and results are deterministic."""

from __future__ import annotations

from typing import Any

from tests.fixtures.contract import validate, validate_envelope
from tests.fixtures.images import make_image
from tests.fixtures.sandbox_app import AUTH, Sandbox, SandboxFactory


async def test_every_default_response_validates(make_sandbox: SandboxFactory) -> None:
    sandbox = make_sandbox(queue_seconds=1.0, search_seconds=2.0)
    bodies: list[dict[str, Any]] = []
    upload = await sandbox.upload(make_image(1))
    id_search = upload["id_search"]
    bodies.append(upload)
    bodies.append(await sandbox.upload(make_image(2), id_search=id_search))
    bodies.append(await sandbox.search(id_search, status_only=True))
    bodies.append(await sandbox.search(id_search))  # queued
    sandbox.clock.advance(2.0)
    bodies.append(await sandbox.search(id_search))  # searching
    sandbox.clock.advance(2.0)
    done = await sandbox.search(id_search)
    assert done["output"] is not None
    bodies.append(done)
    bodies.append(await sandbox.delete(id_search, upload["input"][0]["id_pic"]))
    bodies.append(await sandbox.search("nope00-AAAAAAAAAAAAAAAAA"))
    bodies.append((await sandbox.client.post("/api/search", headers={"Authorization": "x"})).json())

    demo = await sandbox.upload(make_image(3))
    await sandbox.search(demo["id_search"], demo=True)
    sandbox.clock.advance(10)
    bodies.append(await sandbox.search(demo["id_search"]))

    for body in bodies:
        validate_envelope(body)
        assert list(body) == ["id_search", "message", "progress", "error", "code", "input", "output"]
    validate(await sandbox.info(), "InfoResponse")


async def test_failed_search_validates(make_sandbox: SandboxFactory) -> None:
    sandbox = make_sandbox(error_rate=1.0)
    id_search = (await sandbox.upload(make_image(1)))["id_search"]
    await sandbox.search(id_search)
    sandbox.clock.advance(10)
    validate_envelope(await sandbox.search(id_search))


async def output_for(sandbox: Sandbox, *seeds: int, demo: bool = False) -> dict[str, Any]:
    upload = await sandbox.upload(*(make_image(seed) for seed in seeds))
    await sandbox.search(upload["id_search"], demo=demo)
    sandbox.clock.advance(10)
    output: dict[str, Any] = (await sandbox.search(upload["id_search"]))["output"]
    return output


async def test_same_images_give_the_same_output(make_sandbox: SandboxFactory) -> None:
    first = make_sandbox()
    reference = await output_for(first, 1, 2)
    assert await output_for(first, 2, 1) == reference  # order of upload does not matter
    assert await output_for(make_sandbox(), 1, 2) == reference  # nor does the instance
    assert await output_for(first, 1, 3) != reference
    assert await output_for(first, 1, 2, demo=True) != reference
    assert await output_for(make_sandbox(seed=1), 1, 2) != reference


async def test_appended_images_count_like_one_upload(sandbox: Sandbox) -> None:
    reference = await output_for(sandbox, 4, 5)
    upload = await sandbox.upload(make_image(4))
    await sandbox.upload(make_image(5), id_search=upload["id_search"])
    response = await sandbox.client.post(
        "/api/search", json={"id_search": upload["id_search"], "with_progress": False}, headers=AUTH
    )
    assert response.json()["output"] == reference
