"""Handlers, their skills, leave, shifts and duties; the audit log.

Revision ID: c365_0002
Revises: c365_0001
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

revision = "c365_0002"
down_revision = "c365_0001"
branch_labels = None
depends_on = None


def _handler_fk(table: str) -> sa.Column:
    return sa.Column(
        "handler_id",
        sa.Integer,
        sa.ForeignKey("handlers.id", name=f"fk_{table}_handler_id_handlers", ondelete="CASCADE"),
        nullable=False,
    )


def upgrade() -> None:
    op.create_table(
        "handlers",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("code", sa.String(40), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("phone", sa.String(20)),
        sa.Column(
            "person_id",
            sa.Integer,
            sa.ForeignKey("persons.id", name="fk_handlers_person_id_persons"),
        ),
        sa.Column("active", sa.Boolean, nullable=False, server_default=sa.text("true")),
        sa.PrimaryKeyConstraint("id", name="pk_handlers"),
        sa.UniqueConstraint("code", name="uq_handlers_code"),
        sa.CheckConstraint(
            "kind IN ('staff', 'volunteer', 'team', 'organisation')", name="ck_handlers_kind"
        ),
    )
    op.create_index("ix_handlers_person_id", "handlers", ["person_id"])
    op.create_table(
        "handler_skills",
        _handler_fk("handler_skills"),
        sa.Column("skill", sa.String(50), nullable=False),
        sa.PrimaryKeyConstraint("handler_id", "skill", name="pk_handler_skills"),
    )
    op.create_table(
        "handler_leave",
        sa.Column("id", sa.Integer, primary_key=True),
        _handler_fk("handler_leave"),
        sa.Column("starts_on", sa.Date, nullable=False),
        sa.Column("ends_on", sa.Date, nullable=False),
        sa.Column("reason", sa.String(200), nullable=False, server_default=""),
        sa.PrimaryKeyConstraint("id", name="pk_handler_leave"),
        sa.CheckConstraint("ends_on >= starts_on", name="ck_handler_leave_leave_order"),
    )
    op.create_index("ix_handler_leave_handler_id", "handler_leave", ["handler_id"])
    op.create_table(
        "handler_shifts",
        sa.Column("id", sa.Integer, primary_key=True),
        _handler_fk("handler_shifts"),
        sa.Column("weekday", sa.Integer, nullable=False),
        sa.Column("starts_at", sa.Time, nullable=False),
        sa.Column("ends_at", sa.Time, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_handler_shifts"),
        sa.CheckConstraint("weekday BETWEEN 1 AND 7", name="ck_handler_shifts_weekday"),
        sa.CheckConstraint("ends_at > starts_at", name="ck_handler_shifts_shift_order"),
    )
    op.create_index("ix_handler_shifts_handler_id", "handler_shifts", ["handler_id"])
    op.create_table(
        "duties",
        sa.Column("id", sa.Integer, primary_key=True),
        _handler_fk("duties"),
        sa.Column(
            "area_id",
            sa.Integer,
            sa.ForeignKey("areas.id", name="fk_duties_area_id_areas"),
            nullable=False,
        ),
        sa.Column("service_group", sa.String(40), nullable=False, server_default=""),
        sa.Column("role", sa.String(10), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_duties"),
        sa.CheckConstraint("role IN ('A', 'B', 'leader')", name="ck_duties_role"),
        sa.UniqueConstraint(
            "handler_id", "area_id", "service_group", "role", name="uq_duties_assignment"
        ),
    )
    op.create_index("ix_duties_handler_id", "duties", ["handler_id"])
    op.create_index("ix_duties_area_id", "duties", ["area_id"])
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("at", sa.DateTime, nullable=False),
        sa.Column("actor", sa.String(100), nullable=False),
        sa.Column("action", sa.String(60), nullable=False),
        sa.Column("subject", sa.String(200), nullable=False, server_default=""),
        sa.Column("detail", sa.Text, nullable=False, server_default=""),
        sa.PrimaryKeyConstraint("id", name="pk_audit_log"),
    )
    op.create_index("ix_audit_log_at", "audit_log", ["at"])


def downgrade() -> None:
    for table in (
        "audit_log",
        "duties",
        "handler_shifts",
        "handler_leave",
        "handler_skills",
        "handlers",
    ):
        op.drop_table(table)
