"""How the login and password steps say counts and moments in French. Pure: no I/O.

"2 essais", "1 minute", « Dernière connexion le 1er août 2024 à 08:05 » (Paris time), the
password's expiry and the lockout's wait as SPEC §7 words them.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TypedDict
from zoneinfo import ZoneInfo

from apexdir import messages

PARIS = ZoneInfo("Europe/Paris")
MONTHS = (
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
)


def plural(count: int, word: str) -> str:
    return f"{count} {word}{'s' if count > 1 else ''}"


def format_last_login(moment: datetime | None) -> str:
    """The text SPEC §7 shows, e.g. "Dernière connexion le 29 février 2024 à 14:07" (Paris)."""
    if moment is None:
        return "Première connexion"
    local = moment.astimezone(PARIS)
    day = "1er" if local.day == 1 else str(local.day)
    return f"Dernière connexion le {day} {MONTHS[local.month - 1]} {local.year} à {local:%H:%M}"


def days_left(seconds: int) -> int:
    """Whole days, rounded up: 14 days and 3 hours left is "dans 15 jours"."""
    return -(-seconds // 86400)


def expiry_warning(seconds: int) -> str:
    if seconds < 86400:
        return "Votre mot de passe expire dans moins de 24 heures : changez-le dès maintenant."
    days = days_left(seconds)
    return f"Votre mot de passe expire dans {plural(days, 'jour')} : pensez à le changer."


def grace_warning(grace_remaining: int) -> str:
    return (
        "Votre mot de passe a expiré : il vous reste "
        f"{plural(grace_remaining, 'connexion')} pour le changer."
    )


def locked_message(locked_at: datetime | None, now: datetime, minutes: int) -> str:
    left = minutes
    if locked_at is not None:
        remaining = (locked_at + timedelta(minutes=minutes) - now).total_seconds()
        left = max(1, min(minutes, -(-int(remaining) // 60)))
    return messages.text("login.locked", {"wait": plural(left, "minute")})


def wait_text(seconds: int) -> str:
    if seconds < 60:
        return plural(seconds, "seconde")
    return plural(-(-seconds // 60), "minute")


class DateTime(TypedDict):
    """A moment as the mails say it: `date` (31/12/2024) and `heure` (23:59 or 23:59:59)."""

    date: str
    heure: str


def paris_date_time(moment: datetime) -> DateTime:
    """`date` and `heure` (to the second) of the personal-data confirmation mail."""
    local = moment.astimezone(PARIS)
    return {"date": local.strftime("%d/%m/%Y"), "heure": local.strftime("%H:%M:%S")}
