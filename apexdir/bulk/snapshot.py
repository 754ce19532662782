"""What the directory already holds, read once per kind (never one search per line).

Four paged searches (over a connection of their own, `apexdir.directory.bulk.read_all`):
structures, services, the catalogue (with its members when
habilitations are imported), accounts (identifier, mail, structure; and whether a password
was ever set, for the migration's invitations), and the tombstones of deleted accounts,
whose identifiers are never issued again. This is what makes a re-run skip what a
previous, interrupted run wrote.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field

from apexdir.bulk.dn import norm_dn
from apexdir.config import LdapSettings
from apexdir.directory import filters as f
from apexdir.directory import mapping as m
from apexdir.directory.bulk import read_all
from apexdir.directory.connection import Entry
from apexdir.directory.layout import Layout, first_rdn_value
from apexdir.directory.repository import TOMBSTONE_CLASS
from apexdir.errors import NotFound


def profile_key(app: str, profile: str) -> str:
    """How the import compares profiles: application code upper case, name without case."""
    return f"{app.strip().upper()}/{profile.strip().casefold()}"


@dataclass(frozen=True)
class ExistingAccount:
    uid: str
    dn: str
    siret: str
    mail: str
    has_password: bool


@dataclass
class Snapshot:
    sirets: set[str] = field(default_factory=set)
    # siret → {service name casefolded: service id}
    services: dict[str, dict[str, str]] = field(default_factory=dict)
    apps: set[str] = field(default_factory=set)  # upper-case codes
    profiles: dict[str, str] = field(default_factory=dict)  # profile_key → DN
    members: dict[str, set[str]] = field(default_factory=dict)  # profile DN → norm_dn(member)
    accounts: dict[str, ExistingAccount] = field(default_factory=dict)  # uid lower → account
    by_mail: dict[tuple[str, str], str] = field(default_factory=dict)  # (siret, mail) → uid
    retired: set[str] = field(default_factory=set)  # identifiers of deleted accounts, lower

    def service_ids(self, siret: str) -> set[str]:
        return set(self.services.get(siret, {}).values())


def _entries(
    settings: LdapSettings, base: str, filt: str, attrs: list[str], scope: str
) -> Iterator[Entry]:
    for dn, values in read_all(settings, base, filt, attrs, scope=scope):
        yield Entry(dn, dict(values))


def read(
    settings: LdapSettings, layout: Layout, *, members: bool = True, passwords: bool = False
) -> Snapshot:
    snap = Snapshot()
    for entry in _entries(
        settings, layout.structures_dn, f.eq("objectClass", "apexStructure"), ["apexSiret"], "one"
    ):
        snap.sirets.add(str(entry.get("apexSiret")))
    for entry in _entries(
        settings, layout.structures_dn, f.eq("objectClass", "apexService"), m.SERVICE_ATTRS, "sub"
    ):
        siret = first_rdn_value(m.parent_dn(entry.dn))
        snap.services.setdefault(siret, {})[str(entry.get("cn")).casefold()] = str(
            entry.get("apexServiceId")
        )
    catalogue = ["apexAppCode", "cn", "objectClass"] + (["member"] if members else [])
    for entry in _entries(
        settings,
        layout.applications_dn,
        f.or_(f.eq("objectClass", "apexApplication"), f.eq("objectClass", "apexProfile")),
        catalogue,
        "sub",
    ):
        code = str(entry.get("apexAppCode")).upper()
        if "apexprofile" in {str(c).lower() for c in entry.all("objectClass")}:
            snap.profiles[profile_key(code, str(entry.get("cn")))] = entry.dn
            snap.members[entry.dn] = {norm_dn(str(v)) for v in entry.all("member")}
        else:
            snap.apps.add(code)
    account_attrs = ["uid", "mail", "apexStructureRef"] + (["pwdChangedTime"] if passwords else [])
    for entry in _entries(
        settings, layout.people_dn, f.eq("objectClass", "apexAccount"), account_attrs, "one"
    ):
        uid = str(entry.get("uid"))
        structure = str(entry.get("apexStructureRef") or "")
        account = ExistingAccount(
            uid=uid,
            dn=entry.dn,
            siret=first_rdn_value(structure) if structure else "",
            mail=str(entry.get("mail") or ""),
            has_password=entry.get("pwdChangedTime") is not None,
        )
        snap.accounts[uid.lower()] = account
        snap.by_mail.setdefault((account.siret, account.mail.lower()), uid)
    with contextlib.suppress(NotFound):  # no tombstone branch yet: nothing retired
        for entry in _entries(
            settings, layout.retired_dn, f.eq("objectClass", TOMBSTONE_CLASS), ["uid"], "one"
        ):
            snap.retired.add(str(entry.get("uid")).lower())
    return snap
