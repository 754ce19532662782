"""The habilitations an import adds: each (profile, account) pair once, none the directory
holds already; the members listed on an LDIF file's profiles."""

from __future__ import annotations

from apexdir.bulk.dn import norm_dn, parent, rdn_value
from apexdir.bulk.items import AccountItem, Problem, ProfileItem
from apexdir.bulk.plan import Plan
from apexdir.bulk.snapshot import Snapshot, profile_key
from apexdir.directory.layout import Layout


class Memberships:
    def __init__(self, plan: Plan, snapshot: Snapshot, layout: Layout) -> None:
        self.plan = plan
        self.snap = snapshot
        self.layout = layout
        self.accounts: dict[str, str] = {}  # norm DN of a valid account of the file → DN
        self.listed: dict[str, set[str]] = {}  # profile DN → norm DNs of planned members
        self.account_items: list[AccountItem] = []  # every account line, valid or not
        self._file_accounts: set[str] | None = None

    def account(self, dn: str, profiles: list[str]) -> None:
        """An account of the file (new or found), with the profiles its line gives."""
        self.accounts[norm_dn(dn)] = dn
        for profile_dn in profiles:
            self.add(profile_dn, dn)

    def add(self, profile_dn: str, account_dn: str) -> None:
        """Once per pair, and only when the directory does not hold it already."""
        key = norm_dn(account_dn)
        listed = self.listed.setdefault(profile_dn, set())
        if key in listed or key in self.snap.members.get(profile_dn, ()):
            return
        listed.add(key)
        self.plan.memberships.append((profile_dn, account_dn))

    def listed_on(self, item: ProfileItem, profiles: dict[str, str]) -> None:
        """Members listed on an LDIF profile: accounts of the file or of the directory.
        A member that is neither is reported; with --skip-invalid only it is dropped."""
        dn = profiles.get(profile_key(item.app, item.name))
        if dn is None or not item.members:
            return  # a bad profile line is already reported
        people = norm_dn(self.layout.people_dn)
        for member in item.members:
            key = norm_dn(member)
            account = self.accounts.get(key)
            if account is None and norm_dn(parent(member)) == people:
                found = self.snap.accounts.get(rdn_value(member).lower())
                account = found.dn if found else None
                if account is None and key in self.file_accounts():
                    continue  # an account of the file whose own line is reported
            if account is None:
                reason = f"member {member} is not an account (file or directory)"
                self.plan.problems.append(Problem(item.line, reason))
                continue
            self.add(dn, account)

    def file_accounts(self) -> set[str]:
        """Norm DNs of every account the file names, valid or not (computed when needed)."""
        if self._file_accounts is None:
            self._file_accounts = {
                norm_dn(self.layout.account_dn(i.identifier))
                for i in self.account_items
                if i.identifier
            }
        return self._file_accounts
