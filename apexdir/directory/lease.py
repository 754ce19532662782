"""The scheduler's lease entry (`cn=scheduler,ou=system,<base>`, created by `apexdir init`):
its one value `apexLease: <holder> <expiry GeneralizedTime>`, read and swapped.

Taking and renewing are one compare-and-swap modify that deletes the exact value read and
adds the new one (`Directory.swap`): if another daemon changed the lease in between, the
delete finds no such value (or the add meets the single-valued attribute already set) and
slapd refuses the whole modify. What a daemon does with the lease is
`apexdir.workflows.lease`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from apexdir.clock import from_generalized_time, to_generalized_time
from apexdir.directory.connection import Directory
from apexdir.errors import NotFound

ATTR = "apexLease"
LONG_AGO = datetime(1970, 1, 1, tzinfo=UTC)


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


def read(directory: Directory, dn: str) -> LeaseValue | None:
    """The lease as it is; None when nobody holds it. `NotFound` without the entry."""
    entry = directory.get(dn, [ATTR])
    if entry is None:
        raise NotFound(f"lease entry {dn} missing: run `apexdir init`")
    return LeaseValue.parse(entry.get(ATTR))


def swap(directory: Directory, dn: str, current: LeaseValue | None, new: str) -> bool:
    """Replace `current` (as read) by the value `new`; False if the lease changed since."""
    ops: list[tuple[str, list[str]]] = [("add", [new])]
    if current is not None:
        ops.insert(0, ("delete", [current.raw]))
    return directory.swap(dn, {ATTR: ops})


def give_up(directory: Directory, dn: str, mine: LeaseValue) -> bool:
    """Delete our value (a graceful stop); False if it was no longer there."""
    return directory.swap(dn, {ATTR: [("delete", [mine.raw])]})
