"""The accounts of an import: each line checked, duplicates within the file and accounts
that exist already detected, identifiers allocated, the new accounts planned."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from apexdir.bulk.allocate import Allocator
from apexdir.bulk.checks import Contact, Pool, contact_fields, later_error
from apexdir.bulk.items import AccountItem, Problem
from apexdir.bulk.members import Memberships
from apexdir.bulk.plan import Plan, PlannedAccount
from apexdir.bulk.refs import References
from apexdir.bulk.snapshot import ExistingAccount
from apexdir.directory import mapping as m
from apexdir.errors import Invalid
from apexdir.models import AccountType
from apexdir.rules.import_rows import account_type, check_delegations
from apexdir.workflows.catalogue import normalize_code

Checked = list[tuple[AccountItem, dict[str, Any]]]


class AccountPlanner:
    def __init__(
        self,
        refs: References,
        plan: Plan,
        members: Memberships,
        *,
        now: datetime,
        creator: str,
        pool: Pool | None = None,
    ) -> None:
        self.refs = refs
        self.snap = refs.snap
        self.plan = plan
        self.members = members
        self.now = now
        self.creator = creator
        self.pool = pool
        self.ids = Allocator(refs.snap)

    def problem(self, line: int, reason: str) -> None:
        self.plan.problems.append(Problem(line, reason))

    def run(self, items: list[AccountItem]) -> None:
        checked = self.check(items)
        if any("uid" not in attrs for _, attrs in checked):  # only generating needs them
            self.ids.seal()
        for item, attrs in checked:
            if "uid" in attrs:
                self.plan.identifiers["kept" if item.source_identifier else "given"] += 1
            else:
                try:
                    attrs["uid"] = self.ids.generate(item.first_name, item.last_name)
                except Invalid as exc:
                    self.problem(item.line, str(exc))
                    continue
                self.plan.identifiers["generated"] += 1
                if item.source_identifier:
                    self.plan.renamed.append(
                        {
                            "line": item.line,
                            "v1": item.source_identifier,
                            "identifier": attrs["uid"],
                        }
                    )
            self.new_account(item, attrs)

    def check(self, items: list[AccountItem]) -> Checked:
        """The lines that make new accounts, with their values and the identifier the file
        gives them when it can be; the others reported, or matched to existing accounts."""
        checked: Checked = []
        seen: dict[tuple[str, str], int] = {}
        # A parallel reader checked the rows already (item.checked); other readers' rows are
        # checked here, by the pool when there are many.
        unchecked = [i for i in items if i.checked is None]
        rows = [(i.last_name, i.first_name, i.mail, i.mobile) for i in unchecked]
        contacts = dict(zip(map(id, unchecked), contact_fields(rows, self.pool), strict=True))
        for item in items:
            own = item.checked or (contacts[id(item)], later_error(item))
            try:
                attrs = self.fields(item, *own)
            except Invalid as exc:
                self.problem(item.line, str(exc))
                continue
            key = (attrs["siret"], attrs["mail"].lower())
            if key in seen:
                self.problem(item.line, f"same structure and mail as line {seen[key]}")
                continue
            seen[key] = item.line
            existing = self.match_existing(item, key)
            if existing is not None:
                self.existing_account(existing, attrs)
            elif self.given_identifier(item, attrs):
                checked.append((item, attrs))
        return checked

    def given_identifier(self, item: AccountItem, attrs: dict[str, Any]) -> bool:
        """The identifier the file gives, into attrs["uid"] when it can be had; False when
        the file requires one that cannot (reported)."""
        given = (item.identifier or "").strip()
        if item.identifier_policy == "require" and given:
            problem = self.ids.problem(given)
            if problem:
                self.problem(item.line, problem)
                return False
        elif not (given and self.ids.keepable(given)):
            return True
        self.ids.reserve(given, item.line)
        attrs["uid"] = given
        return True

    def match_existing(self, item: AccountItem, key: tuple[str, str]) -> ExistingAccount | None:
        given = (item.identifier or "").strip().lower()
        if given and given in self.snap.accounts:
            found = self.snap.accounts[given]
            if (found.siret, found.mail.lower()) == key:
                return found
            if item.identifier_policy == "require":
                return None  # reported as "already another account's"
        if given and item.identifier_policy == "require":
            return None
        uid = self.snap.by_mail.get(key)
        return self.snap.accounts[uid.lower()] if uid else None

    def fields(
        self, item: AccountItem, contact: Contact | str, later: str | None
    ) -> dict[str, Any]:
        """The account's values, or `Invalid` with the first rule it breaks, in this order
        (`contact` and `later`: the checks that need nothing but the row, done before)."""
        siret = self.refs.known_siret(item.siret)
        item.type = kind = account_type(item.type)
        if isinstance(contact, str):
            raise Invalid(contact)
        sn, given_name, mail, mobile = contact
        attrs: dict[str, Any] = {
            "siret": siret,
            "sn": sn,
            "givenName": given_name,
            "mail": mail,
            "mobile": mobile,
            "service_dn": self.refs.service_of(item, siret),
        }
        if item.application:
            code = normalize_code(item.application)
            if code not in self.refs.apps:
                raise Invalid(f"application {code} does not exist (catalogue or file)")
            attrs["apexClientApplication"] = code
        attrs["profiles"] = [self.refs.profile_ref(v) for v in item.habilitations]
        check_delegations(kind, item.delegations)
        attrs["delegations"] = [self.refs.profile_ref(v) for v in item.delegations]
        if later:
            raise Invalid(later)
        return attrs

    def existing_account(self, found: ExistingAccount, attrs: dict[str, Any]) -> None:
        self.plan.existing["accounts"] += 1
        self.members.account(found.dn, attrs["profiles"])
        if not found.has_password:
            self.plan.passwordless.append(found)

    def new_account(self, item: AccountItem, attrs: dict[str, Any]) -> None:
        uid = attrs["uid"]
        dn = self.refs.account_dn(uid)
        draft = m.AccountDraft(
            uid, attrs["givenName"], attrs["sn"], attrs["mail"],
            AccountType(item.type),  # checked by `fields`
            self.refs.structure_dn(attrs["siret"]), validated_at=self.now,
            created_by=self.creator, validated_by=self.creator, mobile=attrs["mobile"],
            password_hash=item.password_hash, service_dn=attrs["service_dn"],
            client_application=attrs.get("apexClientApplication"),
            delegations=attrs["delegations"],
        )  # fmt: skip
        entry = m.account_attrs(draft)
        entry.update(item.extra)
        self.plan.accounts.append(
            PlannedAccount(
                item.line, dn, entry, uid, attrs["mail"], password_changed=item.password_changed
            )
        )
        self.members.account(dn, attrs["profiles"])
