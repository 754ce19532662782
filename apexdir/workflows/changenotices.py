"""What one write read by the change feed means: whether it is a change at all, who made
it, whom it mails, and its journal row (`apexdir.workflows.changefeed` reads the logs).

- a member added to a profile group → "Attribution de profils applicatifs" to that partner;
  removed → "Retrait de profils applicatifs";
- a profile delegated to a responsable → "Délégation de profils applicatifs";
- an account's personal data changed (mail, names, mobile, password) → the personal-data
  confirmation (`notify.personal_data`, the very mails of `accounts.update_personal_data`),
  to the old and the new address when the mail changed.

apexdir's own writes (made as `ldap.bind_dn`) are journaled only: the workflow that made
them already mailed. Values are never journaled, only attribute names (and the member DNs
of group changes): reqMod carries password hashes and one-time code records.
"""

from __future__ import annotations

from typing import Any

from apexdir.directory.accesslog import Change, start_time
from apexdir.directory.dn import is_below, is_child, norm, parent, rdn_value
from apexdir.directory.repository import Repository
from apexdir.runtime import Runtime
from apexdir.state.journal import Journal
from apexdir.workflows.notices import commit
from apexdir.workflows.notify import Mail, personal_data


def journaled(rt: Runtime, change: Change) -> bool:
    """Whether this write is in the journal, read from any provider's log (by its CSN)."""
    started = start_time(change.start)
    return rt.journal.has_ldap_change(change.csn, change.when, change.start, started)


class Notices:
    """The feed's reading of changes, for one pass (it caches application names)."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.layout = rt.layout
        self.repo = Repository(rt.directory, rt.layout)
        self.own = norm(rt.settings.ldap.bind_dn)
        self._apps: dict[str, str] = {}

    def ignored(self, change: Change) -> bool:
        """Bookkeeping, not a change anyone needs to read in the journal again."""
        if norm(change.dn) == norm(self.layout.lease_dn):
            return True
        # The OpenID Connect provider's codes and tokens (three writes a login to an
        # application) and the structures' history events (the journal row is the event).
        kept = (self.layout.oidc_codes_dn, self.layout.oidc_tokens_dn, self.layout.events_dn)
        if any(is_child(change.dn, parent) for parent in kept):
            return True
        return change.type == "modify" and not change.attributes

    def is_own(self, change: Change) -> bool:
        return norm(change.author) == self.own

    def _is_profile(self, dn: str) -> bool:
        return is_below(dn, self.layout.applications_dn, depth=2)

    def _account(self, dn: str) -> tuple[str, str] | None:
        """(identifier, mail) of an account DN, or None if it is not (or no longer) one."""
        if not is_child(dn, self.layout.people_dn):
            return None
        contact = self.repo.contact(dn)
        if contact is None:
            return None
        return contact.identifier or rdn_value(dn), contact.mail

    def _application(self, profile_dn: str) -> str:
        app_dn = parent(profile_dn)
        key = norm(app_dn)
        if key not in self._apps:
            self._apps[key] = self.repo.application_name(app_dn) or rdn_value(app_dn)
        return self._apps[key]

    def _members(self, change: Change, op: str, template: str) -> list[Mail]:
        mails = []
        for member in change.members(op):
            account = self._account(member)
            if account:
                application = self._application(change.dn)
                mails.append(Mail(template, [account[1]], {"application": application}))
        return mails

    def mails(self, change: Change) -> list[Mail]:
        """What the change mails, to whom (apexdir's own changes: see `handle`)."""
        mails: list[Mail] = []
        if change.type in ("add", "modify") and self._is_profile(change.dn):
            mails += self._members(change, "+", "attribution")
            # A deleted account is no longer one (refint's removal mails nobody).
            mails += self._members(change, "-", "withdrawal")
        if change.type == "modify" and is_child(change.dn, self.layout.people_dn):
            for profile in change.delegated():
                account = self._account(change.dn)
                if account and self._is_profile(profile):
                    application = self._application(profile)
                    mails.append(Mail("delegation", [account[1]], {"application": application}))
            if change.personal_data:
                mails += self._personal_data(change)
        return mails

    def _personal_data(self, change: Change) -> list[Mail]:
        account = self._account(change.dn)
        if account is None:
            return []
        identifier, current = account
        old, new = change.mail_change(current)
        return personal_data(identifier, old, new, change.when)

    def details(self, change: Change, own: bool, mails: list[Mail]) -> dict[str, Any]:
        details: dict[str, Any] = {
            "at": change.start,
            "csn": change.csn or None,
            "by": change.author or None,
            "attributes": change.attributes,
            "apexdir": own,
        }
        lists = (("members_added", "+"), ("members_removed", "-"), ("members_replaced", "="))
        for key, op in lists:
            members = change.members(op)
            if members:
                details[key] = members
        if change.new_rdn:
            details["new_rdn"] = change.new_rdn
            details["new_superior"] = change.new_superior
        if mails:
            details["notified"] = sorted({m.template for m in mails})
        return details

    def actor(self, change: Change) -> str | None:
        """The partner who made the change himself (an account bound to LDAP), if so."""
        by = change.author
        return rdn_value(by) if by and is_child(by, self.layout.people_dn) else None

    def handle(self, change: Change) -> int:
        """Journal the change (one the feed did not ignore) and queue its mails, in one
        transaction; how many mails were queued."""
        own = self.is_own(change)
        mails = [] if own else self.mails(change)
        journal = Journal(self.rt.db, clock=lambda: change.when)
        details = self.details(change, own, mails)
        operator = f"ldap:{change.author}" if change.author else "ldap:anonymous"

        def record() -> None:
            journal.record(
                f"ldap.{change.type}",
                change.dn,
                actor=self.actor(change),
                operator=operator,
                details=details,
            )

        commit(self.rt, mails, [], also=record)
        return len(mails)
