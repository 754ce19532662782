"""The writes of the domain, from models and drafts through the one map (`mapping`): what
`Repository` does to structures, services and accounts. Workflows name the change (create,
rename, suspend, close…), never an LDAP attribute.

A mixin so that `repository.py` stays the reads; `Repository` is both.
"""

from __future__ import annotations

from types import EllipsisType
from typing import Any

from apexdir.directory import filters as f
from apexdir.directory import mapping as m
from apexdir.directory.connection import Directory
from apexdir.directory.dormancy import ATTRIBUTE as DORMANCY
from apexdir.directory.layout import Layout
from apexdir.errors import Conflict
from apexdir.models import Account, RequestStatus, Service, Structure

# `...` for a value a transition leaves as it is (None removes it).
Unchanged = EllipsisType


class Writes:
    directory: Directory
    layout: Layout

    # ------------------------------------------------------------------ structures
    def structure_exists(self, siret: str) -> bool:
        return self.directory.exists(self.layout.structure_dn(siret))

    def create_structure(self, structure: Structure) -> Structure:
        """Add the structure's entry (its `dn` set); Conflict when its SIRET has one."""
        structure.dn = self.layout.structure_dn(structure.siret)
        if self.directory.exists(structure.dn):
            raise Conflict(f"structure {structure.siret} already exists")
        self.directory.add(
            structure.dn, {"objectClass": ["apexStructure"], **m.structure_attrs(structure)}
        )
        return structure

    def update_structure(self, structure: Structure, **values: Any) -> None:
        """Replace fields of the structure, by their Python names; None or "" removes one."""
        self.directory.replace(
            structure.dn, **{m.STRUCTURE[name]: value for name, value in values.items()}
        )

    # ------------------------------------------------------------------ services
    def create_service(self, service: Service) -> Service:
        service.dn = self.layout.service_dn(service.siret, service.id)
        self.directory.add(service.dn, m.service_attrs(service))
        return service

    def rename_service(self, service: Service, new_name: str) -> None:
        self.directory.replace(service.dn, **{m.SERVICE["name"]: new_name})
        service.name = new_name

    def delete_service(self, service: Service) -> None:
        self.directory.delete(service.dn)

    def attached_to(
        self, service: Service, open_statuses: list[RequestStatus]
    ) -> tuple[list[str], list[str]]:
        """DNs of the accounts, and of the requests in `open_statuses`, of a service."""
        ref = f.eq("apexServiceRef", service.dn)
        accounts = self.directory.search(self.layout.people_dn, ref, ["1.1"], scope="one")
        requests = self.directory.search(
            self.layout.requests_dn,
            f.and_(ref, f.any_of("apexStatus", open_statuses)),
            ["1.1"],
            scope="one",
        )
        return [e.dn for e in accounts], [e.dn for e in requests]

    def attach(self, dn: str, service: Service) -> None:
        """An account or a creation request (by its DN) now belongs to `service`."""
        self.directory.replace(dn, apexServiceRef=service.dn)

    # ------------------------------------------------------------------ accounts
    def create_account(self, draft: m.AccountDraft) -> None:
        """Add the account's entry (`mapping.account_attrs`); Conflict when its DN is taken."""
        self.directory.add(self.layout.account_dn(draft.identifier), m.account_attrs(draft))

    def account_exists(self, identifier: str) -> bool:
        return self.directory.exists(self.layout.account_dn(identifier))

    def delete_account(self, identifier: str) -> None:
        self.directory.delete(self.layout.account_dn(identifier))

    def delete_account_entry(self, account: Account) -> None:
        self.directory.delete(account.dn)

    def update_personal_data(self, account: Account, **values: Any) -> None:
        """Replace personal fields by their names in `mapping.PERSONAL`; None removes one."""
        self.directory.replace(account.dn, **{m.PERSONAL[k]: v for k, v in values.items()})

    def renew_sessions(self, account: Account, generation: str) -> None:
        """A new session generation: every session begun under the former one ends."""
        self.directory.replace(account.dn, **{m.SESSION_GENERATION: generation})

    def suspend_account(self, account: Account) -> None:
        """Suspended, in one modify: the status and ppolicy's administrative lock."""
        self.directory.replace(account.dn, **m.suspension_changes(True))

    def reactivate_account(self, account: Account, dormancy: str | Unchanged | None = ...) -> None:
        """Active again, the lock lifted, in one modify; `dormancy` the new dormancy mark
        (None removes it, `...` leaves it)."""
        self.directory.replace(account.dn, **m.suspension_changes(False), **_mark(dormancy))

    def close_account(
        self, account: Account, generation: str, dormancy: str | Unchanged | None = ...
    ) -> None:
        """Closed with its structure, in one modify (`mapping.closure_changes`); `dormancy`
        a dormancy mark to write with it (`...`: the closure's own, none)."""
        self.directory.replace(
            account.dn, **{**m.closure_changes(True, generation), **_mark(dormancy)}
        )

    def reopen_account(self, account: Account) -> None:
        self.directory.replace(account.dn, **m.closure_changes(False))

    def retype_account(
        self,
        account: Account,
        new_type: str,
        *,
        service_dn: str | Unchanged | None = ...,
        drop_delegations: bool = False,
    ) -> None:
        """A new account type in one modify, its service (None: none, `...`: the same) and,
        when told, without its délégations."""
        changes: dict[str, Any] = {"apexAccountType": new_type}
        if service_dn is not ...:
            changes["apexServiceRef"] = service_dn
        if drop_delegations:
            changes["apexDelegatedProfile"] = None
        self.directory.replace(account.dn, **changes)

    # ------------------------------------------------------------------ applications
    def application_exists(self, code: str) -> bool:
        return self.directory.exists(self.layout.application_dn(code))

    def add_profile(self, code: str, profile: str) -> None:
        """Add the profile `profile` of application `code`; Conflict when it exists."""
        dn = self.layout.profile_dn(code, profile)
        if self.directory.exists(dn):
            raise Conflict(f"profile {code}/{profile} already exists")
        self.directory.add(dn, {"objectClass": ["apexProfile"], "cn": profile, "apexAppCode": code})

    def set_app_credentials(
        self, code: str, password_hash: str, policy_dn: str, description: str
    ) -> bool:
        """Give the application's service account a new password (and `policy_dn`: accounts
        made before issue 12 carried the system one), or create it; whether it existed."""
        dn = self.layout.app_account_dn(code)
        if self.directory.exists(dn):
            self.directory.replace(dn, userPassword=password_hash, pwdPolicySubentry=policy_dn)
            return True
        self.directory.add(
            dn,
            {
                "objectClass": ["applicationProcess", "simpleSecurityObject"],
                "cn": code,
                "userPassword": password_hash,
                "pwdPolicySubentry": policy_dn,
                "description": description,
            },
        )
        return False

    # ------------------------------------------------------------------ rights
    def grant(self, profile_dn: str, account: Account) -> None:
        """The account becomes a member of the profile (its habilitation; memberOf follows)."""
        self.directory.modify(profile_dn, {"member": [("add", [account.dn])]})

    def withdraw(self, profile_dn: str, account: Account) -> None:
        self.directory.modify(profile_dn, {"member": [("delete", [account.dn])]})

    def delegate(self, account: Account, profile_dn: str) -> None:
        """The profile delegated to the account (a responsable may hand it on)."""
        self.directory.modify(account.dn, {"apexDelegatedProfile": [("add", [profile_dn])]})

    def undelegate(self, account: Account, profile_dn: str) -> None:
        self.directory.modify(account.dn, {"apexDelegatedProfile": [("delete", [profile_dn])]})


def _mark(dormancy: str | Unchanged | None) -> dict[str, Any]:
    return {} if dormancy is ... else {DORMANCY: dormancy}
