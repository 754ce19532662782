"""Reads of the domain from the directory, batched: one search per question, never N+1."""

from __future__ import annotations

import contextlib
from datetime import datetime

from apexdir.directory import filters as f
from apexdir.directory import mapping as m
from apexdir.directory.connection import Directory
from apexdir.directory.layout import Layout, first_rdn_value, rdn
from apexdir.directory.lookups import Lookups
from apexdir.directory.requests import (
    NOTICE,
    REQUEST,
    REQUEST_READ,
    RequestWrites,
    request_from,
)
from apexdir.directory.writes import Writes
from apexdir.errors import Conflict, NotFound
from apexdir.models import (
    Account,
    Application,
    CreationRequest,
    Profile,
    RequestStatus,
    Service,
    Structure,
)

ACCOUNT_CLASS = f.eq("objectClass", "apexAccount")
# cosine's `account` (structural, MUST uid): a tombstone needs no schema of its own, so an
# existing directory gains tombstones without a schema change.
TOMBSTONE_CLASS = "account"


class Repository(Writes, RequestWrites, Lookups):
    """The domain's reads (here, and single-entry ones in `lookups.Lookups`) and writes
    (`writes.Writes`, `requests.RequestWrites`), through the one map."""

    def __init__(self, directory: Directory, layout: Layout) -> None:
        self.directory = directory
        self.layout = layout

    # ------------------------------------------------------------------ structures
    def structure(self, siret: str) -> Structure:
        entry = self.directory.get(self.layout.structure_dn(siret), m.STRUCTURE_READ)
        if entry is None:
            raise NotFound(f"structure {siret} introuvable")
        return m.structure_from(entry)

    def structures(self) -> list[Structure]:
        entries = self.directory.search(
            self.layout.structures_dn,
            f.eq("objectClass", "apexStructure"),
            m.STRUCTURE_READ,
            scope="one",
        )
        return sorted((m.structure_from(e) for e in entries), key=lambda s: s.siret)

    def moved_to(self, siret: str) -> str | None:
        """The SIRET of the structure that `siret` was moved to, if any."""
        found = self.directory.search(
            self.layout.structures_dn, f.eq("apexPreviousSiret", siret), ["apexSiret"], scope="one"
        )
        return str(found[0].get("apexSiret")) if found else None

    def set_structure_closed(self, siret: str, closed: bool, reason: str | None = None) -> None:
        self.directory.replace(
            self.layout.structure_dn(siret), **m.structure_state_changes(closed, reason)
        )

    def rewrite_references(self, old_dn: str, old_services: list[str], new_siret: str) -> int:
        """Point the accounts and requests still naming the structure `old_dn` (or one of
        its former service DNs) at the structure's new DN; how many entries it took. None
        where slapd's refint lists apexStructureRef and apexServiceRef, as apexdir's
        configuration does: refint rewrote them at the modrdn. A directory configured by
        hand without them is put right here."""
        new_dn = self.layout.structure_dn(new_siret)
        wanted = f.or_(
            f.eq("apexStructureRef", old_dn), *(f.eq("apexServiceRef", dn) for dn in old_services)
        )
        count = 0
        for base in (self.layout.people_dn, self.layout.requests_dn):
            for entry in self.directory.search(base, wanted, ["apexServiceRef"], scope="one"):
                service = entry.get("apexServiceRef")
                changes = {"apexStructureRef": new_dn}
                if service:
                    service_id = first_rdn_value(str(service))
                    changes["apexServiceRef"] = self.layout.service_dn(new_siret, service_id)
                self.directory.replace(entry.dn, **changes)
                count += 1
        return count

    def move_structure(self, siret: str, new_siret: str) -> None:
        """Rename the structure's entry (services follow, refint rewrites the accounts' and
        requests' DN references), then keep the former SIRET on it."""
        self.directory.rename(self.layout.structure_dn(siret), rdn("apexSiret", new_siret))
        changes = {"apexPreviousSiret": [("add", [siret])]}
        self.directory.modify(self.layout.structure_dn(new_siret), changes)

    # ------------------------------------------------------------------ services
    def services(self, siret: str) -> list[Service]:
        entries = self.directory.search(
            self.layout.structure_dn(siret),
            f.eq("objectClass", "apexService"),
            m.SERVICE_ATTRS,
            scope="one",
        )
        return sorted((m.service_from(e) for e in entries), key=lambda s: s.name.lower())

    def service_names(self, siret: str | None = None) -> dict[str, str]:
        base = self.layout.structure_dn(siret) if siret else self.layout.structures_dn
        entries = self.directory.search(base, f.eq("objectClass", "apexService"), m.SERVICE_ATTRS)
        return {str(e.get("apexServiceId")): str(e.get("cn")) for e in entries}

    def service_by_name(self, siret: str, name: str) -> Service:
        entries = self.directory.search(
            self.layout.structure_dn(siret),
            f.and_(f.eq("objectClass", "apexService"), f.eq("cn", name)),
            m.SERVICE_ATTRS,
            scope="one",
        )
        # cn matching ignores case; a service name is exact, so compare it here too.
        exact = [e for e in entries if str(e.get("cn")).casefold() == name.casefold()]
        if not exact:
            raise NotFound(f"service « {name} » introuvable dans la structure {siret}")
        return m.service_from(exact[0])

    # ------------------------------------------------------------------ accounts
    def account(self, identifier: str) -> Account:
        entry = self.directory.get(self.layout.account_dn(identifier), m.ACCOUNT_ATTRS)
        if entry is None or entry.get("apexAccountType") is None:
            raise NotFound(f"compte {identifier} introuvable")
        account = m.account_from(entry)
        if account.service_id:
            account.service = self.service_names(account.siret).get(account.service_id)
        return account

    def accounts(
        self,
        *,
        siret: str | None = None,
        service_dn: str | None = None,
        account_type: str | None = None,
        status: str | None = None,
        member_of: str | None = None,
        attributes: list[str] | None = None,
    ) -> list[Account]:
        parts = [ACCOUNT_CLASS]
        if siret:
            parts.append(f.eq("apexStructureRef", self.layout.structure_dn(siret)))
        if service_dn:
            parts.append(f.eq("apexServiceRef", service_dn))
        if account_type:
            parts.append(f.eq("apexAccountType", account_type))
        if status:
            parts.append(f.eq("apexStatus", status))
        if member_of:
            parts.append(f.eq("memberOf", member_of))
        entries = self.directory.search(
            self.layout.people_dn, f.and_(*parts), attributes or m.ACCOUNT_ATTRS, scope="one"
        )
        names = self.service_names(siret) if entries else {}
        accounts = [m.account_from(e, names) for e in entries]
        return sorted(accounts, key=lambda a: a.identifier)

    def taken_identifiers(self, stem: str) -> set[str]:
        """Identifiers that could collide with `stem` (`uid=stem*`): those of the accounts
        and those of the tombstones, since an identifier is never issued twice (SPEC §10)."""
        entries = self.directory.search(
            self.layout.people_dn, f.starts("uid", stem), ["uid"], scope="one"
        )
        return {str(e.get("uid")).lower() for e in entries} | self.retired_identifiers(stem)

    def retired_identifiers(self, stem: str = "") -> set[str]:
        """Identifiers of deleted accounts (starting with `stem`; all of them when empty)."""
        filt = f.starts("uid", stem) if stem else f.eq("objectClass", TOMBSTONE_CLASS)
        try:
            entries = self.directory.search(self.layout.retired_dn, filt, ["uid"], scope="one")
        except NotFound:  # a directory `apexdir init` has not brought up to date yet
            return set()
        return {str(e.get("uid")).lower() for e in entries}

    def retire(self, identifier: str) -> None:
        """Leave the tombstone of `identifier` before its account goes (SPEC §10).

        The identifier alone — no name, mail or link to a structure: its deletion time is
        the entry's own `createTimestamp`, which slapd sets and replication and backups
        keep. Idempotent (a deletion run again finds it there); written *before* the
        account is deleted, so that no instant exists where the identifier looks free.
        """
        dn = self.layout.tombstone_dn(identifier)
        attrs = {"objectClass": [TOMBSTONE_CLASS], "uid": identifier}
        try:
            self.directory.add(dn, attrs)
        except Conflict:
            if not self.directory.exists(dn):
                raise
        except NotFound:  # the branch is missing: `apexdir init` not run since the upgrade
            branch = {"objectClass": ["organizationalUnit"], "ou": "retired"}
            with contextlib.suppress(Conflict):  # another node made it meanwhile
                self.directory.add(self.layout.retired_dn, branch)
            self.directory.add(dn, attrs)

    # ------------------------------------------------------------------ catalogue
    def applications(self) -> list[Application]:
        entries = self.directory.search(
            self.layout.applications_dn,
            f.or_(f.eq("objectClass", "apexApplication"), f.eq("objectClass", "apexProfile")),
            [*m.APPLICATION.values(), "objectClass"],
        )
        profiles: dict[str, list[str]] = {}
        apps = []
        for entry in entries:
            classes = [str(c).lower() for c in entry.all("objectClass")]
            if "apexprofile" in classes:
                profiles.setdefault(str(entry.get("apexAppCode")).upper(), []).append(
                    str(entry.get("cn"))
                )
            else:
                apps.append(entry)
        return sorted(
            (
                m.application_from(e, profiles.get(str(e.get("apexAppCode")).upper(), []))
                for e in apps
            ),
            key=lambda a: a.code,
        )

    def application(self, code: str) -> Application:
        entry = self.directory.get(self.layout.application_dn(code), list(m.APPLICATION.values()))
        if entry is None:
            raise NotFound(f"application {code} introuvable")
        profiles = self.directory.search(
            entry.dn, f.eq("objectClass", "apexProfile"), ["cn"], scope="one"
        )
        return m.application_from(entry, [str(p.get("cn")) for p in profiles])

    def add_application(self, app: Application) -> None:
        self.directory.add(self.layout.application_dn(app.code), m.application_attrs(app))

    def update_application(self, code: str, *, name: str | None, url: str | None) -> None:
        """New values of an application's name and address; None leaves a value as it is,
        an empty address removes it. The auxiliary class that carries the address is added
        in the same change (an application added before addresses existed has none)."""
        dn = self.layout.application_dn(code)
        changes: dict[str, list[tuple[str, list[object]]]] = {}
        if name is not None:
            changes[m.APPLICATION["name"]] = [("replace", [name])]
        if url is not None:
            changes[m.APPLICATION["url"]] = [("replace", [url] if url else [])]
            entry = self.directory.get(dn, ["objectClass"])
            classes = {str(c).lower() for c in entry.all("objectClass")} if entry else set()
            if url and "labeleduriobject" not in classes:
                changes["objectClass"] = [("add", ["labeledURIObject"])]
        if changes:
            self.directory.modify(dn, changes)

    def profile(self, app: str, name: str, *, members: bool = False) -> Profile:
        attrs = ["cn", "apexAppCode"] + (["member"] if members else [])
        entry = self.directory.get(self.layout.profile_dn(app, name), attrs)
        if entry is None:
            raise NotFound(f"profil {app}/{name} introuvable")
        return m.profile_from(entry)

    # ------------------------------------------------------------------ requests
    def request(self, request_id: str) -> CreationRequest:
        entry = self.directory.get(self.layout.request_dn(request_id), REQUEST_READ)
        if entry is None:
            raise NotFound(f"demande de création {request_id} introuvable")
        req = request_from(entry)
        if req.service_id:
            req.service = self.service_names(req.siret).get(req.service_id)
        return req

    def requests(
        self,
        *,
        siret: str | None = None,
        status: list[RequestStatus] | None = None,
        mail: str | None = None,
        with_services: bool = True,
        where: str = "",
    ) -> list[CreationRequest]:
        """The requests (of a structure, in these statuses, to this address), oldest first;
        `where` is a filter of this layer's (the named queries below)."""
        parts = [f.eq("objectClass", "apexRequest")]
        if siret:
            parts.append(f.eq("apexStructureRef", self.layout.structure_dn(siret)))
        if status:
            parts.append(f.any_of("apexStatus", status))
        if mail:
            parts.append(f.eq("mail", mail))
        parts.append(where)
        entries = self.directory.search(
            self.layout.requests_dn, f.and_(*parts), REQUEST_READ, scope="one"
        )
        names = self.service_names(siret) if entries and with_services else {}
        out = [request_from(e, names) for e in entries]
        return sorted(
            out, key=lambda r: (r.requested_at.isoformat() if r.requested_at else "", r.id)
        )

    # The daemon's `pending` passes: one search each.
    def expired_invitations(self, now: datetime) -> list[CreationRequest]:
        """Invitations whose link expired at `now` or before."""
        return self.requests(status=[RequestStatus.INVITED], where=f.le(REQUEST["expires_at"], now))

    def invitations_to_remind(
        self, invited_before: datetime, now: datetime, notice: str
    ) -> list[CreationRequest]:
        """Invitations sent before `invited_before`, still valid at `now`, without `notice`."""
        where = f.and_(
            f.le(REQUEST["requested_at"], invited_before),
            f.ge(REQUEST["expires_at"], now),
            f.not_(f.eq(NOTICE, notice)),
        )
        return self.requests(status=[RequestStatus.INVITED], where=where)

    def submissions_before(self, submitted_before: datetime) -> list[CreationRequest]:
        """Forms submitted before `submitted_before` that wait for a validator."""
        return self.requests(
            status=[RequestStatus.SUBMITTED], where=f.le(REQUEST["submitted_at"], submitted_before)
        )

    def purgeable_requests(self, cut: datetime) -> list[CreationRequest]:
        """Refused and expired requests decided before `cut` (requested before it, for
        those without a decision time)."""
        decided = REQUEST["decided_at"]
        where = f.or_(
            f.le(decided, cut),
            f.and_(f.not_(f.present(decided)), f.le(REQUEST["requested_at"], cut)),
        )
        return self.requests(status=[RequestStatus.REFUSED, RequestStatus.EXPIRED], where=where)
