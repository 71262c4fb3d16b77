"""Time bank ledger made immutable in the database: entries and transfers are never edited
or deleted (a mistake is corrected by a reversing transfer).

Triggers refuse UPDATE and DELETE on tb_entries, and DELETE on tb_transfers and UPDATE of
any of its columns but ``pair``: ledger.transfer_across writes the first leg of a
cross-bank transfer before the second, then fills the first leg's ``pair``. On
PostgreSQL TRUNCATE (which skips row triggers) is refused too. The refusal is an integrity
error on both backends.

Revision ID: timebank_0003
Revises: timebank_0002
Create Date: 2026-11-27
"""

from alembic import op

revision = "timebank_0003"
down_revision = "timebank_0002"
branch_labels = None
depends_on = None

MESSAGE = "the time bank ledger is immutable: correct a mistake with a reversing transfer"

# Every column of tb_transfers but ``pair``, the only one the ledger updates.
TRANSFER_COLUMNS = (
    "id",
    "bank_id",
    "kind",
    "from_account",
    "to_account",
    "minutes",
    "at",
    "actor",
    "memo",
    "case_ref",
    "reverses",
)

# trigger name: (table, event)
TRIGGERS = {
    "tb_entries_no_update": ("tb_entries", "UPDATE"),
    "tb_entries_no_delete": ("tb_entries", "DELETE"),
    "tb_transfers_no_update": ("tb_transfers", "UPDATE OF " + ", ".join(TRANSFER_COLUMNS)),
    "tb_transfers_no_delete": ("tb_transfers", "DELETE"),
}
PG_TRUNCATE_TRIGGERS = {
    "tb_entries_no_truncate": "tb_entries",
    "tb_transfers_no_truncate": "tb_transfers",
}
PG_FUNCTION = "tb_ledger_immutable"


def upgrade_sql(dialect: str) -> list[str]:
    """The statements that install the triggers on ``dialect`` ("sqlite", "postgresql")."""
    if dialect == "sqlite":
        return [
            f"CREATE TRIGGER {name} BEFORE {event} ON {table} FOR EACH ROW "
            f"BEGIN SELECT RAISE(ABORT, '{table}: {MESSAGE}'); END"
            for name, (table, event) in TRIGGERS.items()
        ]
    if dialect == "postgresql":
        function = (
            f"CREATE FUNCTION {PG_FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$\n"
            "BEGIN\n"
            f"    RAISE EXCEPTION '%: {MESSAGE} (% refused)', TG_TABLE_NAME, TG_OP\n"
            "        USING ERRCODE = 'integrity_constraint_violation';\n"
            "END;\n"
            "$$"
        )
        rows = [
            f"CREATE TRIGGER {name} BEFORE {event} ON {table} FOR EACH ROW "
            f"EXECUTE FUNCTION {PG_FUNCTION}()"
            for name, (table, event) in TRIGGERS.items()
        ]
        statements = [
            f"CREATE TRIGGER {name} BEFORE TRUNCATE ON {table} FOR EACH STATEMENT "
            f"EXECUTE FUNCTION {PG_FUNCTION}()"
            for name, table in PG_TRUNCATE_TRIGGERS.items()
        ]
        return [function, *rows, *statements]
    raise NotImplementedError(f"timebank_0003: no immutability triggers for {dialect}")


def downgrade_sql(dialect: str) -> list[str]:
    """The statements that drop what :func:`upgrade_sql` installs."""
    if dialect == "sqlite":
        return [f"DROP TRIGGER IF EXISTS {name}" for name in TRIGGERS]
    if dialect == "postgresql":
        on = {name: table for name, (table, _) in TRIGGERS.items()} | PG_TRUNCATE_TRIGGERS
        return [
            *(f"DROP TRIGGER IF EXISTS {name} ON {table}" for name, table in on.items()),
            f"DROP FUNCTION IF EXISTS {PG_FUNCTION}()",
        ]
    raise NotImplementedError(f"timebank_0003: no immutability triggers for {dialect}")


def upgrade() -> None:
    for statement in upgrade_sql(op.get_bind().dialect.name):
        op.execute(statement)


def downgrade() -> None:
    for statement in downgrade_sql(op.get_bind().dialect.name):
        op.execute(statement)
