"""/admin/audit: filtered pages with a cursor, and streamed exports of the same selection. Thin."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from starlette.responses import Response, StreamingResponse

from app.audit import service
from app.audit.repository import Filters
from app.audit.schemas import AuditPage
from app.audit.service import ExportFormat
from app.deps import Admin, DatabaseDep
from app.errors import json_response
from app.openapi import ADMIN_ERRORS

router = APIRouter(prefix="/admin/audit", tags=["Admin: audit log"], responses=ADMIN_ERRORS)
Id = Query(pattern=r"^[A-Za-z0-9_.:-]{1,64}$")


def filters(
    tenant_id: Annotated[str | None, Id] = None,
    key_id: Annotated[str | None, Id] = None,
    action: Annotated[str | None, Id] = None,
    outcome: Annotated[str | None, Query(pattern=r"^(ok|rejected|failed)$")] = None,
    code: Annotated[str | None, Id] = None,
    id_search: Annotated[str | None, Id] = None,
    request_id: Annotated[str | None, Id] = None,
    purpose: Annotated[str | None, Query(max_length=200)] = None,
    since: Annotated[datetime | None, Query(description="from this time (inclusive, ISO 8601)")] = None,
    until: Annotated[datetime | None, Query(description="before this time (ISO 8601)")] = None,
) -> Filters:
    return Filters(tenant_id, key_id, action, outcome, code, id_search, purpose, request_id, since, until)


FiltersDep = Annotated[Filters, Depends(filters)]


@router.get("", summary="Audit events, newest first; pass next_cursor back as cursor for the next page",
            response_class=Response, responses={200: {"model": AuditPage, "description": "A page of events"}})
async def list_events(
    selection: FiltersDep, db: DatabaseDep, _: Admin,
    cursor: Annotated[int | None, Query(ge=0, description="next_cursor of the previous page")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> Response:
    return json_response(await service.page(db, selection, cursor, limit))


EXPORTED: dict[int | str, dict[str, Any]] = {
    200: {"description": "One event per line", "content": {"application/x-ndjson": {}, "text/csv": {}}}
}


@router.get("/export", summary="The same selection, oldest first, streamed as JSON lines or CSV",
            response_class=StreamingResponse, responses=EXPORTED)
async def export_events(
    selection: FiltersDep, db: DatabaseDep, _: Admin, format: ExportFormat = "jsonl"
) -> StreamingResponse:
    media = "application/x-ndjson" if format == "jsonl" else "text/csv"
    return StreamingResponse(service.export(db, selection, format), media_type=media,
                             headers={"Content-Disposition": f'attachment; filename="audit.{format}"'})


@router.get("/rejections", summary="Rejected calls of a tenant (or one key) by error code, since a time")
async def rejections(
    db: DatabaseDep, _: Admin,
    tenant_id: Annotated[str, Query(pattern=r"^[A-Za-z0-9_.:-]{1,64}$")],
    since: Annotated[datetime, Query(description="from this time (ISO 8601)")],
    key_id: Annotated[str | None, Id] = None,
) -> dict[str, int]:
    return await service.rejections(db, tenant_id, since, key_id)
