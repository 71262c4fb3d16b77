"""The plugin's own table, as SQLAlchemy Core.

Tables of a plugin carry its name as a prefix, so they never clash with the core's or
another plugin's. The Alembic revision in ``migrations/versions`` creates this table; this
module is the description the code uses.
"""

from __future__ import annotations

from sqlalchemy import Column, ForeignKey, Integer, MetaData, String, Table

from community365.db.schema import UTCDateTime, areas

metadata = MetaData()

offers = Table(
    "hello_offers",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("area_id", ForeignKey(areas.c.id), nullable=False, index=True),
    Column("neighbour", String(50), nullable=False),
    Column("what", String(200), nullable=False),
    Column("offered_at", UTCDateTime, nullable=False),
    Column("offered_by", String(100), nullable=False),
)
