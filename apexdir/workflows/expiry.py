"""Password expiry notices: warn before a password expires (15, 7, 1 days by default), tell
after. The arithmetic is `apexdir.rules.expiry`; this module reads the directory and sends.

The maximum age is the directory's own (`pwdMaxAge` of the default ppolicy entry, the one
slapd enforces); the configuration is only the fallback when that entry cannot tell.

One paged search per pass (`apexdir.directory.expiry`), whatever the number of warning
levels, selective on the server side (`pwdChangedTime` ranges: `rules.expiry.scan_ranges`;
deliberately unindexed: that module says why). With the daily
cron that is a day of password changes per threshold (≈ 4 % of the accounts) instead of a
month (≈ 18 %): the search and the LDAP client's parsing of what it returns are what a pass costs.
The cursor (when, with which maximum age and levels) is saved in the state store only
after a complete pass (`finish`), so an interrupted pass is read again; an account that
crossed a threshold while it was not active gets the next notice, not the one it missed.

Each notice is sent once per password: the account records `expiry-<level>:<pwdChangedTime>`
or `expired:<pwdChangedTime>` in `apexNotice` (a new password means a new pwdChangedTime,
hence new notices; housekeeping drops the stale values), with a compare-and-swap before the
mail is queued (`notices.mark_then_commit`). Accounts that are not active are left out;
partner accounts all live under the default policy (an account given another one with
pwdPolicySubentry is warned by the default age).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from apexdir.directory import expiry as scan
from apexdir.directory import notices
from apexdir.directory.expiry import Candidate
from apexdir.rules import expiry as rules
from apexdir.runtime import Runtime
from apexdir.state.jobs import get_cursor, set_cursor
from apexdir.workflows.notices import Record, mark_then_commit
from apexdir.workflows.notify import Mail

JOB = "expiry"


def candidates(rt: Runtime, ranges: list[rules.Range]) -> list[Candidate]:
    """The active accounts whose password changed in one of `ranges` (one paged search)."""
    return scan.candidates(rt.directory, rt.layout, ranges)


def max_age(rt: Runtime) -> timedelta:
    """pwdMaxAge of the default policy in the directory; the configuration if unreadable."""
    seconds = scan.max_age_seconds(rt.directory, rt.layout)
    if seconds is None:
        seconds = rt.settings.policy.password_max_age_days * 86400
    return timedelta(seconds=seconds)


def levels(rt: Runtime) -> list[int]:
    return rules.levels_of(rt.settings.policy.password_expiry_warnings_days)


@dataclass
class Pass:
    """One pass: its moment, the policy, and the accounts that may owe a notice."""

    now: datetime
    max_age: timedelta
    levels: list[int]
    accounts: list[Candidate]

    @property
    def max_age_days(self) -> float:
        return round(self.max_age / rules.DAY, 3)


def begin(rt: Runtime, *, full: bool = False) -> Pass | None:
    """The accounts to look at (`full`: the whole window, whatever the cursor says); None
    when passwords never expire."""
    now, age = rt.clock(), max_age(rt)
    if age <= timedelta(0):
        return None
    steps = levels(rt)
    cursor = None if full else get_cursor(rt.db, JOB)
    return Pass(now, age, steps, candidates(rt, rules.scan_ranges(now, age, steps, cursor)))


def notify(rt: Runtime, run: Pass, account: Candidate) -> str | None:
    """Send the notice `account` owes, once: "warned", "expired", "already_sent" or None."""
    changed, mail, uid = account.changed, account.mail, account.identifier
    if not changed or not mail or not uid:
        return None
    owed = rules.due(changed, run.now, run.max_age, run.levels)
    if owed is None:
        return None
    if owed.notice in account.notices:
        return "already_sent"
    message, record = _notice(owed, mail, uid)
    sent = mark_then_commit(rt, notices.added(account.dn, owed.notice), [message], [record])
    if not sent:
        return "already_sent"
    return "warned" if owed.kind == "warning" else "expired"


def _notice(owed: rules.Due, mail: str, uid: str) -> tuple[Mail, Record]:
    if owed.kind == "warning":
        context: dict[str, Any] = {
            "identifiant": uid,
            "jours": owed.days_left,
            "date_expiration": owed.expires_at,
        }
        details = {"days_left": owed.days_left, "expires_at": owed.expires_at.isoformat()}
        return (
            Mail("password_expiry_warning", [mail], context),
            Record("password.expiry-warning", uid, details),
        )
    return (
        Mail("password_expired", [mail], {"identifiant": uid}),
        Record("password.expired", uid, {"expired_at": owed.expires_at.isoformat()}),
    )


def finish(rt: Runtime, run: Pass) -> None:
    """A complete pass: the next one reads the crossings since this one."""
    set_cursor(rt.db, JOB, rules.cursor_of(run.now, run.max_age, run.levels), clock=rt.clock)
