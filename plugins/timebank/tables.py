"""The time bank's tables: banks, accounts, transfers and their entries, pending hours.

Hours are kept as integer minutes (1 hour = 1 time coin = 60 minutes): exact, and
summable in SQL without rounding. A transfer is immutable and writes exactly two entries,
minus on the account it leaves and plus on the one it reaches, in the same bank; each
account's ``balance`` is the running sum of its entries, kept in the same transaction.
"""

from __future__ import annotations

from sqlalchemy import (
    CheckConstraint,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

from community365.db.schema import NAMING, UTCDateTime, areas, handlers, persons

metadata = MetaData(naming_convention=NAMING)

#: The kinds of account and of transfer, with the names users see.
ACCOUNT_KINDS = {"member": "成员", "pool": "公共池", "team": "队伍", "clearing": "清算"}
ACCOUNT_STATUSES = {"active": "正常", "frozen": "冻结", "closed": "已注销"}
#: A verified record whose earning was reversed (冲正) becomes "reversed".
PENDING_STATUSES = ("pending", "verified", "rejected", "reversed")
TRANSFER_KINDS = {
    "earn": "服务所得",
    "spend": "支取",
    "gift": "转赠",
    "donate": "捐赠",
    "surplus": "超限转入公共池",
    "clear": "跨行清算",
    "reverse": "冲正",
}

banks = Table(
    "tb_banks",
    metadata,
    Column("id", Integer, primary_key=True),
    # The area (normally a community, 社区) the bank serves; its code names the bank.
    Column("area_id", ForeignKey(areas.c.id), nullable=False, unique=True),
    Column("opened_at", UTCDateTime, nullable=False),
)

accounts = Table(
    "tb_accounts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("bank_id", ForeignKey("tb_banks.id"), nullable=False, index=True),
    Column("kind", String(10), nullable=False),
    # Who the account is for, unique in its bank: member:<person id>, pool, team:<handler
    # id>, clearing:<peer bank id>.
    Column("owner", String(40), nullable=False),
    Column("person_id", ForeignKey(persons.c.id)),  # member
    Column("handler_id", ForeignKey(handlers.c.id)),  # team
    Column("peer_bank_id", ForeignKey("tb_banks.id")),  # clearing: the other bank
    Column("status", String(10), nullable=False, server_default="active"),
    Column("balance", Integer, nullable=False, server_default=text("0")),
    # The lowest balance allowed (minutes, <= 0); NULL: no floor (the pool, clearing).
    Column("floor", Integer),
    Column("opened_at", UTCDateTime, nullable=False),
    CheckConstraint("kind IN ({})".format(", ".join(f"'{k}'" for k in ACCOUNT_KINDS)), name="kind"),
    CheckConstraint(
        "status IN ({})".format(", ".join(f"'{s}'" for s in ACCOUNT_STATUSES)), name="status"
    ),
    CheckConstraint("floor IS NULL OR balance >= floor", name="floor"),
    UniqueConstraint("bank_id", "owner", name="uq_tb_accounts_owner"),
)

transfers = Table(
    "tb_transfers",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("bank_id", ForeignKey("tb_banks.id"), nullable=False, index=True),
    Column("kind", String(10), nullable=False),
    Column("from_account", ForeignKey("tb_accounts.id"), nullable=False),
    Column("to_account", ForeignKey("tb_accounts.id"), nullable=False),
    Column("minutes", Integer, nullable=False),
    Column("at", UTCDateTime, nullable=False, index=True),
    Column("actor", String(100), nullable=False),
    Column("memo", Text, nullable=False, server_default=""),
    Column("case_ref", String(20), index=True),
    # A reversal names what it reverses; a transfer is reversed at most once.
    Column("reverses", ForeignKey("tb_transfers.id"), unique=True),
    # The two legs of a cross-bank transfer (and of its reversal) name each other; each
    # leg is in its own bank, between a member or team and the bank's clearing account.
    Column("pair", ForeignKey("tb_transfers.id"), unique=True),
    CheckConstraint("minutes > 0", name="positive"),
    CheckConstraint("from_account <> to_account", name="two_accounts"),
    CheckConstraint(
        "kind IN ({})".format(", ".join(f"'{k}'" for k in TRANSFER_KINDS)), name="kind"
    ),
)

entries = Table(
    "tb_entries",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("transfer_id", ForeignKey("tb_transfers.id"), nullable=False, index=True),
    Column("account_id", ForeignKey("tb_accounts.id"), nullable=False),
    Column("minutes", Integer, nullable=False),  # signed
    Column("balance_after", Integer, nullable=False),
    Index("ix_tb_entries_account_id_id", "account_id", "id"),
)

# Hours served, waiting for the recipient's confirmation or a coordinator's sign-off.
pending = Table(
    "tb_pending",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("case_ref", String(20), nullable=False, unique=True),
    Column("volunteer_account", ForeignKey("tb_accounts.id"), nullable=False),
    # Who pays: NULL while nobody is to pay yet (the note says why).
    Column("payer_account", ForeignKey("tb_accounts.id")),
    Column("minutes", Integer, nullable=False),
    Column("signed_in", UTCDateTime),
    Column("signed_out", UTCDateTime),
    Column("status", String(10), nullable=False, server_default="pending"),
    Column("decided_by", String(100)),
    Column("decided_at", UTCDateTime),
    Column("transfer_id", ForeignKey("tb_transfers.id")),
    # Added for earning (earning.py): the time as resolved (before rounding and caps), the
    # local day served (the daily cap counts per day), when it was recorded, the helped
    # resident, how it was verified (recipient or coordinator), and the decision's note.
    Column("claimed_minutes", Integer),
    Column("served_on", Date),
    Column("recorded_at", UTCDateTime),
    Column("recipient_id", ForeignKey(persons.c.id)),
    Column("verified_as", String(12)),
    Column("note", Text, nullable=False, server_default=""),
    CheckConstraint("minutes > 0", name="positive"),
    CheckConstraint(
        "status IN ({})".format(", ".join(f"'{s}'" for s in PENDING_STATUSES)), name="status"
    ),
    Index("ix_tb_pending_volunteer_day", "volunteer_account", "served_on"),
)

RELATIONS = ("spouse", "parent", "grandparent")

# Family ties that allow gifts of hours: ``relative_id`` is ``person_id``'s spouse, parent
# or grandparent (家庭成员间转赠).
family = Table(
    "tb_family",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("person_id", ForeignKey(persons.c.id), nullable=False, index=True),
    Column("relative_id", ForeignKey(persons.c.id), nullable=False),
    Column("relation", String(12), nullable=False),
    Column("recorded_at", UTCDateTime, nullable=False),
    Column("recorded_by", String(100), nullable=False),
    CheckConstraint(
        "relation IN ({})".format(", ".join(f"'{r}'" for r in RELATIONS)), name="relation"
    ),
    CheckConstraint("person_id <> relative_id", name="two_persons"),
    UniqueConstraint("person_id", "relative_id", name="uq_tb_family_pair"),
)
