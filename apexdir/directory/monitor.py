"""slapd's own figures, from its monitor database (`cn=Monitor`, enabled by the generated
configuration and readable by apexdir's account only).

slapd 2.5's back-mdb publishes, per database, under `cn=Database N,cn=Databases,cn=Monitor`:
`olmMDBPagesMax` (the map size, `maxsize`, in pages), `olmMDBPagesUsed` (the high-water
mark of the file: pages ever used), `olmMDBPagesFree` (pages of that part free for reuse)
and `namingContexts` (its suffix). Read over LDAP, these are the figures of each provider,
wherever apexdir runs — the database files themselves are on the providers' hosts.
"""

from __future__ import annotations

from dataclasses import dataclass

from apexdir.directory import filters as f
from apexdir.directory.connection import Directory

DATABASES = "cn=Databases,cn=Monitor"
MDB_ATTRS = ["namingContexts", "olmMDBPagesMax", "olmMDBPagesUsed", "olmMDBPagesFree"]


@dataclass(frozen=True)
class MdbUsage:
    suffix: str
    pages_max: int
    pages_used: int
    pages_free: int

    @property
    def ratio(self) -> float:
        """The share of the map in use (free pages inside the file are reusable)."""
        if self.pages_max <= 0:
            return 0.0
        return max(0, self.pages_used - self.pages_free) / self.pages_max


def _int(value: object) -> int:
    try:
        return int(str(value))
    except (TypeError, ValueError):
        return 0


def mdb_usage(directory: Directory) -> list[MdbUsage]:
    """Every mdb database of the server `directory` talks to, by suffix (lower case)."""
    found = directory.search(
        DATABASES, f.eq("objectClass", "olmMDBDatabase"), MDB_ATTRS, scope="one"
    )
    return [
        MdbUsage(
            suffix=str(entry.get("namingContexts") or "").lower(),
            pages_max=_int(entry.get("olmMDBPagesMax")),
            pages_used=_int(entry.get("olmMDBPagesUsed")),
            pages_free=_int(entry.get("olmMDBPagesFree")),
        )
        for entry in found
    ]
