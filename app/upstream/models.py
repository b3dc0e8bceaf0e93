"""Reads of the company's upstream balance, kept so the ledger can compare what FaceCheck took with
what the gateway charged (app/ledger)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Integer
from sqlalchemy.orm import Mapped, mapped_column

from app.db.base import Base, UTCDateTime


class BalanceRead(Base):
    __tablename__ = "upstream_balance_reads"
    __table_args__ = (Index("ix_upstream_balance_reads_read_at", "read_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    # When the /api/info request was sent: reads from several replicas are ordered by what upstream
    # could have known, not by when each answer happened to arrive.
    read_at: Mapped[datetime] = mapped_column(UTCDateTime())
    remaining_credits: Mapped[int] = mapped_column(Integer)
