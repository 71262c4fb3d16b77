"""Time bank ledger: banks, accounts, transfers, entries, pending hours, family ties.

Revision ID: timebank_0002
Revises: timebank_0001
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "timebank_0002"
down_revision = "timebank_0001"
branch_labels = None
depends_on = "c365_0003"


def _fk(table: str, column: str, target: str, **kwargs: object) -> sa.Column:
    return sa.Column(
        column,
        sa.Integer,
        sa.ForeignKey(f"{target}.id", name=f"fk_{table}_{column}_{target}"),
        **kwargs,
    )


def upgrade() -> None:
    op.create_table(
        "tb_banks",
        sa.Column("id", sa.Integer, primary_key=True),
        _fk("tb_banks", "area_id", "areas", nullable=False),
        sa.Column("opened_at", sa.DateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_tb_banks"),
        sa.UniqueConstraint("area_id", name="uq_tb_banks_area_id"),
    )
    op.create_table(
        "tb_accounts",
        sa.Column("id", sa.Integer, primary_key=True),
        _fk("tb_accounts", "bank_id", "tb_banks", nullable=False),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("owner", sa.String(40), nullable=False),
        _fk("tb_accounts", "person_id", "persons"),
        _fk("tb_accounts", "handler_id", "handlers"),
        _fk("tb_accounts", "peer_bank_id", "tb_banks"),
        sa.Column("status", sa.String(10), nullable=False, server_default="active"),
        sa.Column("balance", sa.Integer, nullable=False, server_default=sa.text("0")),
        sa.Column("floor", sa.Integer),
        sa.Column("opened_at", sa.DateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_tb_accounts"),
        sa.UniqueConstraint("bank_id", "owner", name="uq_tb_accounts_owner"),
        sa.CheckConstraint(
            "kind IN ('member', 'pool', 'team', 'clearing')", name="ck_tb_accounts_kind"
        ),
        sa.CheckConstraint(
            "status IN ('active', 'frozen', 'closed')", name="ck_tb_accounts_status"
        ),
        sa.CheckConstraint("floor IS NULL OR balance >= floor", name="ck_tb_accounts_floor"),
    )
    op.create_index("ix_tb_accounts_bank_id", "tb_accounts", ["bank_id"])
    op.create_table(
        "tb_transfers",
        sa.Column("id", sa.Integer, primary_key=True),
        _fk("tb_transfers", "bank_id", "tb_banks", nullable=False),
        sa.Column("kind", sa.String(10), nullable=False),
        _fk("tb_transfers", "from_account", "tb_accounts", nullable=False),
        _fk("tb_transfers", "to_account", "tb_accounts", nullable=False),
        sa.Column("minutes", sa.Integer, nullable=False),
        sa.Column("at", sa.DateTime, nullable=False),
        sa.Column("actor", sa.String(100), nullable=False),
        sa.Column("memo", sa.Text, nullable=False, server_default=""),
        sa.Column("case_ref", sa.String(20)),
        _fk("tb_transfers", "reverses", "tb_transfers"),
        _fk("tb_transfers", "pair", "tb_transfers"),
        sa.PrimaryKeyConstraint("id", name="pk_tb_transfers"),
        sa.UniqueConstraint("reverses", name="uq_tb_transfers_reverses"),
        sa.UniqueConstraint("pair", name="uq_tb_transfers_pair"),
        sa.CheckConstraint("minutes > 0", name="ck_tb_transfers_positive"),
        sa.CheckConstraint("from_account <> to_account", name="ck_tb_transfers_two_accounts"),
        sa.CheckConstraint(
            "kind IN ('earn', 'spend', 'gift', 'donate', 'surplus', 'clear', 'reverse')",
            name="ck_tb_transfers_kind",
        ),
    )
    op.create_index("ix_tb_transfers_bank_id", "tb_transfers", ["bank_id"])
    op.create_index("ix_tb_transfers_at", "tb_transfers", ["at"])
    op.create_index("ix_tb_transfers_case_ref", "tb_transfers", ["case_ref"])
    op.create_table(
        "tb_entries",
        sa.Column("id", sa.Integer, primary_key=True),
        _fk("tb_entries", "transfer_id", "tb_transfers", nullable=False),
        _fk("tb_entries", "account_id", "tb_accounts", nullable=False),
        sa.Column("minutes", sa.Integer, nullable=False),
        sa.Column("balance_after", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_tb_entries"),
    )
    op.create_index("ix_tb_entries_transfer_id", "tb_entries", ["transfer_id"])
    op.create_index("ix_tb_entries_account_id_id", "tb_entries", ["account_id", "id"])
    op.create_table(
        "tb_pending",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("case_ref", sa.String(20), nullable=False),
        _fk("tb_pending", "volunteer_account", "tb_accounts", nullable=False),
        _fk("tb_pending", "payer_account", "tb_accounts"),
        sa.Column("minutes", sa.Integer, nullable=False),
        sa.Column("signed_in", sa.DateTime),
        sa.Column("signed_out", sa.DateTime),
        sa.Column("status", sa.String(10), nullable=False, server_default="pending"),
        sa.Column("decided_by", sa.String(100)),
        sa.Column("decided_at", sa.DateTime),
        _fk("tb_pending", "transfer_id", "tb_transfers"),
        sa.Column("claimed_minutes", sa.Integer),
        sa.Column("served_on", sa.Date),
        sa.Column("recorded_at", sa.DateTime),
        _fk("tb_pending", "recipient_id", "persons"),
        sa.Column("verified_as", sa.String(12)),
        sa.Column("note", sa.Text, nullable=False, server_default=""),
        sa.PrimaryKeyConstraint("id", name="pk_tb_pending"),
        sa.UniqueConstraint("case_ref", name="uq_tb_pending_case_ref"),
        sa.CheckConstraint("minutes > 0", name="ck_tb_pending_positive"),
        sa.CheckConstraint(
            "status IN ('pending', 'verified', 'rejected', 'reversed')",
            name="ck_tb_pending_status",
        ),
    )
    op.create_index("ix_tb_pending_volunteer_day", "tb_pending", ["volunteer_account", "served_on"])
    op.create_table(
        "tb_family",
        sa.Column("id", sa.Integer, primary_key=True),
        _fk("tb_family", "person_id", "persons", nullable=False),
        _fk("tb_family", "relative_id", "persons", nullable=False),
        sa.Column("relation", sa.String(12), nullable=False),
        sa.Column("recorded_at", sa.DateTime, nullable=False),
        sa.Column("recorded_by", sa.String(100), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_tb_family"),
        sa.UniqueConstraint("person_id", "relative_id", name="uq_tb_family_pair"),
        sa.CheckConstraint(
            "relation IN ('spouse', 'parent', 'grandparent')", name="ck_tb_family_relation"
        ),
        sa.CheckConstraint("person_id <> relative_id", name="ck_tb_family_two_persons"),
    )
    op.create_index("ix_tb_family_person_id", "tb_family", ["person_id"])


def downgrade() -> None:
    tables = ("tb_family", "tb_pending", "tb_entries", "tb_transfers", "tb_accounts", "tb_banks")
    for table in tables:
        op.drop_table(table)
