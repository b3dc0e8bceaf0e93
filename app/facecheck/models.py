"""A search request: the gateway's own id, the upstream id it maps to, and its owner."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db.base import Base, UTCDateTime

# Lifecycle: uploading -> uploaded -> submitting -> submitted -> finished | failed. `uploading` is
# recorded before the images leave (an upload whose answer is lost ends `upload_failed`, its hashes
# kept); `submitting` is the short claim that makes exactly one concurrent first submit go upstream.
# A submit whose outcome is unknown is `uncertain` until upstream says whether it started; one still
# unknown past UNRESOLVED_AFTER_HOURS is `unresolved`, for an operator. Held: credits still reserved.
UPLOADED, SUBMITTING, SUBMITTED, FINISHED, FAILED = "uploaded", "submitting", "submitted", "finished", "failed"
UPLOADING, UPLOAD_FAILED = "uploading", "upload_failed"
UNCERTAIN, UNRESOLVED = "uncertain", "unresolved"
HELD_STATES = (SUBMITTED, UNCERTAIN, UNRESOLVED)
# `reservation` holds the quota engine's reservation states (app.quotas.policy): the database is
# the record the quota store is rebuilt from.


class Search(Base):
    __tablename__ = "searches"
    __table_args__ = (
        Index("ix_searches_tenant_created", "tenant_id", "created_at"),
        Index("ix_searches_reserved_month", "reserved_month", "tenant_id"),
        Index("ix_searches_status", "status"),
        Index("ix_searches_inputs_due", "status", "inputs_due_at"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    upstream_id: Mapped[str] = mapped_column(String(128))
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="RESTRICT"))
    key_id: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default=UPLOADED)
    demo: Mapped[bool | None] = mapped_column(Boolean, default=None)
    # [{"id_pic": upstream id, "sha256": hex}] per input image still in the search; never the image.
    images: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)
    # Set once its images are at the vendor under a known id: when the input sweeper may next try to
    # delete them (the search must also have ended); None once deleted or nothing more can be.
    inputs_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    error_code: Mapped[str | None] = mapped_column(String(64), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    reservation: Mapped[str | None] = mapped_column(String(16), default=None)
    credits_reserved: Mapped[int] = mapped_column(Integer, default=0)
    reserved_month: Mapped[str | None] = mapped_column(String(7), default=None)
    reserved_day: Mapped[str | None] = mapped_column(String(10), default=None)
    # Result cache. A hit or an attached (coalesced) search shares another search's upstream run:
    # `source_*` name it, so a poll on any replica, or after a restart, finds the result.
    # `cache_key` is where the result is cached (or was looked up); never the images themselves.
    source_search_id: Mapped[str | None] = mapped_column(String(64), default=None)
    source_upstream_id: Mapped[str | None] = mapped_column(String(128), default=None)
    cache_key: Mapped[str | None] = mapped_column(String(64), default=None)
    cache_outcome: Mapped[str | None] = mapped_column(String(16), default=None)  # hit | coalesced | miss
    credits_saved: Mapped[int] = mapped_column(Integer, default=0)
