"""One active scheduler across nodes: a lease kept in the directory.

The lease entry (`cn=scheduler,ou=system,<base>`, created by `apexdir init`) holds one value
`apexLease: <holder> <expiry GeneralizedTime>`; the holder is `host:pid:random`. Taking and
renewing are one compare-and-swap (`apexdir.directory.lease`): if another daemon changed
the lease in between, slapd refuses the whole modify and this daemon has not got the lease.

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
from datetime import datetime, timedelta

from apexdir.clock import Clock, from_generalized_time, system_clock, to_generalized_time
from apexdir.config import Settings
from apexdir.directory import lease as entry
from apexdir.directory.connection import Directory
from apexdir.directory.layout import Layout
from apexdir.directory.lease import LeaseValue
from apexdir.errors import NotFound, Unavailable

log = logging.getLogger("apexdir.daemon")

__all__ = ["Lease", "LeaseValue", "new_holder", "open_lease"]


def new_holder() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


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
        return entry.read(self.directory, self.dn)

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
        try:
            taken = entry.swap(self.directory, self.dn, current, value)
        except Unavailable as exc:
            self._warn(exc)
            return self._keep(now)
        if not taken:
            self.valid_until = None
            return False
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

    def close(self) -> None:
        self.directory.close()

    def release(self) -> None:
        """Give the lease up (graceful stop): a waiting daemon takes it at once."""
        mine = self.seen if self.seen is not None and self.seen.holder == self.holder else None
        self.valid_until = None
        if mine is None:
            return
        try:
            released = entry.give_up(self.directory, self.dn, mine)
        except (Unavailable, NotFound) as exc:
            log.warning("lease: could not release: %s", exc)
            return
        if not released:
            log.warning("lease: could not release: changed meanwhile")


def open_lease(settings: Settings, *, seconds: float | None = None) -> Lease:
    """The lease of the directory of `settings`, on a connection of its own."""
    return Lease(
        Directory(settings.ldap),
        Layout(settings.ldap.base_dn).lease_dn,
        seconds=settings.daemon.lease_seconds if seconds is None else seconds,
    )
