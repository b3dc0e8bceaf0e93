"""delete_pic, info and the offline switch."""

from __future__ import annotations

from tests.fixtures.contract import validate, validate_envelope
from tests.fixtures.images import make_image
from tests.fixtures.sandbox_app import AUTH, Sandbox, SandboxFactory

OFFLINE = "Search engine is offline."


async def test_delete_removes_one_image(sandbox: Sandbox) -> None:
    upload = await sandbox.upload(make_image(1), make_image(2))
    id_search = upload["id_search"]
    first, second = (pic["id_pic"] for pic in upload["input"])
    body = await sandbox.delete(id_search, first)
    validate_envelope(body)
    assert body["message"] == "Image deleted."
    assert body["error"] is None
    assert [pic["id_pic"] for pic in body["input"]] == [second]
    again = await sandbox.delete(id_search, first)
    assert again["code"] == "EXCEPTION" and again["id_search"] == id_search
    assert (await sandbox.stats())["deletes"] == 1


async def test_delete_unknown_search_or_missing_params(sandbox: Sandbox) -> None:
    unknown = await sandbox.delete("nope00-AAAAAAAAAAAAAAAAA", "x")
    assert unknown["error"] == "Search request not found"
    bare = await sandbox.client.post("/api/delete_pic", headers=AUTH)
    assert bare.status_code == 200 and bare.json()["code"] == "EXCEPTION"
    validate_envelope(bare.json())


async def test_delete_after_completion_is_allowed(sandbox: Sandbox) -> None:
    """Careful clients delete their photos once done; the finished result stays readable."""
    upload = await sandbox.upload(make_image(1))
    id_search = upload["id_search"]
    await sandbox.search(id_search)
    sandbox.clock.advance(10)
    before = await sandbox.search(id_search)
    assert (await sandbox.delete(id_search, upload["input"][0]["id_pic"]))["input"] == []
    assert await sandbox.search(id_search) == before


async def test_info_has_exactly_the_four_keys(sandbox: Sandbox) -> None:
    info = await sandbox.info()
    assert info == {
        "remaining_credits": 1000,
        "has_credits_to_search": True,
        "is_online": True,
        "faces": 212417831,
    }
    validate(info, "InfoResponse")
    await sandbox.search((await sandbox.upload(make_image(1)))["id_search"])
    assert (await sandbox.info())["remaining_credits"] == 997
    assert (await sandbox.stats())["info_calls"] == 2


async def test_offline(make_sandbox: SandboxFactory) -> None:
    sandbox = make_sandbox(offline=True)
    info = await sandbox.info()
    assert info["is_online"] is False
    validate(info, "InfoResponse")
    responses = [
        await sandbox.upload(make_image(1)),
        await sandbox.search("abcdef-AAAAAAAAAAAAAAAAA"),
        await sandbox.delete("abcdef-AAAAAAAAAAAAAAAAA", "x"),
    ]
    for body in responses:
        validate_envelope(body)
        assert (body["error"], body["code"]) == (OFFLINE, "EXCEPTION")


async def test_going_offline_mid_search(sandbox: Sandbox) -> None:
    id_search = (await sandbox.upload(make_image(1)))["id_search"]
    await sandbox.search(id_search)
    await sandbox.configure(offline=True)
    assert (await sandbox.search(id_search))["error"] == OFFLINE
    await sandbox.configure(offline=False)
    assert (await sandbox.search(id_search))["error"] is None
