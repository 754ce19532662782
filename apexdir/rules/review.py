"""The yearly review of a structure's habilitations (issue 21 item 10): when a review is
due, when its reminders go, when it is overdue, what is left to decide. Pure: the reviews
are read and written by `apexdir.directory.reviews`, acted on by `workflows.review`.

Decisions where the issue is silent:
- a structure's first review is due `review_interval_days` after its creation, the next
  ones `review_interval_days` after the opening of the previous one (a fixed yearly
  rhythm, whether the administrateurs finished early or late); a review still open or
  overdue is never doubled; an agent may open one early (`apexdir review open SIRET`);
- what is reviewed: the habilitations of the structure's responsables and collaborateurs —
  those an administrateur grants and may withdraw (SPEC §6); the administrateurs' own are
  granted by DGFiP's agents and are not his to confirm;
- a habilitation is pending while it is held and this review has not confirmed it (one
  granted during the review is pending too; one withdrawn then granted again as well);
- reminders on days 0 (the opening), 14 and 25; one mail per reminder day, the latest
  reached only when the daemon was stopped across several;
- overdue after `review_days`: reported to the agents once (their mailbox, the journal and
  `apexdir review overdue`), still open to the administrateurs; with `review_auto_revoke`
  the daemon withdraws what is left unconfirmed and closes the review.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from apexdir.errors import Invalid
from apexdir.models import Decision, ReviewStatus

# The short names the rules and their callers use (`r.OPEN`, `r.CONFIRMED`).
OPEN = ReviewStatus.OPEN
OVERDUE = ReviewStatus.OVERDUE
COMPLETED = ReviewStatus.COMPLETED
CLOSED = ReviewStatus.CLOSED
ACTIVE = frozenset({OPEN, OVERDUE})

CONFIRMED = Decision.CONFIRMED
WITHDRAWN = Decision.WITHDRAWN
# The form's values (French, as the radios say) → the decision kept.
CHOICES = {"confirmer": CONFIRMED, "retirer": WITHDRAWN}

REMINDER_DAYS = (0, 14, 25)
# The account types whose habilitations an administrateur reviews.
REVIEWED_TYPES = ("responsable", "collaborateur")


def new_review_id(siret: str, moment: datetime) -> str:
    """A review's name: the structure and the opening day, then a random part (two nodes
    opening at once pick distinct names; the store keeps only one active)."""
    return f"{siret}-{moment.astimezone(UTC):%Y%m%d}-{secrets.token_hex(3)}"


def next_due(
    last_opened: datetime | None, created: datetime | None, interval_days: int
) -> datetime | None:
    """When the next review of a structure is due; None when nothing tells (no review and
    no creation time)."""
    start = last_opened or created
    return start + timedelta(days=interval_days) if start else None


def is_due(
    now: datetime,
    *,
    last_opened: datetime | None,
    last_active: bool,
    created: datetime | None,
    interval_days: int,
) -> bool:
    """Whether a new review opens now: none active, and the interval reached."""
    if last_active:
        return False
    due = next_due(last_opened, created, interval_days)
    return due is not None and now >= due


def deadline(opened: datetime, review_days: int) -> datetime:
    return opened + timedelta(days=review_days)


def is_overdue(opened: datetime, now: datetime, review_days: int) -> bool:
    return now >= deadline(opened, review_days)


def reminder_days(review_days: int) -> tuple[int, ...]:
    """The reminder days that fall within the review's days (all of them by default)."""
    return tuple(d for d in REMINDER_DAYS if d < review_days)


def reminder_due(
    opened: datetime, now: datetime, sent: Iterable[int], review_days: int
) -> int | None:
    """The reminder day to send now, if any: the latest reached, unless it or a later one
    went already (after a stop across two reminder days, one mail, not two)."""
    done = set(sent)
    reached = [d for d in reminder_days(review_days) if now >= opened + timedelta(days=d)]
    if not reached:
        return None
    latest = reached[-1]
    if any(d >= latest for d in done):
        return None
    return latest


def days_left(opened: datetime, now: datetime, review_days: int) -> int:
    """Whole days until the deadline (0 on its day and after)."""
    left = deadline(opened, review_days) - now
    return max(0, left.days + (1 if left.seconds else 0)) if left > timedelta(0) else 0


@dataclass(frozen=True)
class Pair:
    """A habilitation under review: an account's identifier and "APP/PROFILE"."""

    identifier: str
    habilitation: str


def pending(held: Iterable[Pair], confirmed: Iterable[tuple[str, str]]) -> list[Pair]:
    """The habilitations held that this review has not confirmed, in order (one withdrawn
    and granted again since is pending again)."""
    done = {(i.lower(), h) for i, h in confirmed}
    return sorted(
        (p for p in held if (p.identifier.lower(), p.habilitation) not in done),
        key=lambda p: (p.identifier, p.habilitation),
    )


def parse_choices(items: Iterable[tuple[str, str]]) -> dict[Pair, Decision]:
    """The page's answers: field names « d:IDENTIFIER|APP/PROFILE » with « confirmer » or
    « retirer » (an empty answer is no decision yet). Anything else is refused."""
    out: dict[Pair, Decision] = {}
    for name, value in items:
        if not name.startswith("d:"):
            continue
        identifier, sep, key = name[2:].partition("|")
        if not sep or not identifier or "/" not in key:
            raise Invalid(code="review.bad_choice")
        if not value:
            continue
        if value not in CHOICES:
            raise Invalid(code="review.bad_choice")
        out[Pair(identifier.lower(), key)] = CHOICES[value]
    return out
