"""Single-entry reads the workflows need of an account or an application, each one LDAP
read of only the attributes it answers with: the address a change notice goes to, the
name of an application, whether an account is the one a request created, whether a
password is the account's. A mixin of `Repository`, as `writes.Writes` is.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from apexdir.directory.connection import Directory
from apexdir.directory.hashing import verify
from apexdir.directory.layout import Layout
from apexdir.directory.mapping import as_text, as_time


@dataclass(frozen=True)
class Contact:
    """Whom a change notice goes to: the account's identifier (None without a uid) and mail."""

    identifier: str | None
    mail: str


@dataclass(frozen=True)
class Origin:
    """What tells the account a request created from another person's (texts as stored)."""

    mail: str
    structure_dn: str
    type: str
    requested_at: datetime | None


class Lookups:
    directory: Directory
    layout: Layout

    def contact(self, dn: str) -> Contact | None:
        """The identifier and address of the entry `dn`; None without one or without a mail."""
        entry = self.directory.get(dn, ["uid", "mail"])
        if entry is None or not entry.get("mail"):
            return None
        return Contact(as_text(entry.get("uid")), as_text(entry.get("mail")) or "")

    def application_name(self, dn: str) -> str | None:
        """The name (cn) of the application entry `dn`; None without the entry or a name."""
        entry = self.directory.get(dn, ["cn"])
        return as_text(entry.get("cn")) if entry else None

    def origin(self, identifier: str) -> Origin | None:
        """Where the account `identifier` comes from; None when there is no such entry."""
        entry = self.directory.get(
            self.layout.account_dn(identifier),
            ["mail", "apexStructureRef", "apexAccountType", "apexRequestedAt"],
        )
        if entry is None:
            return None
        return Origin(
            mail=str(entry.get("mail", "")),
            structure_dn=str(entry.get("apexStructureRef", "")),
            type=str(entry.get("apexAccountType", "")),
            requested_at=as_time(entry.get("apexRequestedAt")),
        )

    def password_matches(self, dn: str, password: str) -> bool:
        """Whether `password` is one of the hashes stored on `dn` (checked here, no bind)."""
        entry = self.directory.get(dn, ["userPassword"])
        values = entry.all("userPassword") if entry else []
        return any(verify(value, password) for value in values)
