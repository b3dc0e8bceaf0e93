"""audit log: audit_events (monthly partitions on PostgreSQL) and the hash-chain head

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from app.audit.partitions import MONTHS_AHEAD, create_sql, month_start

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

GENESIS = "0" * 64
COLUMNS = """
    seq BIGINT NOT NULL, time TIMESTAMP WITH TIME ZONE NOT NULL, event_id VARCHAR(32) NOT NULL,
    action VARCHAR(32) NOT NULL, outcome VARCHAR(16) NOT NULL, code VARCHAR(64), tenant_id VARCHAR(32),
    key_id VARCHAR(32), actor VARCHAR(64), id_search VARCHAR(64), images JSON, demo BOOLEAN,
    credits_reserved INTEGER NOT NULL, credits_charged INTEGER NOT NULL, credits_refunded INTEGER NOT NULL,
    cache VARCHAR(16), result_count INTEGER, max_score DOUBLE PRECISION, upstream_ms INTEGER,
    client_ip VARCHAR(64), user_agent VARCHAR(256), request_id VARCHAR(64), purpose VARCHAR(200),
    case_id VARCHAR(100), detail JSON, prev_hash VARCHAR(64) NOT NULL, hash VARCHAR(64) NOT NULL
"""
# The admin filters, each with seq for the cursor order (newest first); event_id for replay.
INDEXES = {
    "ix_audit_events_tenant_seq": "tenant_id, seq",
    "ix_audit_events_key_seq": "key_id, seq",
    "ix_audit_events_action_seq": "action, seq",
    "ix_audit_events_outcome_seq": "outcome, seq",
    "ix_audit_events_purpose_seq": "purpose, seq",
    "ix_audit_events_id_search": "id_search, seq",
    "ix_audit_events_request_id": "request_id, seq",
    "ix_audit_events_time": "time",
}


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"CREATE TABLE audit_events ({COLUMNS}, CONSTRAINT pk_audit_events PRIMARY KEY (seq, time), "
                   "CONSTRAINT uq_audit_events_event_id UNIQUE (event_id, time)) PARTITION BY RANGE (time)")
        op.execute("CREATE TABLE audit_events_default PARTITION OF audit_events DEFAULT")
        now = datetime.now(UTC)
        for shift in range(MONTHS_AHEAD + 1):
            op.execute(create_sql(month_start(now, shift)))
    else:
        op.execute(f"CREATE TABLE audit_events ({COLUMNS}, CONSTRAINT pk_audit_events PRIMARY KEY (seq, time), "
                   "CONSTRAINT uq_audit_events_event_id UNIQUE (event_id, time))")
    for name, columns in INDEXES.items():
        op.execute(f"CREATE INDEX {name} ON audit_events ({columns})")
    chain = op.create_table(
        "audit_chain",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("anchor_seq", sa.BigInteger(), nullable=False),
        sa.Column("anchor_hash", sa.String(64), nullable=False),
    )
    op.bulk_insert(chain, [{"id": 1, "seq": 0, "hash": GENESIS, "anchor_seq": 0, "anchor_hash": GENESIS}])


def downgrade() -> None:
    op.drop_table("audit_chain")
    op.execute("DROP TABLE audit_events")
