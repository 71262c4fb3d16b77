"""The core's tables, as SQLAlchemy Core.

The registry is read and written in bulk (imports of whole spreadsheets, reports over
subtrees), so it is SQLAlchemy Core with set-based statements rather than the ORM. Area
codes are hierarchical (a child's code starts with its parent's), so a subtree is one
indexed ``code LIKE 'prefix%'``.

The Alembic revisions in ``migrations/versions`` create these tables; this module is
the description code uses. ``tests/test_migrations.py`` checks the two agree.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    Time,
    UniqueConstraint,
    text,
)
from sqlalchemy.types import TypeDecorator

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Aware datetimes in, aware UTC datetimes out; stored as naive UTC on every backend."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: community365 stores aware datetimes only")
        return value.astimezone(dt.UTC).replace(tzinfo=None)

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        return None if value is None else value.replace(tzinfo=dt.UTC)


areas = Table(
    "areas",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("code", String(32), nullable=False, unique=True),
    Column("name", String(100), nullable=False),
    Column("level", String(32), nullable=False),
    Column("parent_id", ForeignKey("areas.id"), index=True),
)

households = Table(
    "households",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("code", String(40), nullable=False, unique=True),
    Column("area_id", ForeignKey("areas.id"), nullable=False, index=True),
    Column("address", String(200), nullable=False, server_default=""),
    Column("phone", String(20)),
)

persons = Table(
    "persons",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("id_number", String(18), unique=True),
    Column("name", String(50), nullable=False),
    Column("gender", String(1)),
    Column("birth_date", Date),
    Column("phone", String(20)),
    Column("household_id", ForeignKey("households.id"), index=True),
    CheckConstraint("gender IN ('M', 'F')", name="gender"),
    # Without an ID number, a person is known by name within a household.
    Index(
        "uq_persons_household_name_no_id",
        "household_id",
        "name",
        unique=True,
        sqlite_where=text("id_number IS NULL"),
        postgresql_where=text("id_number IS NULL"),
    ),
)

tags = Table(
    "tags",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(50), nullable=False, unique=True),
    Column("name_en", String(80), nullable=False, server_default=""),
    Column("builtin", Boolean, nullable=False, server_default=text("false")),
)

person_tags = Table(
    "person_tags",
    metadata,
    Column("person_id", ForeignKey("persons.id", ondelete="CASCADE"), primary_key=True),
    Column("tag_id", ForeignKey("tags.id", ondelete="CASCADE"), primary_key=True, index=True),
)

handlers = Table(
    "handlers",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("code", String(40), nullable=False, unique=True),
    Column("name", String(100), nullable=False),
    Column("kind", String(20), nullable=False),
    Column("phone", String(20)),
    Column("person_id", ForeignKey("persons.id"), index=True),
    Column("active", Boolean, nullable=False, server_default=text("true")),
    CheckConstraint("kind IN ('staff', 'volunteer', 'team', 'organisation')", name="kind"),
)

handler_skills = Table(
    "handler_skills",
    metadata,
    Column("handler_id", ForeignKey("handlers.id", ondelete="CASCADE"), primary_key=True),
    Column("skill", String(50), primary_key=True),
)

handler_leave = Table(
    "handler_leave",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("handler_id", ForeignKey("handlers.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("starts_on", Date, nullable=False),
    Column("ends_on", Date, nullable=False),
    Column("reason", String(200), nullable=False, server_default=""),
    CheckConstraint("ends_on >= starts_on", name="leave_order"),
)

handler_shifts = Table(
    "handler_shifts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("handler_id", ForeignKey("handlers.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("weekday", Integer, nullable=False),
    Column("starts_at", Time, nullable=False),
    Column("ends_at", Time, nullable=False),
    CheckConstraint("weekday BETWEEN 1 AND 7", name="weekday"),
    CheckConstraint("ends_at > starts_at", name="shift_order"),
)

duties = Table(
    "duties",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("handler_id", ForeignKey("handlers.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("area_id", ForeignKey("areas.id"), nullable=False, index=True),
    # '' means every service group: NULL would defeat the unique constraint.
    Column("service_group", String(40), nullable=False, server_default=""),
    Column("role", String(10), nullable=False),
    CheckConstraint("role IN ('A', 'B', 'leader')", name="role"),
    UniqueConstraint("handler_id", "area_id", "service_group", "role", name="uq_duties_assignment"),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("at", UTCDateTime, nullable=False, index=True),
    Column("actor", String(100), nullable=False),
    Column("action", String(60), nullable=False),
    Column("subject", String(200), nullable=False, server_default=""),
    Column("detail", Text, nullable=False, server_default=""),
)


# -- cases --------------------------------------------------------------------------------------

CASE_STATUSES = (
    "received",
    "assigned",
    "accepted",
    "resolved",
    "closed",
    "withdrawn",
    "duplicate",
    "rejected",
)
_STATUS_CHECK = "status IN ({})".format(", ".join(f"'{s}'" for s in CASE_STATUSES))

case_counters = Table(
    "case_counters",
    metadata,
    Column("year", Integer, primary_key=True, autoincrement=False),
    Column("last", Integer, nullable=False),
)

cases = Table(
    "cases",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("ref", String(20), nullable=False, unique=True),
    Column("service", String(40), nullable=False),
    Column("service_group", String(40), nullable=False),
    Column("channel", String(10), nullable=False),
    Column("status", String(12), nullable=False),
    Column("area_id", ForeignKey("areas.id"), nullable=False, index=True),
    Column("household_id", ForeignKey("households.id")),
    Column("reporter_id", ForeignKey("persons.id"), index=True),
    # An outside reporter (not in the register): name and phone as given.
    Column("contact", String(100), nullable=False, server_default=""),
    Column("text", Text, nullable=False),
    Column("fields", JSON, nullable=False),
    Column("received_at", UTCDateTime, nullable=False, index=True),
    Column("reply_by", UTCDateTime, nullable=False),
    Column("resolve_by", UTCDateTime, nullable=False),
    # 首问: the handler who took the demand in stays accountable until someone accepts.
    Column("receiver_id", ForeignKey("handlers.id")),
    Column("handler_id", ForeignKey("handlers.id")),
    Column("accepted_at", UTCDateTime),
    Column("replied_at", UTCDateTime),
    Column("resolved_at", UTCDateTime),
    Column("closed_at", UTCDateTime),
    Column("outcome", Text, nullable=False, server_default=""),
    Column("minutes_spent", Integer),
    Column("rating", String(20)),
    Column("rating_comment", Text, nullable=False, server_default=""),
    Column("extensions", Integer, nullable=False, server_default=text("0")),
    Column("reworks", Integer, nullable=False, server_default=text("0")),
    Column("repeats", Integer, nullable=False, server_default=text("0")),
    Column("escalation", Integer, nullable=False, server_default=text("0")),
    Column("escalated_on", Date),
    Column("duplicate_of", ForeignKey("cases.id"), index=True),
    CheckConstraint(_STATUS_CHECK, name="status"),
    Index("ix_cases_handler_status", "handler_id", "status"),
    Index("ix_cases_status_resolve_by", "status", "resolve_by"),
)

case_events = Table(
    "case_events",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("case_id", ForeignKey("cases.id"), nullable=False, index=True),
    Column("at", UTCDateTime, nullable=False),
    Column("actor", String(100), nullable=False),
    Column("action", String(20), nullable=False),
    Column("from_status", String(12)),
    Column("to_status", String(12), nullable=False),
    Column("note", Text, nullable=False, server_default=""),
    # The case columns this event changed, JSON-encoded: replaying them rebuilds the case.
    Column("changes", JSON, nullable=False),
)

# What `c365 daily` did for a day, so that a second run of the same day changes nothing.
daily_runs = Table(
    "daily_runs",
    metadata,
    Column("day", Date, primary_key=True),
    Column("task", String(80), primary_key=True),
    Column("ran_at", UTCDateTime, nullable=False),
    Column("summary", Text, nullable=False, server_default=""),
)

# 日碰头: each handler's open and overdue cases on a day, as `c365 daily` found them.
huddle_items = Table(
    "huddle_items",
    metadata,
    Column("day", Date, primary_key=True),
    Column("handler_id", ForeignKey("handlers.id"), primary_key=True),
    Column("case_id", ForeignKey("cases.id"), primary_key=True, index=True),
    Column("overdue", Boolean, nullable=False),
)
