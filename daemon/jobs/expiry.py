"""The expiry job: warn before a password expires (15, 7, 1 days by default), tell after.

The maximum age is the directory's own (`pwdMaxAge` of the default ppolicy entry, the one
slapd enforces); the configuration is only the fallback when that entry cannot tell.

One paged search per pass, whatever the number of warning levels, selective on the server
side (`pwdChangedTime` ranges; there is deliberately no index on `pwdChangedTime`:
docs/MEASUREMENTS, an `eq` index made this very search 40 times slower, and slapd would
still have to test every account of the unindexed range). Every account that can owe a
notice has its `pwdChangedTime` in one contiguous window,

    [now - maxAge - lookback, now - maxAge + largest level]

`lookback` (the largest level, 15 days by default) is how long after expiry the "expired"
mail is still sent: it covers a daemon stopped for days, and keeps a first run on an old
directory from mailing every partner whose password expired years ago.

A pass reads that whole window only when it has nothing to go on (the first pass, a pass
after the policy's maximum age or the levels changed, a clock that went back). Otherwise it
reads only the accounts that crossed a threshold (a warning level, or expiry) since the
last complete pass: for threshold T the expiry moment minus T went from before the last
pass to now, i.e. pwdChangedTime in (last - maxAge + T, now - maxAge + T]. With the daily
cron that is a day of password changes per threshold (≈ 4 % of the accounts) instead of a
month (≈ 18 %): the search and the LDAP client's parsing of what it returns are what a pass costs.
The cursor (when, with which maximum age and levels) is saved in the state store only
after a complete pass, so an interrupted pass is read again; an account that crossed a
threshold while it was not active gets the next notice, not the one it missed.

Each notice is sent once per password: the account records `expiry-<level>:<pwdChangedTime>`
or `expired:<pwdChangedTime>` in `apexNotice` (a new password means a new pwdChangedTime,
hence new notices; housekeeping drops the stale values). Only the most urgent level is sent:
an account found with 6 days left gets the 7-day warning, not the 15-day one as well.
Accounts that are not active are left out; partner accounts all live under the default
policy (an account given another one with pwdPolicySubentry is warned by the default age).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from apexdir.clock import Clock, from_generalized_time, system_clock
from apexdir.config import Settings
from apexdir.daemon.jobs.common import Mail, Record, Stop, mark_then_commit, never, one_pass, text
from apexdir.directory import filters as f
from apexdir.runtime import Runtime
from apexdir.state.jobs import get_cursor, set_cursor

JOB = "expiry"
DAY = timedelta(days=1)
# Every attribute asked costs the LDAP client's parsing on each account returned: the status is
# filtered by slapd (an account without apexStatus is active).
ATTRS = ["uid", "mail", "pwdChangedTime", "apexNotice"]
ACTIVE = f.or_(f.eq("apexStatus", "active"), f.not_(f.present("apexStatus")))


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


def crossed(
    now: datetime, max_age: timedelta, levels: list[int], since: datetime
) -> list[tuple[datetime, datetime]]:
    """The pwdChangedTime ranges of the accounts that crossed a threshold in (since, now],
    within the window, merged where they overlap (a long gap reads the whole window)."""
    low, high = window(now, max_age, levels)
    ranges = []
    for threshold in sorted({0, *levels}):
        start = max(since - max_age + threshold * DAY, low)
        end = min(now - max_age + threshold * DAY, high)
        if start <= end:
            ranges.append((start, end))
    merged: list[tuple[datetime, datetime]] = []
    for start, end in sorted(ranges):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def scan_ranges(
    now: datetime, max_age: timedelta, levels: list[int], cursor: str | None
) -> list[tuple[datetime, datetime]]:
    """What a pass reads: the threshold crossings since the last complete pass, or the
    whole window when the cursor cannot tell (none, another policy, a clock gone back)."""
    try:
        last = json.loads(cursor) if cursor else None
        since = datetime.fromisoformat(last["at"]) if last else None
        same = last is not None and (last["max_age"], last["levels"]) == (
            max_age.total_seconds(),
            levels,
        )
    except (ValueError, KeyError, TypeError):
        since, same = None, False
    if since is None or not same or since > now:
        return [window(now, max_age, levels)]
    return crossed(now, max_age, levels, since)


def cursor_of(now: datetime, max_age: timedelta, levels: list[int]) -> str:
    return json.dumps({"at": now.isoformat(), "max_age": max_age.total_seconds(), "levels": levels})


def scan_filter(ranges: list[tuple[datetime, datetime]]) -> str:
    """The active accounts whose pwdChangedTime is in one of `ranges`."""
    changed = f.or_(
        *(f.and_(f.ge("pwdChangedTime", low), f.le("pwdChangedTime", high)) for low, high in ranges)
    )
    return f.and_(f.eq("objectClass", "apexAccount"), changed, ACTIVE)


def candidates(rt: Runtime, ranges: list[tuple[datetime, datetime]]) -> list[Any]:
    """The accounts of `scan_filter` (one paged search, one level under ou=people)."""
    if not ranges:
        return []
    return rt.directory.search(rt.layout.people_dn, scan_filter(ranges), ATTRS, scope="one")


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


def run(rt: Runtime, *, stop: Stop = never, full: bool = False) -> dict[str, Any]:
    """One pass: returns how many warnings and expiry mails were queued. `full` reads the
    whole window whatever the cursor says."""
    now = rt.clock()
    age = max_age(rt)
    counts: dict[str, Any] = {"warned": 0, "expired": 0, "already_sent": 0}
    if age <= timedelta(0):
        return {**counts, "max_age_days": 0}  # passwords never expire: nothing to say
    levels = levels_of(rt.settings)
    cursor = None if full else get_cursor(rt.db, JOB)
    found = candidates(rt, scan_ranges(now, age, levels, cursor))
    stopped = False
    for entry in found:
        if stop():
            stopped = True
            break
        changed, mail, uid = (text(entry.get(a)) for a in ("pwdChangedTime", "mail", "uid"))
        if not changed or not mail or not uid:
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
    if not stopped:
        set_cursor(rt.db, JOB, cursor_of(now, age, levels), clock=rt.clock)
    counts["max_age_days"] = round(age / DAY, 3)
    return counts


def run_once(
    settings: Settings, clock: Clock = system_clock, *, stop: Stop | None = None
) -> dict[str, Any]:
    """`apexdir daemon run-once expiry`."""
    return one_pass(settings, clock, run, stop)
