"""What a bulk file says, before validation: raw values with the line they came from.

Readers fill these from CSV rows or LDIF records; the validator checks and normalizes them.
Nothing here does I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Problem:
    """One bad line: its number in the file (1-based; for LDIF the `dn:` line) and why."""

    line: int
    reason: str

    def public(self) -> dict[str, Any]:
        return {"line": self.line, "reason": self.reason}

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}" if self.line else self.reason


@dataclass
class StructureItem:
    line: int
    siret: str
    category: str | None = None
    name: str | None = None
    trade_name: str | None = None
    street: str | None = None
    street2: str | None = None
    postal_code: str | None = None
    city: str | None = None
    country: str | None = None
    # Stated by many rows (APEX v1: every account row names its structure): repeats that
    # agree are one structure, repeats that differ are an error; existing ones are kept.
    implicit: bool = False


@dataclass
class ServiceItem:
    line: int
    siret: str
    name: str
    service_id: str | None = None  # LDIF gives it (the RDN); CSV lets apexdir draw a UUID
    implicit: bool = False


@dataclass
class ApplicationItem:
    line: int
    code: str
    name: str


@dataclass
class ProfileItem:
    line: int
    app: str
    name: str
    app_name: str | None = None  # CSV: creates the application when it does not exist
    members: list[str] = field(default_factory=list)  # LDIF: member DNs


@dataclass
class AccountItem:
    line: int
    siret: str
    type: str
    last_name: str
    first_name: str
    mail: str
    service: str | None = None  # service name (CSV, v1)
    service_dn: str | None = None  # apexServiceRef (LDIF)
    mobile: str | None = None
    identifier: str | None = None
    # "require": the identifier given must be valid and free (import); "prefer": kept when
    # valid and free, else generated (APEX v1 migration, SPEC §3).
    identifier_policy: str = "require"
    application: str | None = None
    habilitations: list[str] = field(default_factory=list)  # "APP/PROFILE" or profile DNs
    delegations: list[str] = field(default_factory=list)
    password_hash: str | None = None  # LDIF only, hashed
    password_changed: str | None = None  # LDIF pwdChangedTime, kept by --offline only
    extra: dict[str, list[str]] = field(default_factory=dict)  # LDIF attributes passed on
    source_identifier: str | None = None  # the APEX v1 identifier, for the report
    # (contact or its error, error of the later checks), when a reader's worker ran the
    # checks that need nothing but the row (`apexdir.bulk.checks.check_accounts`)
    checked: tuple[Any, str | None] | None = None


Item = StructureItem | ServiceItem | ApplicationItem | ProfileItem | AccountItem


@dataclass
class Parsed:
    """A file read: its items, the lines that could not even be read, and a count."""

    items: list[Item] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    records: int = 0
    format: str = ""
