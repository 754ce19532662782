"""One active scheduler across nodes: a lease kept in the directory.

The lease entry (`cn=scheduler,ou=system,<base>`, created by `apexdir init`) holds one value
`apexLease: <holder> <expiry GeneralizedTime>`; the holder is `host:pid:random`. Taking and
renewing are one LDAP modify that deletes the exact value read and adds the new one: if
another daemon changed the lease in between, the delete finds no such value (or the add
meets the single-valued attribute already set) and slapd refuses the whole modify — the
adapter raises `Conflict`, and this daemon has not got the lease.

A holder renews every third of the lease; a daemon that cannot renew (directory
unreachable, or someone took the lease) stops scheduling jobs a renewal period before its
lease runs out, so that two schedulers never run at once. A waiting daemon reads the lease
every `poll_seconds` and takes it as soon as it has expired: within one lease period of the
holder's death. Expiry times are compared across nodes: their clocks must agree to well
within a lease period (NTP).
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from apexdir.clock import Clock, from_generalized_time, system_clock, to_generalized_time
from apexdir.directory.connection import Directory
from apexdir.errors import Conflict, NotFound, Unavailable

log = logging.getLogger("apexdir.daemon")
ATTR = "apexLease"
LONG_AGO = datetime(1970, 1, 1, tzinfo=UTC)


def new_holder() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


@dataclass(frozen=True)
class LeaseValue:
    holder: str
    expires_at: datetime
    raw: str

    @classmethod
    def parse(cls, raw: str | bytes | None) -> LeaseValue | None:
        if raw is None:
            return None
        value = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
        holder, _, expiry = value.rpartition(" ")
        try:
            return cls(holder, from_generalized_time(expiry), value)
        except ValueError:
            # Unreadable: treat it as expired long ago, so that it can be replaced.
            return cls(holder or value, LONG_AGO, value)

    @staticmethod
    def format(holder: str, expires_at: datetime) -> str:
        return f"{holder} {to_generalized_time(expires_at)}"


class Lease:
    def __init__(
        self,
        directory: Directory,
        dn: str,
        *,
        holder: str | None = None,
        seconds: float = 60,
        clock: Clock = system_clock,
    ) -> None:
        self.directory = directory
        self.dn = dn
        self.holder = holder or new_holder()
        self.seconds = max(1.0, float(seconds))
        self.clock = clock
        self.valid_until: datetime | None = None
        self.seen: LeaseValue | None = None
        self._error: str | None = None

    @property
    def renew_seconds(self) -> float:
        return self.seconds / 3

    @property
    def poll_seconds(self) -> float:
        return max(0.2, min(self.seconds / 4, 5.0))

    def held(self, now: datetime | None = None) -> bool:
        """Whether this daemon may run jobs now (with a renewal period of margin)."""
        now = now or self.clock()
        margin = timedelta(seconds=self.renew_seconds)
        return self.valid_until is not None and now < self.valid_until - margin

    def read(self) -> LeaseValue | None:
        entry = self.directory.get(self.dn, [ATTR])
        if entry is None:
            raise NotFound(f"lease entry {self.dn} missing: run `apexdir init`")
        return LeaseValue.parse(entry.get(ATTR))

    def acquire(self) -> bool:
        """Take the lease if free or expired, renew it if ours; True while held."""
        now = self.clock()
        try:
            current = self.read()
        except Unavailable as exc:
            self._warn(exc)
            return self._keep(now)
        if self._error is not None:
            log.info("lease: directory reachable again")
            self._error = None
        return self.claim(current, now)

    def claim(self, current: LeaseValue | None, now: datetime) -> bool:
        """The compare-and-swap from `current` (as read) to a lease of ours."""
        self.seen = current
        if current is not None and current.holder != self.holder and current.expires_at > now:
            self.valid_until = None
            return False
        expires = now + timedelta(seconds=self.seconds)
        value = LeaseValue.format(self.holder, expires)
        ops: list[tuple[str, list[str]]] = [("add", [value])]
        if current is not None:
            ops.insert(0, ("delete", [current.raw]))
        try:
            self.directory.modify(self.dn, {ATTR: ops})
        except Conflict:
            self.valid_until = None
            return False
        except Unavailable as exc:
            self._warn(exc)
            return self._keep(now)
        # Whole seconds in the directory: hold no longer than what was written.
        self.valid_until = from_generalized_time(to_generalized_time(expires))
        self.seen = LeaseValue.parse(value)
        return True

    def _warn(self, exc: Exception) -> None:
        # Once per outage, not at every poll.
        if str(exc) != self._error:
            log.warning("lease: directory unavailable: %s", exc)
        self._error = str(exc)

    def _keep(self, now: datetime) -> bool:
        if not self.held(now):
            self.valid_until = None
            return False
        return True

    def release(self) -> None:
        """Give the lease up (graceful stop): a waiting daemon takes it at once."""
        mine = self.seen if self.seen is not None and self.seen.holder == self.holder else None
        self.valid_until = None
        if mine is None:
            return
        try:
            self.directory.modify(self.dn, {ATTR: [("delete", [mine.raw])]})
        except (Conflict, Unavailable, NotFound) as exc:
            log.warning("lease: could not release: %s", exc)
