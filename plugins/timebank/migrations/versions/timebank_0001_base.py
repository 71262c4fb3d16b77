"""Time bank branch: its base (tables come with the ledger).

Revision ID: timebank_0001
Revises:
Create Date: 2026-11-25
"""

revision = "timebank_0001"
down_revision = None
branch_labels = ("timebank",)
depends_on = "c365_0002"


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
