"""Growing delays against password guessing (SPEC §10: lockout is not a weapon).

Identifiers are predictable (prenom.nom-px), so a hard lock that anyone can reach keeps
the owner out at will. What the portal does instead, before slapd sees the bind: each
series of failures earns a delay that doubles with every further failure, per series —
the address (any identifier), the address with one identifier, the identifier from
devices that never logged into it, and each device that did (its owner's own typos). A
stranger's failures never fall in the series of the owner's device.

Pure functions: the counts come from the state store, the clock from the caller.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class Series:
    """A kind of failure series: `free` failures cost nothing, then each one doubles the
    wait (from `base` seconds, at most `cap`) before the next attempt is judged."""

    name: str
    free: int
    base: float
    cap: float


def delay(series: Series, failures: int) -> float:
    """Seconds to wait after the latest of `failures` failures."""
    if failures < series.free:
        return 0.0
    return float(min(series.cap, series.base * 2 ** (failures - series.free)))


def wait(series: Series, failures: int, last: datetime | None, now: datetime) -> int:
    """Whole seconds left before the next attempt of the series may be judged (0: now)."""
    if last is None:
        return 0
    left = (last + timedelta(seconds=delay(series, failures)) - now).total_seconds()
    return max(0, -(-int(left * 1000) // 1000))


def source_key(address: str | None) -> str:
    """The address a client is counted by: an IPv6 client owns at least a /64 (one
    household or office gets 2^64 addresses), so it is counted by its /64; IPv4 by its
    address. Whatever cannot be parsed counts as one shared unknown source."""
    try:
        ip = ipaddress.ip_address((address or "").strip())
    except ValueError:
        return "unknown"
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)
