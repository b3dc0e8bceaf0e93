"""The drop-in FaceCheck surface. Thin: parse, call the service, return."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from app.cache.keys import wants_fresh
from app.deps import api_call
from app.errors import json_response
from app.facecheck.openapi import ENVELOPE, INFO, SEARCH_ANSWER, SEARCH_BODY, UPLOAD_BODY
from app.facecheck.schemas import parse_search_body
from app.facecheck.upload import read_upload

router = APIRouter(prefix="/api", tags=["FaceCheck API"])


@router.post("/upload_pic", summary="Upload 1 to 3 images and get a search request id", responses=ENVELOPE,
             openapi_extra=UPLOAD_BODY)
async def upload_pic(request: Request) -> Response:
    call = await api_call(request, "search")
    upload = await read_upload(request, call.settings)
    return json_response(await call.searches.upload(call.principal, upload.images, upload.id_search))


@router.post("/search", summary="Submit a search, or report its status and results", responses=SEARCH_ANSWER,
             openapi_extra=SEARCH_BODY)
async def search(request: Request) -> Response:
    call = await api_call(request, "search")
    parsed = parse_search_body(request.headers.get("content-type"), await request.body())
    fresh = wants_fresh(request.headers.get("cache-control"))
    body, headers = await call.searches.search(call.principal, parsed, fresh=fresh)
    return json_response(body, headers=headers)


@router.post("/delete_pic", summary="Remove one image from a search request", responses=ENVELOPE)
async def delete_pic(request: Request, id_search: str | None = None, id_pic: str | None = None) -> Response:
    call = await api_call(request, "search")
    return json_response(await call.searches.delete_pic(call.principal, id_search, id_pic))


@router.post("/info", summary="Remaining credits, online status and indexed faces", responses=INFO)
async def info(request: Request) -> Response:
    call = await api_call(request, "info")
    return json_response(await call.searches.info(call.principal))
