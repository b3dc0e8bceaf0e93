"""A replica's short memory of searches past submission, so a status poll does not cost a database
round trip every time. A search's owner and upstream id never change once it is submitted, and its
status only moves forward (submitted -> finished | failed); rows before submission are never held
(their claim is decided in the database). Bounded in size and in age: another replica may settle a
held search, and this one then settles it again the idempotent way (as concurrent polls already do)
before the entry is dropped; the age bound caps how long a row removed elsewhere can still be read.
"""

from __future__ import annotations

from collections import OrderedDict

from sqlalchemy import inspect
from sqlalchemy.orm import Mapper

from app.clock import Clock
from app.facecheck.models import FAILED, FINISHED, SUBMITTED, Search

HELD = frozenset((SUBMITTED, FINISHED, FAILED))
MAX_ROWS = 10_000
MAX_AGE_SECONDS = 5.0
_MAPPER: Mapper[Search] = inspect(Search)
_COLUMNS = tuple(column.key for column in _MAPPER.column_attrs)


def _snapshot(search: Search) -> dict[str, object]:
    values = {name: getattr(search, name) for name in _COLUMNS}
    values["images"] = [dict(image) for image in values["images"] or []]
    return values


def _copy(values: dict[str, object]) -> Search:
    """A detached copy for a caller, who may change it (never the held values). Built the way a
    loaded row is (values set as already loaded, no change events): the constructor's event per
    attribute cost a tenth of a status poll's CPU."""
    search = _MAPPER.class_manager.new_instance()
    search.__dict__.update(values)
    search.__dict__["images"] = [dict(image) for image in search.images]
    return search


class SearchRows:
    def __init__(self, clock: Clock, *, max_rows: int = MAX_ROWS, max_age: float = MAX_AGE_SECONDS) -> None:
        self._clock = clock
        self._max_rows = max_rows
        self._max_age = max_age
        self._rows: OrderedDict[str, tuple[dict[str, object], float]] = OrderedDict()

    def get(self, search_id: str, tenant_id: str) -> Search | None:
        """The held search if it is this tenant's; None when not held (the caller asks the database,
        which says "not found" to any other tenant, so the cache never answers one it would not)."""
        found = self._rows.get(search_id)
        if found is None:
            return None
        search, deadline = found
        if deadline <= self._clock.monotonic():
            del self._rows[search_id]
            return None
        if search["tenant_id"] != tenant_id:
            return None
        return _copy(search)

    def keep(self, search: Search) -> None:
        """Hold a search read from the database or left by a call, if it is past submission."""
        if search.status not in HELD:
            self._rows.pop(search.id, None)
            return
        held = self._rows.get(search.id)
        if held is not None and held[0]["status"] == search.status:
            return  # unchanged: no copy, and its age still counts from the database read
        now = self._clock.monotonic()
        self._rows[search.id] = (_snapshot(search), now + self._max_age)
        self._rows.move_to_end(search.id)  # order of insertion is order of deadline: the oldest first
        # Expired rows go as new ones come, so memory follows the poll rate, not the day's traffic.
        while self._rows and (len(self._rows) > self._max_rows or next(iter(self._rows.values()))[1] <= now):
            self._rows.popitem(last=False)

    def drop(self, search_id: str) -> None:
        self._rows.pop(search_id, None)
