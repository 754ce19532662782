"""Dormant accounts (SPEC §10, issue 21 item 7): who owes a warning, who a suspension.

An account's **activity** is the latest of:
- its last login: slapd's lastbind `authTimestamp`, written by the provider that served
  the bind and replicated to the others like any write (docs/replication.md), so it is the
  same on every node. Every successful bind *as the partner* counts — the portal's (the
  password step of every login, OpenID Connect and ProConnect included) and an
  application's that checks a partner's password by binding as him: both are the person
  using his account. An application's own service account (`ou=apps,ou=system`) binds as
  itself and moves its own timestamp, never a partner's;
- its creation (`createTimestamp`): an account that never logged in counts from the day
  it was made, so an invitation completed and never used is dormant after the same delay;
- its last reactivation (the `reactivated:` mark below): an administrateur who lifts a
  suspension vouches for the account, and the delay starts again from then.

The state lives on the account, in `apexDormancy` (single-valued, so every node agrees
and every change is a compare-and-swap on the exact value):
- `warned:<activity>:<deadline>`: the warning was mailed for the inactivity that started
  at <activity>; the account is suspended at <deadline> unless its activity moves (a
  login), which cancels the warning;
- `suspended:<when>`: suspended for inactivity (reason « inactivité »);
- `reactivated:<when>`: a suspension was lifted at <when>.
Times are GeneralizedTime (UTC, seconds). The deadline told in the mail is the one the
daemon keeps: `activity + days`, but never less than `lead` days after the warning (a first
run on an old directory, a daemon stopped for weeks): nobody is suspended without having
been warned `lead` days before.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from apexdir.clock import from_generalized_time, to_generalized_time

WARNED, SUSPENDED, REACTIVATED = "warned", "suspended", "reactivated"
WARN, SUSPEND, CLEAR = "warn", "suspend", "clear"


@dataclass(frozen=True)
class Policy:
    """`days` without activity before suspension (0: never), warning `lead_days` before."""

    days: int
    lead_days: int = 30

    @property
    def enabled(self) -> bool:
        return self.days > 0

    @property
    def lead(self) -> timedelta:
        return timedelta(days=max(0, min(self.lead_days, self.days)))


@dataclass(frozen=True)
class Mark:
    """A value of `apexDormancy`."""

    kind: str
    at: datetime
    deadline: datetime | None = None

    def format(self) -> str:
        parts = [self.kind, to_generalized_time(self.at)]
        if self.deadline is not None:
            parts.append(to_generalized_time(self.deadline))
        return ":".join(parts)


def parse(value: str | None) -> Mark | None:
    """The mark of `value`; None for no value or one this version cannot read."""
    if not value:
        return None
    kind, _, rest = value.partition(":")
    times = rest.split(":")
    try:
        moments = [from_generalized_time(t) for t in times if t]
    except ValueError:
        return None
    if kind == WARNED and len(moments) == 2:
        return Mark(kind, moments[0], moments[1])
    if kind in (SUSPENDED, REACTIVATED) and len(moments) == 1:
        return Mark(kind, moments[0])
    return None


def activity(
    last_login: datetime | None, created: datetime | None, mark: Mark | None
) -> datetime | None:
    """The latest sign of life: login, creation, reactivation (None: nothing known)."""
    reactivated = mark.at if mark is not None and mark.kind == REACTIVATED else None
    known = [t for t in (last_login, created, reactivated) if t is not None]
    return max(known) if known else None


def threshold(now: datetime, policy: Policy) -> datetime:
    """Accounts whose last login and creation are both at or before this moment may owe a
    warning or a suspension (the bound of the daemon's one search)."""
    return now - timedelta(days=policy.days) + policy.lead


def same_moment(a: datetime, b: datetime) -> bool:
    """Equal to the second, as GeneralizedTime keeps them."""
    return to_generalized_time(a) == to_generalized_time(b)


@dataclass(frozen=True)
class Due:
    """What the daemon owes an active account now: `warn` (mail, then suspend at
    `deadline`), `suspend` (the deadline of the warning passed), `clear` (a warning made
    stale by a login: the pending suspension is cancelled)."""

    kind: str
    deadline: datetime | None = None


def due(since: datetime | None, mark: Mark | None, now: datetime, policy: Policy) -> Due | None:
    """The step owed by an active account whose activity is `since` and mark `mark`."""
    if not policy.enabled or since is None:
        return None
    if mark is not None and mark.kind == WARNED:
        if not same_moment(mark.at, since):
            # Activity since the warning (a login): the pending suspension is cancelled. Were
            # the account dormant still, the next pass would warn it anew.
            return Due(CLEAR)
        assert mark.deadline is not None
        return Due(SUSPEND, mark.deadline) if now >= mark.deadline else None
    suspend_at = since + timedelta(days=policy.days)
    if now >= suspend_at - policy.lead:
        return Due(WARN, max(suspend_at, now + policy.lead))
    return None
