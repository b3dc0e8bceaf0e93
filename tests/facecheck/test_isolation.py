"""A search belongs to the tenant that uploaded it: any other tenant is told "not found"."""

from __future__ import annotations

import pytest

from tests.fixtures.api import delta, search, upload
from tests.fixtures.images import make_image
from tests.fixtures.stack import Stack


@pytest.fixture(scope="module")
def tenants(stack: Stack) -> tuple[str, str]:
    return stack.new_tenant("owner")[1], stack.new_tenant("other")[1]


def test_other_tenant_cannot_touch_a_search(stack: Stack, tenants: tuple[str, str]) -> None:
    alice, bob = tenants
    up = upload(stack, alice, make_image(201))
    sid, id_pic = up["id_search"], up["input"][0]["id_pic"]
    before = stack.stats()

    attempts = {
        "submit": search(stack, bob, sid),
        "status": search(stack, bob, sid, status_only=True),
        "wait": search(stack, bob, sid, with_progress=False),
        "delete": stack.post("/api/delete_pic", bob, params={"id_search": sid, "id_pic": id_pic}).json(),
        "append": upload(stack, bob, make_image(202), id_search=sid),
    }
    for what, body in attempts.items():
        assert body["code"] == "NOT_FOUND", (what, body)
        assert body["output"] is None and body["input"] is None, what
        assert body["id_search"] is None, what  # not even an echo of the id

    # Nothing reached upstream on bob's behalf, and alice's search is intact.
    moved = delta(before, stack.stats())
    assert moved["search_submits"] == moved["deletes"] == moved["uploads"] == moved["status_polls"] == 0
    final = search(stack, alice, sid, with_progress=False)
    assert final["error"] is None and final["progress"] == 100
    assert final["output"]["images_in_bundle"] == 1


def test_not_found_is_the_same_for_foreign_and_unknown_ids(stack: Stack, tenants: tuple[str, str]) -> None:
    alice, bob = tenants
    sid = upload(stack, alice, make_image(203))["id_search"]
    foreign = search(stack, bob, sid, status_only=True)
    unknown = search(stack, bob, "x" * len(sid), status_only=True)
    assert foreign == unknown
