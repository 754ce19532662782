"""What a validated bulk file will write: entries in dependency order, and habilitations."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from apexdir.bulk.items import Problem
from apexdir.bulk.snapshot import ExistingAccount


@dataclass
class Planned:
    line: int
    dn: str
    attrs: dict[str, Any]


@dataclass
class PlannedAccount(Planned):
    identifier: str
    mail: str
    password_changed: str | None = None
    invite: bool = False


@dataclass
class Plan:
    structures: list[Planned] = field(default_factory=list)
    services: list[Planned] = field(default_factory=list)
    applications: list[Planned] = field(default_factory=list)
    profiles: list[Planned] = field(default_factory=list)
    accounts: list[PlannedAccount] = field(default_factory=list)
    # (profile DN, account DN) not yet in the directory, in file order
    memberships: list[tuple[str, str]] = field(default_factory=list)
    # Accounts of the file that exist without ever having had a password (invitations).
    passwordless: list[ExistingAccount] = field(default_factory=list)
    existing: Counter[str] = field(default_factory=Counter)
    problems: list[Problem] = field(default_factory=list)
    identifiers: Counter[str] = field(default_factory=Counter)
    renamed: list[dict[str, Any]] = field(default_factory=list)

    def entries(self) -> int:
        return (
            len(self.structures)
            + len(self.services)
            + len(self.applications)
            + len(self.profiles)
            + len(self.accounts)
        )

    def creates(self) -> dict[str, int]:
        return {
            "structures": len(self.structures),
            "services": len(self.services),
            "applications": len(self.applications),
            "profiles": len(self.profiles),
            "accounts": len(self.accounts),
            "habilitations": len(self.memberships),
        }
