"""Phone numbers, and masking personal numbers in output.

Output masks ID numbers (110105********123X) and phones (138****5678) unless the user
asks to reveal them, which is recorded in the audit log.
"""

from __future__ import annotations

import re

# [0-9], not \d: \d also matches full-width and other Unicode digits.
_MOBILE = re.compile(r"1[3-9][0-9]{9}")
_LANDLINE = re.compile(r"0[0-9]{2,3}-?[0-9]{7,8}")
_SPACES = re.compile(r"[\s()]")


class InvalidPhone(ValueError):
    pass


# A match when the text is a mobile number exactly as stored (11 digits, 1[3-9]...).
match_mobile = _MOBILE.fullmatch


def parse_phone(text: str) -> str:
    """A mainland mobile (11 digits, 1[3-9]...) or a landline with area code (0574-87654321).

    Spaces, dashes inside a mobile and a leading +86 are removed.
    """
    if match_mobile(text):  # the common case, already as stored
        return text
    phone = _SPACES.sub("", text)
    phone = phone.removeprefix("+86").removeprefix("0086")
    if _MOBILE.fullmatch(phone.replace("-", "")):
        return phone.replace("-", "")
    if _LANDLINE.fullmatch(phone):
        return phone
    raise InvalidPhone(
        f"not a phone number: {text.strip()!r} (mobile 1xxxxxxxxxx or landline 0xxx-xxxxxxx)"
    )


def mask_id_number(number: str | None) -> str | None:
    if not number:
        return number
    return (
        number[:6] + "*" * (len(number) - 10) + number[-4:]
        if len(number) > 10
        else "*" * len(number)
    )


def mask_phone(phone: str | None) -> str | None:
    if not phone:
        return phone
    digits = phone.replace("-", "")
    return digits[:3] + "****" + digits[-4:] if len(digits) >= 11 else phone[:-4] + "****"
