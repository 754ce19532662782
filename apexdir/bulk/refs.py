"""What an import may refer to — in the directory, or valid in the file — and its DNs.

Every account row repeats a SIRET, a service, a few profiles: each is checked and its DN
made once, then read from a cache.
"""

from __future__ import annotations

from apexdir.bulk.dn import norm_dn, parent, rdn_value
from apexdir.bulk.items import AccountItem
from apexdir.bulk.snapshot import Snapshot, profile_key
from apexdir.directory.layout import Layout
from apexdir.errors import Invalid
from apexdir.rules import identifiers
from apexdir.rules.import_rows import check_service_given
from apexdir.rules.siret import validate_siret
from apexdir.workflows.services import _name as service_name


class References:
    def __init__(self, layout: Layout, snapshot: Snapshot) -> None:
        self.layout = layout
        self.snap = snapshot
        self.sirets = set(snapshot.sirets)
        self.bad: dict[str, int] = {}  # key of a bad structure/service/profile → its line
        self.services = {s: dict(names) for s, names in snapshot.services.items()}
        self.apps = set(snapshot.apps)
        self.profiles = dict(snapshot.profiles)
        self.siret_cache: dict[str, str] = {}
        self.dn_cache: dict[tuple[str, ...], str] = {}
        self.service_refs: dict[tuple[str, str], str] = {}  # (siret, apexServiceRef) → DN
        self.people_dn = layout.people_dn

    def structure_dn(self, siret: str) -> str:
        key = ("s", siret)
        if key not in self.dn_cache:
            self.dn_cache[key] = self.layout.structure_dn(siret)
        return self.dn_cache[key]

    def account_dn(self, uid: str) -> str:
        """An identifier of SPEC §3 ([a-z0-9.-]) needs no escaping: skip the DN escaper."""
        if identifiers.is_valid_identifier(uid):
            return f"uid={uid},{self.people_dn}"
        return self.layout.account_dn(uid)

    def service_dn(self, siret: str, service_id: str) -> str:
        key = ("v", siret, service_id)
        if key not in self.dn_cache:
            self.dn_cache[key] = self.layout.service_dn(siret, service_id)
        return self.dn_cache[key]

    def siret(self, value: str) -> str:
        """validate_siret, once per distinct value (every account row repeats one)."""
        known = self.siret_cache.get(value)
        if known is None:
            known = self.siret_cache[value] = validate_siret(value)
        return known

    def known_siret(self, value: str) -> str:
        siret = self.siret(value)
        if siret not in self.sirets:
            line = self.bad.get(f"s:{siret}")
            if line:
                raise Invalid(f"structure {siret} is invalid (line {line})")
            raise Invalid(
                f"structure {siret} does not exist (neither in the directory nor valid in the file)"
            )
        return siret

    def profile_ref(self, value: str) -> str:
        """The DN of a profile named "APP/PROFILE" or by its DN."""
        if "=" in value:
            app_dn = parent(value)
            if norm_dn(parent(app_dn)) != norm_dn(self.layout.applications_dn):
                raise Invalid(f"{value}: not a profile of this directory")
            app, profile = rdn_value(app_dn), rdn_value(value)
        else:
            app, sep, profile = value.partition("/")
            if not sep:
                raise Invalid(f"habilitation {value!r}: APP/PROFILE expected")
        key = profile_key(app, profile)
        if key in self.profiles:
            return self.profiles[key]
        line = self.bad.get(f"p:{key}")
        if line:
            raise Invalid(f"profile {app}/{profile} is invalid (line {line})")
        raise Invalid(f"profile {app}/{profile} does not exist (catalogue or file)")

    def service_of(self, item: AccountItem, siret: str) -> str | None:
        """The service DN of an account, checked against its type."""
        given = item.service or item.service_dn
        check_service_given(item.type, bool(given))
        if item.type == "administrateur":
            return None
        if item.service_dn:
            # Accounts are checked once every service is known: a reference found good
            # once is good for the many accounts that repeat it.
            known = self.service_refs.get((siret, item.service_dn))
            if known is not None:
                return known
            service_id = rdn_value(item.service_dn)
            if rdn_value(parent(item.service_dn)) != siret or service_id not in set(
                self.services.get(siret, {}).values()
            ):
                raise Invalid(f"apexServiceRef {item.service_dn}: no such service of {siret}")
            known = self.service_refs[siret, item.service_dn] = self.service_dn(siret, service_id)
            return known
        name = service_name(item.service or "")
        found = self.services.get(siret, {}).get(name.casefold())
        if found is None:
            raise Invalid(f"service {name!r} does not exist in structure {siret}")
        return self.service_dn(siret, found)
