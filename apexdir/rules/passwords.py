"""Password policy and strength gauge (SPEC §4).

The directory enforces the same policy with ppolicy; this module exists to explain each
unmet rule in French before a request reaches the server. No message ever quotes the
password: messages are logged and shown.
"""

from __future__ import annotations

import unicodedata
from typing import Literal

from apexdir.errors import Invalid, PolicyViolation
from apexdir.messages import text

MIN_LENGTH = 12
MAX_LENGTH = 20
MIN_DIGITS = 2
STRONG_LENGTH = 16
STRONG_DISTINCT = 8

Strength = Literal["faible", "moyen", "élevé"]


def _is_digit(char: str) -> bool:
    # Decimal digits only: "²" or "½" are numeric for Python but are typed as symbols.
    return char.isdecimal()


def _is_special(char: str) -> bool:
    return not char.isalpha() and not _is_digit(char)


def _has_control(password: str) -> bool:
    # Control and format characters cannot be typed reliably in a form and may be cut by
    # the transports in between; refusing them avoids passwords that cannot be re-entered.
    return any(unicodedata.category(char) in ("Cc", "Cf") for char in password)


def check_password(
    password: str, *, min_length: int = MIN_LENGTH, max_length: int = MAX_LENGTH
) -> list[str]:
    """One French message per unmet rule; an empty list means the password is acceptable.

    Upper and lower case are those of any alphabet ("É" is upper case); digits are decimal
    digits; a special character is anything that is neither a letter nor a digit, space
    included. The history rule (10 previous passwords) needs the directory: ppolicy checks it.
    """
    if not 0 < min_length <= max_length:
        raise ValueError(f"invalid length limits: {min_length}..{max_length}")
    messages: list[str] = []
    if not min_length <= len(password) <= max_length:
        messages.append(text("password.length", {"min": min_length, "max": max_length}))
    if not any(char.isupper() for char in password):
        messages.append(text("password.upper"))
    if not any(char.islower() for char in password):
        messages.append(text("password.lower"))
    if sum(_is_digit(char) for char in password) < MIN_DIGITS:
        messages.append(text("password.digits", {"count": MIN_DIGITS}))
    if not any(_is_special(char) for char in password):
        messages.append(text("password.special"))
    if _has_control(password):
        messages.append(text("password.control"))
    return messages


def enforce_password(
    password: str,
    confirmation: str,
    *,
    min_length: int = MIN_LENGTH,
    max_length: int = MAX_LENGTH,
) -> None:
    """Raise unless `password` meets the policy and `confirmation` repeats it.

    The policy is checked first: when it fails, both fields must be typed again anyway, and
    the user needs the list of rules more than the mismatch.
    """
    messages = check_password(password, min_length=min_length, max_length=max_length)
    if messages:
        raise PolicyViolation(code="password.policy", field="password", details=messages)
    if password != confirmation:
        raise Invalid(code="password.mismatch", field="confirmation")


def _classes(password: str) -> int:
    return sum(
        (
            any(char.isupper() for char in password),
            any(char.islower() for char in password),
            any(_is_digit(char) for char in password),
            any(_is_special(char) for char in password),
        )
    )


def strength(password: str) -> Strength:
    """The gauge shown where a password is chosen.

    - "faible": fewer than 12 characters, or fewer than 3 of the 4 classes (upper case,
      lower case, digit, special);
    - "élevé": at least 16 characters, all 4 classes and at least 8 distinct characters
      (so that "Aaaaaaaaaaaaaa1!" is not rated high for its length alone);
    - "moyen": everything else. Any password accepted by the default policy has 12+
      characters and all 4 classes, so it is at least "moyen".
    """
    classes = _classes(password)
    if len(password) < MIN_LENGTH or classes < 3:
        return "faible"
    if len(password) >= STRONG_LENGTH and classes == 4 and len(set(password)) >= STRONG_DISTINCT:
        return "élevé"
    return "moyen"
