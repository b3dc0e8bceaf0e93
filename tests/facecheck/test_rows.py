"""A replica's memory of searches past submission: only the owner reads a held search, rows before
submission are never held, and the memory is bounded in size and age."""

from __future__ import annotations

from datetime import UTC, datetime

from app.facecheck.models import FINISHED, SUBMITTED, SUBMITTING, UPLOADED, Search
from app.facecheck.rows import SearchRows
from tests.fixtures.clock import ManualClock


def _search(search_id: str, status: str, tenant_id: str = "tenant-a") -> Search:
    return Search(id=search_id, upstream_id=f"up-{search_id}", tenant_id=tenant_id, key_id="k", status=status,
                  images=[{"id_pic": "p", "sha256": "0" * 64}], created_at=datetime(2026, 1, 1, tzinfo=UTC))


def test_only_the_owner_reads_a_held_search() -> None:
    rows = SearchRows(ManualClock())
    rows.keep(_search("s1", SUBMITTED))
    held = rows.get("s1", "tenant-a")
    assert held is not None and (held.upstream_id, held.status) == ("up-s1", SUBMITTED)
    assert rows.get("s1", "tenant-b") is None


def test_rows_before_submission_are_never_held_and_a_step_back_drops_one() -> None:
    rows = SearchRows(ManualClock())
    for status in (UPLOADED, SUBMITTING):
        rows.keep(_search(f"s-{status}", status))
        assert rows.get(f"s-{status}", "tenant-a") is None
    rows.keep(_search("s1", SUBMITTED))
    rows.keep(_search("s1", UPLOADED))
    assert rows.get("s1", "tenant-a") is None


def test_callers_get_copies_and_a_settled_search_replaces_the_held_one() -> None:
    rows = SearchRows(ManualClock())
    rows.keep(_search("s1", SUBMITTED))
    first = rows.get("s1", "tenant-a")
    assert first is not None
    first.status = FINISHED
    first.images.append({"id_pic": "q", "sha256": "1" * 64})
    again = rows.get("s1", "tenant-a")
    assert again is not None and again.status == SUBMITTED and len(again.images) == 1
    rows.keep(first)
    settled = rows.get("s1", "tenant-a")
    assert settled is not None and settled.status == FINISHED


def test_bounded_in_age_and_in_size() -> None:
    clock = ManualClock()
    rows = SearchRows(clock, max_rows=2, max_age=5.0)
    rows.keep(_search("s1", SUBMITTED))
    clock.advance(3.0)
    rows.keep(_search("s1", SUBMITTED))  # kept unchanged: its age still counts from the first read
    clock.advance(2.0)
    assert rows.get("s1", "tenant-a") is None
    for name in ("s2", "s3", "s4"):
        rows.keep(_search(name, FINISHED))
    assert rows.get("s2", "tenant-a") is None
    assert rows.get("s3", "tenant-a") is not None and rows.get("s4", "tenant-a") is not None
    rows.drop("s4")
    assert rows.get("s4", "tenant-a") is None
