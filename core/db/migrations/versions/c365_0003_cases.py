"""Cases, their events and reference counters; the daily heartbeat's records.

Revision ID: c365_0003
Revises: c365_0002
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "c365_0003"
down_revision = "c365_0002"
branch_labels = None
depends_on = None

STATUSES = (
    "'received', 'assigned', 'accepted', 'resolved', 'closed', 'withdrawn', 'duplicate', 'rejected'"
)


def _fk(table: str, column: str, target: str, **kwargs: object) -> sa.Column:
    return sa.Column(
        column,
        sa.Integer,
        sa.ForeignKey(f"{target}.id", name=f"fk_{table}_{column}_{target}"),
        **kwargs,
    )


def upgrade() -> None:
    op.create_table(
        "case_counters",
        sa.Column("year", sa.Integer, autoincrement=False),
        sa.Column("last", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("year", name="pk_case_counters"),
    )
    op.create_table(
        "cases",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("ref", sa.String(20), nullable=False),
        sa.Column("service", sa.String(40), nullable=False),
        sa.Column("service_group", sa.String(40), nullable=False),
        sa.Column("channel", sa.String(10), nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        _fk("cases", "area_id", "areas", nullable=False),
        _fk("cases", "household_id", "households"),
        _fk("cases", "reporter_id", "persons"),
        sa.Column("contact", sa.String(100), nullable=False, server_default=""),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("fields", sa.JSON, nullable=False),
        sa.Column("received_at", sa.DateTime, nullable=False),
        sa.Column("reply_by", sa.DateTime, nullable=False),
        sa.Column("resolve_by", sa.DateTime, nullable=False),
        _fk("cases", "receiver_id", "handlers"),
        _fk("cases", "handler_id", "handlers"),
        sa.Column("accepted_at", sa.DateTime),
        sa.Column("replied_at", sa.DateTime),
        sa.Column("resolved_at", sa.DateTime),
        sa.Column("closed_at", sa.DateTime),
        sa.Column("outcome", sa.Text, nullable=False, server_default=""),
        sa.Column("minutes_spent", sa.Integer),
        sa.Column("rating", sa.String(20)),
        sa.Column("rating_comment", sa.Text, nullable=False, server_default=""),
        sa.Column("extensions", sa.Integer, nullable=False, server_default=sa.text("0")),
        sa.Column("reworks", sa.Integer, nullable=False, server_default=sa.text("0")),
        sa.Column("repeats", sa.Integer, nullable=False, server_default=sa.text("0")),
        sa.Column("escalation", sa.Integer, nullable=False, server_default=sa.text("0")),
        sa.Column("escalated_on", sa.Date),
        _fk("cases", "duplicate_of", "cases"),
        sa.PrimaryKeyConstraint("id", name="pk_cases"),
        sa.UniqueConstraint("ref", name="uq_cases_ref"),
        sa.CheckConstraint(f"status IN ({STATUSES})", name="ck_cases_status"),
    )
    op.create_index("ix_cases_area_id", "cases", ["area_id"])
    op.create_index("ix_cases_reporter_id", "cases", ["reporter_id"])
    op.create_index("ix_cases_received_at", "cases", ["received_at"])
    op.create_index("ix_cases_handler_status", "cases", ["handler_id", "status"])
    op.create_index("ix_cases_status_resolve_by", "cases", ["status", "resolve_by"])
    op.create_index("ix_cases_duplicate_of", "cases", ["duplicate_of"])
    op.create_table(
        "case_events",
        sa.Column("id", sa.Integer, primary_key=True),
        _fk("case_events", "case_id", "cases", nullable=False),
        sa.Column("at", sa.DateTime, nullable=False),
        sa.Column("actor", sa.String(100), nullable=False),
        sa.Column("action", sa.String(20), nullable=False),
        sa.Column("from_status", sa.String(12)),
        sa.Column("to_status", sa.String(12), nullable=False),
        sa.Column("note", sa.Text, nullable=False, server_default=""),
        sa.Column("changes", sa.JSON, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_case_events"),
    )
    op.create_index("ix_case_events_case_id", "case_events", ["case_id"])
    op.create_table(
        "daily_runs",
        sa.Column("day", sa.Date),
        sa.Column("task", sa.String(80)),
        sa.Column("ran_at", sa.DateTime, nullable=False),
        sa.Column("summary", sa.Text, nullable=False, server_default=""),
        sa.PrimaryKeyConstraint("day", "task", name="pk_daily_runs"),
    )
    op.create_table(
        "huddle_items",
        sa.Column("day", sa.Date),
        _fk("huddle_items", "handler_id", "handlers"),
        _fk("huddle_items", "case_id", "cases"),
        sa.Column("overdue", sa.Boolean, nullable=False),
        sa.PrimaryKeyConstraint("day", "handler_id", "case_id", name="pk_huddle_items"),
    )
    op.create_index("ix_huddle_items_case_id", "huddle_items", ["case_id"])


def downgrade() -> None:
    for table in ("huddle_items", "daily_runs", "case_events", "cases", "case_counters"):
        op.drop_table(table)
