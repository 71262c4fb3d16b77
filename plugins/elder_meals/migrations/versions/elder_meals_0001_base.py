"""Elder meals branch: its base (tables come with the canteen).

Revision ID: elder_meals_0001
Revises:
Create Date: 2026-11-25
"""

revision = "elder_meals_0001"
down_revision = None
branch_labels = ("elder_meals",)
depends_on = "c365_0002"


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
