"""Registry: areas, households, persons and tags.

Revision ID: c365_0001
Revises:
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

revision = "c365_0001"
down_revision = None
branch_labels = ("community365",)
depends_on = None

BUILTIN_TAGS = [
    ("独居", "living alone"),
    ("残疾", "disabled"),
    ("低保", "low-income (minimum living allowance)"),
    ("特困", "extreme hardship"),
    ("党员", "party member"),
    ("重点服务对象", "key-service target"),
]


def upgrade() -> None:
    op.create_table(
        "areas",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("code", sa.String(32), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("level", sa.String(32), nullable=False),
        sa.Column(
            "parent_id", sa.Integer, sa.ForeignKey("areas.id", name="fk_areas_parent_id_areas")
        ),
        sa.PrimaryKeyConstraint("id", name="pk_areas"),
        sa.UniqueConstraint("code", name="uq_areas_code"),
    )
    op.create_index("ix_areas_parent_id", "areas", ["parent_id"])
    op.create_table(
        "households",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("code", sa.String(40), nullable=False),
        sa.Column(
            "area_id",
            sa.Integer,
            sa.ForeignKey("areas.id", name="fk_households_area_id_areas"),
            nullable=False,
        ),
        sa.Column("address", sa.String(200), nullable=False, server_default=""),
        sa.Column("phone", sa.String(20)),
        sa.PrimaryKeyConstraint("id", name="pk_households"),
        sa.UniqueConstraint("code", name="uq_households_code"),
    )
    op.create_index("ix_households_area_id", "households", ["area_id"])
    op.create_table(
        "persons",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("id_number", sa.String(18)),
        sa.Column("name", sa.String(50), nullable=False),
        sa.Column("gender", sa.String(1)),
        sa.Column("birth_date", sa.Date),
        sa.Column("phone", sa.String(20)),
        sa.Column(
            "household_id",
            sa.Integer,
            sa.ForeignKey("households.id", name="fk_persons_household_id_households"),
        ),
        sa.PrimaryKeyConstraint("id", name="pk_persons"),
        sa.UniqueConstraint("id_number", name="uq_persons_id_number"),
        sa.CheckConstraint("gender IN ('M', 'F')", name="ck_persons_gender"),
    )
    op.create_index("ix_persons_household_id", "persons", ["household_id"])
    op.create_index(
        "uq_persons_household_name_no_id",
        "persons",
        ["household_id", "name"],
        unique=True,
        sqlite_where=sa.text("id_number IS NULL"),
        postgresql_where=sa.text("id_number IS NULL"),
    )
    tags = op.create_table(
        "tags",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(50), nullable=False),
        sa.Column("name_en", sa.String(80), nullable=False, server_default=""),
        sa.Column("builtin", sa.Boolean, nullable=False, server_default=sa.text("false")),
        sa.PrimaryKeyConstraint("id", name="pk_tags"),
        sa.UniqueConstraint("name", name="uq_tags_name"),
    )
    op.create_table(
        "person_tags",
        sa.Column(
            "person_id",
            sa.Integer,
            sa.ForeignKey(
                "persons.id", name="fk_person_tags_person_id_persons", ondelete="CASCADE"
            ),
        ),
        sa.Column(
            "tag_id",
            sa.Integer,
            sa.ForeignKey("tags.id", name="fk_person_tags_tag_id_tags", ondelete="CASCADE"),
        ),
        sa.PrimaryKeyConstraint("person_id", "tag_id", name="pk_person_tags"),
    )
    op.create_index("ix_person_tags_tag_id", "person_tags", ["tag_id"])
    op.bulk_insert(tags, [{"name": zh, "name_en": en, "builtin": True} for zh, en in BUILTIN_TAGS])


def downgrade() -> None:
    for table in ("person_tags", "tags", "persons", "households", "areas"):
        op.drop_table(table)
