"""The four FaceCheck routes, with auth and fault injection in front of them.

Faults come first (latency, then a hang, then an HTTP 503) because they model the network and the
load balancer, which act before the upstream ever looks at the token. Answer faults come after the
call was processed (a submit charged): a lost answer, a status error while the run goes on, a slow
answer. They are what makes a client unsure whether upstream ran a search.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException
from starlette.types import Receive, Scope, Send

from app.sandbox.envelope import (
    AUTH_FAILED,
    OFFLINE,
    envelope,
    error_envelope,
    info_body,
    render_input,
    status_envelope,
)
from app.sandbox.models import (
    MAX_IMAGES,
    SEARCH_COST,
    InputPic,
    Phase,
    SandboxError,
    Search,
    Status,
    new_id_pic,
)
from app.sandbox.results import InvalidImage, input_thumbnail
from app.sandbox.state import SandboxState

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]

WAIT_STEP = 0.1
"""Largest single sleep of a ``with_progress: false`` wait, so it notices completion promptly."""
MIN_STEP = 0.01
"""Smallest step, so float rounding can never make a wait spin without time passing."""
UNAVAILABLE_HTML = (
    "<html><head><title>503 Service Unavailable</title></head>"
    "<body><center><h1>503 Service Unavailable</h1></center></body></html>"
)


class AnswerDropped(Exception):
    """Raised by a dropped answer after its headers went out, so the server cuts the connection."""


class _DroppedAnswer(Response):
    """Headers promising a body, then the connection is cut: the client never learns the outcome."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(b"content-type", b"application/json"), (b"content-length", b"4096")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        raise AnswerDropped("answer dropped on purpose (lost_answer_mode=drop)")


def build_api_router(state: SandboxState, clock: Clock, sleep: Sleep) -> APIRouter:
    router = APIRouter(prefix="/api")

    def reply(body: dict[str, Any]) -> JSONResponse:
        return JSONResponse(body)

    def fail(exc: SandboxError) -> JSONResponse:
        return reply(error_envelope(state.config, exc.message, exc.id_search))

    def with_pics(search: Search, message: str) -> JSONResponse:
        """Upload and delete both answer with the search's images as they now stand."""
        pics = render_input(state.config, search.pics)
        return reply(envelope(state.config, id_search=search.id_search, message=message, input_=pics))

    async def deliver(response: Response, *, submitted: bool = False, status_check: bool = False,
                      uploaded: bool = False, id_search: str | None = None) -> Response:
        """Faults that strike after the call was processed: what upstream did stands, whatever the
        client hears (a lost answer, a status error while the run goes on, a slow answer)."""
        lost, status_error, slow = state.draw_answer_faults(submitted=submitted, status_check=status_check,
                                                            uploaded=uploaded)
        if status_error:
            return reply(error_envelope(state.config, OFFLINE, id_search))
        if lost:
            match state.config.lost_answer_mode:
                case "drop":
                    return _DroppedAnswer()
                case "http_503":
                    return HTMLResponse(UNAVAILABLE_HTML, status_code=503)
            await sleep(state.config.hang_seconds)
        elif slow:
            await sleep(state.config.slow_answer_seconds)
        return response

    async def gate(request: Request, *, offline_applies: bool = True) -> Response | None:
        """Run faults, auth and the offline switch; a response here short-cuts the route."""
        cfg = state.config
        if cfg.latency_ms:
            await sleep(cfg.latency_ms / 1000)
        hang, unavailable = state.draw_faults()
        if hang:
            await sleep(state.config.hang_seconds)
        if unavailable:
            return HTMLResponse(UNAVAILABLE_HTML, status_code=503)
        if not _authorized(request.headers.get("authorization"), state.config.tokens):
            state.stats.invalid_token += 1
            return reply(error_envelope(state.config, AUTH_FAILED))
        if offline_applies and state.config.offline:
            return reply(error_envelope(state.config, OFFLINE))
        return None

    @router.post("/upload_pic")
    async def upload_pic(request: Request) -> Response:
        if (early := await gate(request)) is not None:
            return early
        try:
            id_search, blobs = await _read_upload(request)
            if len(blobs) > MAX_IMAGES:
                raise SandboxError(f"Upload 1 to {MAX_IMAGES} images per request.", id_search)
            pics = []
            for blob in blobs:
                try:
                    thumbnail = await run_in_threadpool(input_thumbnail, blob)
                except InvalidImage as exc:
                    raise SandboxError(str(exc), id_search) from exc
                pics.append(InputPic(id_pic=new_id_pic(), sha256=_sha256(blob), thumbnail=thumbnail))
            search = state.add_pics(id_search, pics)
        except SandboxError as exc:
            return fail(exc)
        return await deliver(with_pics(search, f"Uploaded {len(pics)} image(s)."), uploaded=True)

    @router.post("/search")
    async def search(request: Request) -> Response:
        if (early := await gate(request)) is not None:
            return early
        submits = state.stats.search_submits
        try:
            id_search, with_progress, status_only, demo = _parse_search(await request.body())
            status = state.search(id_search, status_only=status_only, demo=demo)
            if not with_progress:
                status = await _wait_final(state, status, clock, sleep)
        except SandboxError as exc:
            return fail(exc)
        submitted = state.stats.search_submits > submits
        return await deliver(reply(status_envelope(state.config, status)), submitted=submitted,
                             status_check=not submitted, id_search=status.id_search)

    @router.post("/delete_pic")
    async def delete_pic(request: Request) -> Response:
        if (early := await gate(request)) is not None:
            return early
        params = request.query_params
        if state.draw_delete_error():
            return fail(SandboxError(OFFLINE, params.get("id_search")))
        try:
            search = state.delete_pic(params.get("id_search"), params.get("id_pic"))
        except SandboxError as exc:
            return fail(exc)
        return await deliver(with_pics(search, "Image deleted."))

    @router.post("/info")
    async def info(request: Request) -> Response:
        if (early := await gate(request, offline_applies=False)) is not None:
            return early
        state.stats.info_calls += 1
        state.settle()
        return await deliver(reply(info_body(state.config, state.credits, SEARCH_COST)))

    return router


