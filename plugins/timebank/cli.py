"""``c365 timebank``: accounts, verification, spending and giving, statements, checks.

Thin commands over the plugin's modules: each write runs in one ``district.begin()``
block with its audit entry (``timebank.*``), so it happens whole or not at all; a rule
that forbids it is a one-line ``error: ...`` with exit code 2. Hours are shown exactly
as hours and minutes (``1:30``); they are typed as ``1.5`` or ``1:30``. Accounts are
named by a resident's ID number, a handler's code (a team, or a volunteer's own
account), ``pool:AREA`` or ``#ID``.

The commands live in ``cli_accounts``, ``cli_hours``, ``cli_money`` and ``cli_family``
and are imported only when used, so that ``c365 --help`` stays fast.
"""

from __future__ import annotations

from community365.cli.lazy import Lazy, LazyGroup

_P = "community365_timebank."

COMMANDS = {
    "join": Lazy(_P + "cli_accounts", "join_cmd", "Join the bank of your community (入会)."),
    "leave": Lazy(_P + "cli_accounts", "leave_cmd", "Close an account (退出)."),
    "freeze": Lazy(_P + "cli_accounts", "freeze_cmd", "Freeze an account (冻结)."),
    "unfreeze": Lazy(_P + "cli_accounts", "unfreeze_cmd", "Unfreeze an account."),
    "accounts": Lazy(_P + "cli_accounts", "accounts_cmd", "List accounts and balances."),
    "balance": Lazy(_P + "cli_accounts", "balance_cmd", "One account's balance (余额)."),
    "statement": Lazy(_P + "cli_accounts", "statement_cmd", "An account's entries (对账单), CSV."),
    "pending": Lazy(_P + "cli_hours", "pending_cmd", "Hours waiting for a sign-off (待确认)."),
    "verify": Lazy(_P + "cli_hours", "verify_cmd", "Sign off served hours (确认)."),
    "reject": Lazy(_P + "cli_hours", "reject_cmd", "Refuse pending hours, with a reason."),
    "transfer": Lazy(_P + "cli_money", "transfer_cmd", "Spend hours on help (支取)."),
    "gift": Lazy(_P + "cli_money", "gift_cmd", "Give hours to a family member (赠与)."),
    "donate": Lazy(_P + "cli_money", "donate_cmd", "Donate hours to the pool (捐赠)."),
    "reverse": Lazy(_P + "cli_money", "reverse_cmd", "Undo a transfer by its opposite (冲正)."),
    "reconcile": Lazy(_P + "cli_money", "reconcile_cmd", "Check every balance against entries."),
    "stats": Lazy(_P + "cli_money", "stats_cmd", "Hours earned, spent; 帮扶之星 candidates."),
    "family": Lazy(_P + "cli_family", "family_cli", "Relatives hours may be given to (亲属)."),
}

timebank_cli = LazyGroup(
    "timebank",
    lazy=COMMANDS,
    help="时间银行 Time bank: members' hours, verified service, gifts and the pool.",
)
