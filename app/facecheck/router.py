"""The drop-in FaceCheck surface. Thin: parse, call the service, return."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from app.cache.keys import wants_fresh
from app.deps import InfoPrincipal, SearchPrincipal, SearchServiceDep, SettingsDep
from app.errors import json_response
from app.facecheck.openapi import ENVELOPE, INFO, SEARCH_ANSWER, SEARCH_BODY, UPLOAD_BODY
from app.facecheck.schemas import parse_search_body
from app.facecheck.upload import read_upload

router = APIRouter(prefix="/api", tags=["FaceCheck API"])


@router.post("/upload_pic", summary="Upload 1 to 3 images and get a search request id", responses=ENVELOPE,
             openapi_extra=UPLOAD_BODY)
async def upload_pic(
    request: Request, principal: SearchPrincipal, service: SearchServiceDep, settings: SettingsDep
) -> Response:
    upload = await read_upload(request, settings)
    return json_response(await service.upload(principal, upload.images, upload.id_search))


@router.post("/search", summary="Submit a search, or report its status and results", responses=SEARCH_ANSWER,
             openapi_extra=SEARCH_BODY)
async def search(request: Request, principal: SearchPrincipal, service: SearchServiceDep) -> Response:
    parsed = parse_search_body(request.headers.get("content-type"), await request.body())
    body, headers = await service.search(principal, parsed, fresh=wants_fresh(request.headers.get("cache-control")))
    return json_response(body, headers=headers)


@router.post("/delete_pic", summary="Remove one image from a search request", responses=ENVELOPE)
async def delete_pic(
    principal: SearchPrincipal,
    service: SearchServiceDep,
    id_search: str | None = None,
    id_pic: str | None = None,
) -> Response:
    return json_response(await service.delete_pic(principal, id_search, id_pic))


@router.post("/info", summary="Remaining credits, online status and indexed faces", responses=INFO)
async def info(principal: InfoPrincipal, service: SearchServiceDep) -> Response:
    return json_response(await service.info(principal))