def _authorized(header: str | None, tokens: list[str]) -> bool:
    """Accept the raw token (official clients) or ``Bearer <token>`` (some third-party ones)."""
    if not header:
        return False
    value = header.strip()
    if value[:7].lower() == "bearer ":
        value = value[7:].strip()
    candidate = value.encode()
    # Compare against every token without short-circuiting, so timing does not reveal a prefix match.
    matches = [hmac.compare_digest(candidate, token.encode()) for token in tokens]
    return any(matches)


def _sha256(blob: bytes) -> str:
    return hashlib.sha256(blob).hexdigest()


async def _read_upload(request: Request) -> tuple[str | None, list[bytes]]:
    """Read ``id_search`` and the ``images`` parts; tolerant of the Python, Node and Java clients' quirks."""
    try:
        async with request.form(max_files=16, max_fields=16) as form:
            raw_id = form.get("id_search")
            if raw_id is not None and not isinstance(raw_id, str):
                raise SandboxError("id_search must be a text field.")
            blobs = []
            for part in form.getlist("images"):
                if not isinstance(part, UploadFile):
                    raise SandboxError("Each 'images' part must be a file.", raw_id or None)
                blobs.append(await part.read())
    except (HTTPException, MultiPartException) as exc:
        raise SandboxError("Malformed multipart/form-data body.") from exc
    return (raw_id or None), blobs


def _parse_search(raw: bytes) -> tuple[str | None, bool, bool, bool]:
    """Parse SearchData whatever the content type; null or missing flags take the upstream defaults."""
    try:
        data = json.loads(raw) if raw.strip() else {}
    except (ValueError, UnicodeDecodeError) as exc:
        raise SandboxError("The request body is not valid JSON.") from exc
    if not isinstance(data, dict):
        raise SandboxError("The request body must be a JSON object.")
    id_search = data.get("id_search")
    if id_search is not None and not isinstance(id_search, str):
        raise SandboxError("id_search must be a string.")
    flags = []
    for name, default in (("with_progress", True), ("status_only", False), ("demo", False)):
        value = data.get(name)
        if value is not None and not isinstance(value, bool):
            raise SandboxError(f"{name} must be true, false or null.", id_search)
        flags.append(default if value is None else value)
    return id_search, flags[0], flags[1], flags[2]


async def _wait_final(state: SandboxState, status: Status, clock: Clock, sleep: Sleep) -> Status:
    """``with_progress: false``: wait until the search is final or ``max_wait_seconds`` have passed.

    The wait is bounded both by the clock and by the total time slept, so a clock that never moves
    cannot make it wait forever.
    """
    if status.phase is Phase.NOT_SUBMITTED:
        return status
    limit = state.config.max_wait_seconds
    started, slept = clock(), 0.0
    while not status.final:
        budget = limit - max(clock() - started, slept)
        if budget <= 0:
            break
        step = max(MIN_STEP, min(WAIT_STEP, budget, status.seconds_left))
        await sleep(step)
        slept += step
        status = state.status(status.id_search)
    return status
