"""Red property branch: its base (tables come with fees and repairs).

Revision ID: red_property_0001
Revises:
Create Date: 2026-11-25
"""

revision = "red_property_0001"
down_revision = None
branch_labels = ("red_property",)
depends_on = "c365_0002"


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
