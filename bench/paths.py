"""The measured paths, each as a pair of loads: `direct` against the sandbox alone, `gateway` the same
call through the gateway. Preparing a path makes the searches its requests need."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from bench import images
from bench.load import Request
from bench.stack import DIRECT_KEY, Client

JSON = {"Content-Type": "application/json"}
POLL_BODY = b'{"id_search": "{id}", "with_progress": true}'
CACHE_IMAGE = images.jpeg(20 * 1024, seed=3)


@dataclass(frozen=True)
class Pair:
    direct: Request
    gateway: Request
    floor: Request  # the same path on the bare FastAPI route


@dataclass
class Setup:
    direct: Client
    gateway: Client
    key: str  # the benchmark tenant's key on the gateway
    pool: int  # how many cache-hit searches to pre-upload
    finish_deadline_s: float  # how long a search may take to finish upstream
    floor_url: str  # the bare FastAPI route's server (bench/floor.py)
    cache_seed: tuple[str, str] = ("", "")  # (direct id, gateway id) of the search the cache hits repeat

    def seed_cache(self) -> None:
        """Submit the search whose image set the cache-hit path repeats; called early, so it has
        finished upstream by the time that path runs."""
        direct_id = self.direct.upload(DIRECT_KEY, CACHE_IMAGE)
        self.direct.submit(DIRECT_KEY, direct_id)
        gateway_id = self.gateway.upload(self.key, CACHE_IMAGE)
        self.gateway.submit(self.key, gateway_id)
        self.cache_seed = (direct_id, gateway_id)


def _requests(setup: Setup, path: str, body: bytes, headers: dict[str, str],
              direct_id: str = "", gateway_ids: tuple[str, ...] = ()) -> Pair:
    return Pair(
        Request(setup.direct.base_url + path, {**headers, "Authorization": DIRECT_KEY}, body,
                (direct_id,) if direct_id else ()),
        Request(setup.gateway.base_url + path, {**headers, "Authorization": setup.key}, body, gateway_ids),
        Request(setup.floor_url + path, {**headers, "Authorization": DIRECT_KEY}, body,
                (direct_id,) if direct_id else ()),
    )


def status_poll(setup: Setup) -> Pair:
    """The hottest path: clients poll a running search every second. One search runs on each side
    (submitted just now, it runs longer than the measurement)."""
    image = images.jpeg(20 * 1024, seed=1)
    direct_id = setup.direct.upload(DIRECT_KEY, image)
    setup.direct.submit(DIRECT_KEY, direct_id)
    gateway_id = setup.gateway.upload(setup.key, image)
    setup.gateway.submit(setup.key, gateway_id)
    return _requests(setup, "/api/search", POLL_BODY, JSON, direct_id, (gateway_id,))


def info(setup: Setup) -> Pair:
    return _requests(setup, "/api/info", b"", {})


def upload(setup: Setup) -> Pair:
    body, content_type = images.multipart(images.jpeg(200 * 1024, seed=2))
    return _requests(setup, "/api/upload_pic", body, {"Content-Type": content_type})


def cache_hit(setup: Setup) -> Pair | str:
    """A new search whose images match a finished search of the same tenant, answered from the cache.

    The load cycles through a pool of such searches: each id's first call is the cache hit, later calls
    read the same finished (cached) search. Directly, the equivalent is a status call on a finished
    search. Without the result cache the probe submit goes upstream (one search, once), and the row
    says so instead of running a load that would submit paid searches.
    """
    direct_id, gateway_id = setup.cache_seed
    setup.gateway.wait_finished(setup.key, gateway_id, setup.finish_deadline_s)
    setup.direct.wait_finished(DIRECT_KEY, direct_id, setup.finish_deadline_s)
    probe = setup.gateway.submit(setup.key, setup.gateway.upload(setup.key, CACHE_IMAGE))
    if probe.headers.get("X-Cache", "").upper() != "HIT":
        return "cache not available (no X-Cache: HIT on a repeated image set)"
    pool = tuple(setup.gateway.upload(setup.key, CACHE_IMAGE) for _ in range(setup.pool))
    return _requests(setup, "/api/search", POLL_BODY, JSON, direct_id, pool)


PATHS: dict[str, tuple[str, Callable[[Setup], Pair | str]]] = {
    "status": ("status poll (/api/search on a running search)", status_poll),
    "info": ("/api/info", info),
    "upload": ("upload_pic, one 200 KB JPEG", upload),
    "cache": ("cache-hit search (pool of new ids, then reads)", cache_hit),
}
