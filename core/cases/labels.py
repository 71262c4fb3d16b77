"""Chinese and English names of statuses, channels and ratings, for every output."""

from __future__ import annotations

STATUS_LABELS: dict[str, tuple[str, str]] = {
    "received": ("已受理", "received"),
    "assigned": ("已派单", "assigned"),
    "accepted": ("办理中", "accepted"),
    "resolved": ("已办结", "resolved"),
    "closed": ("已结案", "closed"),
    "withdrawn": ("已撤回", "withdrawn"),
    "duplicate": ("重复件", "duplicate"),
    "rejected": ("不予受理", "rejected"),
}

CHANNEL_LABELS: dict[str, tuple[str, str]] = {
    "hotline": ("365热线", "hotline"),
    "sms": ("短信", "SMS"),
    "web": ("网上/APP", "web or app"),
    "walk_in": ("面对面", "walk-in"),
    "visit": ("上门走访", "home visit"),
    "patrol": ("巡查", "patrol"),
}

RATING_LABELS: dict[str, tuple[str, str]] = {
    "satisfied": ("满意", "satisfied"),
    "fairly_satisfied": ("基本满意", "fairly satisfied"),
    "unsatisfied": ("不满意", "unsatisfied"),
}


def label(table: dict[str, tuple[str, str]], key: str) -> str:
    """``已受理 received``: the Chinese name, then the key."""
    return f"{table[key][0]} {key}"
