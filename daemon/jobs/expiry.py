"""The expiry job: warn before a password expires (15, 7, 1 days by default), tell after.

The maximum age is the directory's own (`pwdMaxAge` of the default ppolicy entry, the one
slapd enforces); the configuration is only the fallback when that entry cannot tell.

One paged search per pass, whatever the number of warning levels: every account that can
owe a notice has its `pwdChangedTime` in one contiguous window,

    [now - maxAge - lookback, now - maxAge + largest level]

so slapd selects them with a range filter and returns only the attributes needed; the level
is worked out here. `lookback` (the largest level, 15 days by default) is how long after
expiry the "expired" mail is still sent: it covers a daemon stopped for days, and keeps a
first run on an old directory from mailing every partner whose password expired years ago.
There is deliberately no index on `pwdChangedTime` (docs/MEASUREMENTS: an `eq` index made
this very search 40 times slower).

Each notice is sent once per password: the account records `expiry-<level>:<pwdChangedTime>`
or `expired:<pwdChangedTime>` in `apexNotice` (a new password means a new pwdChangedTime,
hence new notices; housekeeping drops the stale values). Only the most urgent level is sent:
an account found with 6 days left gets the 7-day warning, not the 15-day one as well.
Accounts that are not active are left out; partner accounts all live under the default
policy (an account given another one with pwdPolicySubentry is warned by the default age).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from apexdir.clock import Clock, from_generalized_time, system_clock
from apexdir.config import Settings
from apexdir.daemon.jobs.common import Mail, Record, Stop, mark_then_commit, never, one_pass, text
from apexdir.directory import filters as f
from apexdir.runtime import Runtime

DAY = timedelta(days=1)
ATTRS = ["uid", "mail", "pwdChangedTime", "apexNotice", "apexStatus"]


@dataclass(frozen=True)
class Due:
    """The notice an account owes now."""

    kind: str  # "warning" or "expired"
    notice: str
    expires_at: datetime
    days_left: int


def levels_of(settings: Settings) -> list[int]:
    """Warning levels in days, largest first; non-positive values are ignored."""
    return sorted({d for d in settings.policy.password_expiry_warnings_days if d > 0}, reverse=True)


def lookback(levels: list[int]) -> timedelta:
    return max(levels, default=1) * DAY


def window(now: datetime, max_age: timedelta, levels: list[int]) -> tuple[datetime, datetime]:
    """The pwdChangedTime range of the accounts that may owe a notice at `now`."""
    return now - max_age - lookback(levels), now - max_age + max(levels, default=0) * DAY


def due(changed: str, now: datetime, max_age: timedelta, levels: list[int]) -> Due | None:
    """The notice owed for a password changed at `changed` (GeneralizedTime), if any."""
    expires = from_generalized_time(changed) + max_age
    left = expires - now
    if left <= timedelta(0):
        if left <= -lookback(levels):
            return None
        return Due("expired", f"expired:{changed}", expires, 0)
    for level in sorted(levels):
        if left <= level * DAY:
            return Due("warning", f"expiry-{level}:{changed}", expires, math.ceil(left / DAY))
    return None


def max_age(rt: Runtime) -> timedelta:
    """pwdMaxAge of the default policy in the directory; the configuration if unreadable."""
    entry = rt.directory.get(rt.layout.default_policy_dn, ["pwdMaxAge"])
    try:
        seconds = int(entry.get("pwdMaxAge")) if entry else None  # type: ignore[arg-type]
    except (TypeError, ValueError):
        seconds = None
    if seconds is None:
        seconds = rt.settings.policy.password_max_age_days * 86400
    return timedelta(seconds=seconds)


def run(rt: Runtime, *, stop: Stop = never) -> dict[str, Any]:
    """One pass: returns how many warnings and expiry mails were queued."""
    now = rt.clock()
    age = max_age(rt)
    counts: dict[str, Any] = {"warned": 0, "expired": 0, "already_sent": 0}
    if age <= timedelta(0):
        return {**counts, "max_age_days": 0}  # passwords never expire: nothing to say
    levels = levels_of(rt.settings)
    low, high = window(now, age, levels)
    candidates = rt.directory.search(
        rt.layout.people_dn,
        f.and_(
            f.eq("objectClass", "apexAccount"),
            f.ge("pwdChangedTime", low),
            f.le("pwdChangedTime", high),
        ),
        ATTRS,
        scope="one",
    )
    for entry in candidates:
        if stop():
            break
        changed, mail, uid = (text(entry.get(a)) for a in ("pwdChangedTime", "mail", "uid"))
        status = text(entry.get("apexStatus")) or "active"
        if not changed or not mail or not uid or status != "active":
            continue
        owed = due(changed, now, age, levels)
        if owed is None:
            continue
        if owed.notice in {text(n) for n in entry.all("apexNotice")}:
            counts["already_sent"] += 1
            continue
        if owed.kind == "warning":
            message = Mail(
                "password_expiry_warning",
                [mail],
                {"identifiant": uid, "jours": owed.days_left, "date_expiration": owed.expires_at},
            )
            record = Record(
                "password.expiry-warning",
                uid,
                {"days_left": owed.days_left, "expires_at": owed.expires_at.isoformat()},
            )
        else:
            message = Mail("password_expired", [mail], {"identifiant": uid})
            record = Record("password.expired", uid, {"expired_at": owed.expires_at.isoformat()})
        sent = mark_then_commit(
            rt,
            entry.dn,
            {"apexNotice": [("add", [owed.notice])]},
            {"apexNotice": [("delete", [owed.notice])]},
            [message],
            [record],
        )
        if not sent:
            counts["already_sent"] += 1
        elif owed.kind == "warning":
            counts["warned"] += 1
        else:
            counts["expired"] += 1
    counts["max_age_days"] = round(age / DAY, 3)
    return counts


def run_once(
    settings: Settings, clock: Clock = system_clock, *, stop: Stop | None = None
) -> dict[str, Any]:
    """`apexdir daemon run-once expiry`."""
    return one_pass(settings, clock, run, stop)
