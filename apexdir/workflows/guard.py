"""The login guard of the portal: growing delays per series of failures, judged before
slapd sees the bind (SPEC §10; the arithmetic is `apexdir.rules.throttle`).

Series, each counted in the node's state store over the lockout window:
- the source address (IPv6 by /64), whatever identifier it types: one address spraying;
- the source with the identifier: one address guessing one account;
- the identifier typed from devices that never logged into it: many addresses on one
  account — the only series a stranger shares with the owner, and only with the owner on
  a new device;
- a device that logged into the identifier (a signed cookie the portal set after a full
  login): the owner's own typos, out of any stranger's reach.

Keys are the identifier as typed (cleaned), known or not: an unknown identifier and a
targeted one with the same history wait the same, answer the same, and the wait is
decided before any directory request, so it costs the same time too.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import timedelta

from apexdir.rules import throttle
from apexdir.rules.throttle import Series
from apexdir.runtime import Runtime
from apexdir.state import ratelimit

# Free failures, first wait and longest wait of each series. An address may mistype a few
# identifiers (an office of colleagues); one identifier from one address gets 3 free
# tries; the devices that never logged into it share `lockout_failures` (5) before 30 s,
# 1 min, 2 min…; the owner's own device gets 5 before 1 min, 2 min… In a 15-minute window
# the portal lets through at most ≈ 9 untrusted and ≈ 8 failures per device: below
# slapd's own lock (`directory_lockout_failures`, 20), which no stranger then reaches.
SOURCE = Series("source", free=10, base=1, cap=900)
SOURCE_IDENTIFIER = Series("source-identifier", free=3, base=1, cap=900)
UNTRUSTED = Series("untrusted", free=5, base=30, cap=900)
DEVICE = Series("device", free=5, base=60, cap=900)


@dataclass(frozen=True)
class Origin:
    """Where an attempt comes from: the client's address and, when the browser proved it
    logged into this identifier before, that device's id."""

    address: str | None
    device: str | None = None


def _series(rt: Runtime, origin: Origin, identifier: str) -> list[tuple[Series, str]]:
    free = rt.settings.policy.lockout_failures
    source = throttle.source_key(origin.address)
    if origin.device:
        return [(replace(DEVICE, free=free), f"login:device:{origin.device}:{identifier}")]
    return [
        (SOURCE, f"login:source:{source}"),
        (SOURCE_IDENTIFIER, f"login:source-id:{source}:{identifier}"),
        (replace(UNTRUSTED, free=free), f"login:untrusted:{identifier}"),
    ]


def _window(rt: Runtime) -> timedelta:
    # Long enough to hold a series at its longest wait.
    return max(timedelta(minutes=rt.settings.policy.lockout_minutes), timedelta(seconds=900))


def wait_before(rt: Runtime, origin: Origin, identifier: str) -> int:
    """Seconds before this attempt may be judged; 0 when it may be judged now."""
    now = rt.clock()
    longest = 0
    for series, key in _series(rt, origin, identifier):
        used = ratelimit.usage(rt.db, key, _window(rt), now)
        longest = max(longest, throttle.wait(series, used.count, used.last, now))
    return longest


def failed(rt: Runtime, origin: Origin, identifier: str) -> None:
    """A refused password (or an unknown identifier: the same) adds to every series."""
    ratelimit.record(rt.db, [key for _, key in _series(rt, origin, identifier)], rt.clock())


def succeeded(rt: Runtime, origin: Origin, identifier: str) -> None:
    """The right password ends the series that were about this identifier; the address's
    own series goes on (it may be guessing others)."""
    for series, key in _series(rt, origin, identifier):
        if series.name != SOURCE.name:
            ratelimit.clear(rt.db, key)


# Forgotten-password requests of one identifier per hour: from one address, or from one
# of its owner's known browsers, `reset_rate_per_identifier_per_hour` (5); from all the
# browsers that never logged into it together, four times that — the ceiling on SMS sent
# to one person — so that a stranger's requests never spend the owner's.
UNTRUSTED_RESET_FACTOR = 4


def reset_limits(rt: Runtime, origin: Origin | None, identifier: str) -> list[ratelimit.Limit]:
    per_hour = rt.settings.policy.reset_rate_per_identifier_per_hour
    hour = timedelta(hours=1)
    if origin is None:  # an operator's CLI: the identifier's own budget
        return [ratelimit.Limit(f"reset:id:{identifier}", per_hour, hour)]
    if origin.device:
        return [ratelimit.Limit(f"reset:device:{origin.device}:{identifier}", per_hour, hour)]
    source = throttle.source_key(origin.address)
    return [
        ratelimit.Limit(f"reset:source-id:{source}:{identifier}", per_hour, hour),
        ratelimit.Limit(f"reset:untrusted:{identifier}", per_hour * UNTRUSTED_RESET_FACTOR, hour),
    ]
