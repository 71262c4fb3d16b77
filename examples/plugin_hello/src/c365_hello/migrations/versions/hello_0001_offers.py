"""Neighbour help: the offers board.

Revision ID: hello_0001
Revises:
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

revision = "hello_0001"
down_revision = None  # the first revision of the branch
branch_labels = ("hello",)  # the plugin's entry-point name
depends_on = "c365_0001"  # the core revision that creates `areas`, which offers refer to


def upgrade() -> None:
    op.create_table(
        "hello_offers",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "area_id",
            sa.Integer,
            sa.ForeignKey("areas.id", name="fk_hello_offers_area_id_areas"),
            nullable=False,
        ),
        sa.Column("neighbour", sa.String(50), nullable=False),
        sa.Column("what", sa.String(200), nullable=False),
        sa.Column("offered_at", sa.DateTime, nullable=False),
        sa.Column("offered_by", sa.String(100), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_hello_offers"),
    )
    op.create_index("ix_hello_offers_area_id", "hello_offers", ["area_id"])


def downgrade() -> None:
    op.drop_table("hello_offers")
