"""The search's own audit events (written through the audit writer), so the hooks in the search code
stay one line each."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.models import FAILED
from app.audit.writer import AuditWriter
from app.facecheck.models import FINISHED, Search
from app.upstream.client import Body


def _hashes(search: Search) -> list[str]:
    return [img["sha256"] for img in search.images if img.get("sha256")]


def _owner(search: Search) -> dict[str, Any]:
    """Who owns the search and what it searched; `cache` is how the result was had (hit, coalesced,
    miss), known from the search itself even when the background tracker settles it."""
    return {"tenant_id": search.tenant_id, "key_id": search.key_id, "id_search": search.id,
            "images": _hashes(search), "cache": search.cache_outcome}


async def uploaded(audit: AuditWriter, search: Search) -> None:
    await audit.record("upload", **_owner(search))


async def submitted(audit: AuditWriter, search: Search, demo: bool, credits: int, *, cache: str | None = None,
                    session: AsyncSession | None = None) -> None:
    """Written before upstream is asked, so a search that cannot be recorded is never run."""
    owner = {**_owner(search), "cache": cache or search.cache_outcome}
    await audit.record("search.submitted", **owner, demo=demo, credits_reserved=credits, session=session)


async def answered_from_cache(audit: AuditWriter, search: Search, body: Body, *, result_urls: bool,
                              session: AsyncSession) -> None:
    """A cache hit is a whole search at once: submitted and finished, in the transaction that
    finishes it, so it is never answered unrecorded."""
    await submitted(audit, search, bool(search.demo), search.credits_reserved, session=session)
    await ended(audit, search, FINISHED, body, None, result_urls=result_urls, session=session)


async def ended(audit: AuditWriter, search: Search, status: str, body: Body | None, error_code: str | None,
                *, result_urls: bool, session: AsyncSession | None = None) -> None:
    """A search settled (written once, by whichever call moved it): charged or refunded, and what
    came back: how many items, the best score, and the URLs only when configured to keep them."""
    finished = status == FINISHED
    output = (body or {}).get("output")
    items = output.get("items") if isinstance(output, dict) else None
    items = [i for i in items if isinstance(i, dict)] if isinstance(items, list) else []
    scores = [float(i["score"]) for i in items if isinstance(i.get("score"), int | float)]
    await audit.record(
        "search.finished" if finished else "search.failed", "ok" if finished else FAILED,
        **_owner(search), demo=bool(search.demo), code=error_code,
        credits_reserved=search.credits_reserved,
        credits_charged=search.credits_reserved if finished else 0,
        credits_refunded=0 if finished else search.credits_reserved,
        result_count=len(items) if finished else None, max_score=max(scores) if scores else None,
        detail={"urls": [str(i.get("url")) for i in items]} if finished and result_urls else None,
        session=session,
    )  # fmt: skip


async def refused(audit: AuditWriter, search: Search, code: str | None) -> None:
    """Upstream did not start the search (its answer to the submit, or a status check of an uncertain
    submit): the reservation was refunded. Not the search's end: it may be submitted again."""
    await audit.record("search.refused", FAILED, **_owner(search), demo=bool(search.demo), code=code,
                       credits_reserved=search.credits_reserved, credits_refunded=search.credits_reserved)


async def unresolved(audit: AuditWriter, search: Search, *, session: AsyncSession) -> None:
    """Upstream never said what became of the search before the deadline: flagged for an operator,
    its credits still held."""
    await audit.record("search.unresolved", "flagged", **_owner(search), demo=bool(search.demo),
                       credits_reserved=search.credits_reserved, session=session)


async def corrected(audit: AuditWriter, search: Search, body: Body, *, session: AsyncSession) -> None:
    """Upstream delivered a search the gateway had refunded: charged after all, the correction recorded."""
    output = body.get("output")
    items = output.get("items") if isinstance(output, dict) else None
    await audit.record("search.corrected", "ok", **_owner(search), demo=bool(search.demo),
                       credits_reserved=search.credits_reserved, credits_charged=search.credits_reserved,
                       result_count=len(items) if isinstance(items, list) else None,
                       detail={"correction": "charged after a refund"}, session=session)
