"""Password expiry arithmetic: who owes which notice, and which pwdChangedTime ranges a
pass must read (pure: the clock, the maximum age and the levels are given).

Every account that can owe a notice has its `pwdChangedTime` in one contiguous window,

    [now - maxAge - lookback, now - maxAge + largest level]

`lookback` (the largest level, 15 days by default) is how long after expiry the "expired"
mail is still sent: it covers a daemon stopped for days, and keeps a first run on an old
directory from mailing every partner whose password expired years ago.

A pass reads that whole window only when it has nothing to go on (the first pass, a pass
after the policy's maximum age or the levels changed, a clock that went back). Otherwise it
reads only the accounts that crossed a threshold (a warning level, or expiry) since the
last complete pass: for threshold T the expiry moment minus T went from before the last
pass to now, i.e. pwdChangedTime in (last - maxAge + T, now - maxAge + T]. Only the most
urgent level is owed: an account found with 6 days left gets the 7-day warning, not the
15-day one as well.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from apexdir.clock import from_generalized_time

DAY = timedelta(days=1)
Range = tuple[datetime, datetime]


@dataclass(frozen=True)
class Due:
    """The notice an account owes now."""

    kind: str  # "warning" or "expired"
    notice: str  # the apexNotice value that records it, keyed by pwdChangedTime
    expires_at: datetime
    days_left: int


def levels_of(days: Iterable[int]) -> list[int]:
    """Warning levels in days, largest first; non-positive values are ignored."""
    return sorted({d for d in days if d > 0}, reverse=True)


def lookback(levels: list[int]) -> timedelta:
    return max(levels, default=1) * DAY


def window(now: datetime, max_age: timedelta, levels: list[int]) -> Range:
    """The pwdChangedTime range of the accounts that may owe a notice at `now`."""
    return now - max_age - lookback(levels), now - max_age + max(levels, default=0) * DAY


def crossed(now: datetime, max_age: timedelta, levels: list[int], since: datetime) -> list[Range]:
    """The pwdChangedTime ranges of the accounts that crossed a threshold in (since, now],
    within the window, merged where they overlap (a long gap reads the whole window)."""
    low, high = window(now, max_age, levels)
    ranges = []
    for threshold in sorted({0, *levels}):
        start = max(since - max_age + threshold * DAY, low)
        end = min(now - max_age + threshold * DAY, high)
        if start <= end:
            ranges.append((start, end))
    merged: list[Range] = []
    for start, end in sorted(ranges):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def scan_ranges(
    now: datetime, max_age: timedelta, levels: list[int], cursor: str | None
) -> list[Range]:
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
    """The cursor a complete pass at `now` leaves (what `scan_ranges` reads back)."""
    return json.dumps({"at": now.isoformat(), "max_age": max_age.total_seconds(), "levels": levels})


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
