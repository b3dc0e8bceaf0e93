"""How a new search got its result. A module of its own, free of imports, so the search ledger's
queries (also run by the command line before `serve` sets up metrics) need nothing else of the cache."""

from __future__ import annotations

from typing import Literal

Outcome = Literal["hit", "miss", "coalesced"]
HIT: Outcome = "hit"
MISS: Outcome = "miss"
COALESCED: Outcome = "coalesced"
