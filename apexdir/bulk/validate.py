"""Items + what exists → a plan of entries to write, and every bad line with its reason.

The rules are the workflows' own (SIRET, categories, names, mails, mobiles, identifiers,
catalogue codes), called here on each item; nothing is written. Dependencies are resolved
across the whole file, whatever the order of its lines: an account may name a structure
defined further down. A line that depends on a bad line is bad too, and says which.

What exists is skipped (a re-run resumes): a structure by SIRET, a service by name within
its structure, an application by code, a profile by name, an account by identifier when the
file gives one, else by (structure, mail). Existing entries are never modified; only the
habilitations they miss are added.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from apexdir.bulk.checks import PASSED_ON_RULES as PASSED_ON_RULES  # where tests look
from apexdir.bulk.checks import Contact, Pool, contact_fields, later_error
from apexdir.bulk.checks import passed_on as passed_on
from apexdir.bulk.dn import norm_dn, parent, rdn_value
from apexdir.bulk.items import (
    AccountItem,
    ApplicationItem,
    Item,
    Problem,
    ProfileItem,
    ServiceItem,
    StructureItem,
)
from apexdir.bulk.plan import Plan, Planned, PlannedAccount
from apexdir.bulk.snapshot import ExistingAccount, Snapshot, profile_key
from apexdir.directory import mapping as m
from apexdir.directory.layout import Layout
from apexdir.errors import Invalid
from apexdir.models import Structure
from apexdir.rules import identifiers
from apexdir.rules.siret import validate_siret
from apexdir.rules.text import directory_string
from apexdir.runtime import Runtime
from apexdir.workflows.catalogue import normalize_code, parse_habilitation
from apexdir.workflows.services import _name as service_name
from apexdir.workflows.structures import _category, _clean

ACCOUNT_TYPES = ("administrateur", "responsable", "collaborateur")
DIGITS = "0123456789"
APP_NAME_LENGTH = 128  # cn of an application, as `apexdir app add` allows
SERVICE_ID_LENGTH = 64  # apexServiceId {64}


def app_label(value: str) -> str:
    label = value.strip()
    if not label or len(label) > APP_NAME_LENGTH:
        raise Invalid(f"application name: 1 to {APP_NAME_LENGTH} characters")
    return directory_string("application name", label)


def _stem_key(uid: str) -> str:
    """Every identifier that could collide with stem S files under S without its digits."""
    return uid.lower().removesuffix(identifiers.SUFFIX).rstrip(DIGITS)


class Validator:
    def __init__(
        self,
        rt: Runtime,
        snapshot: Snapshot,
        *,
        now: datetime,
        creator: str,
        pool: Pool | None = None,
    ) -> None:
        self.rt = rt
        self.pool = pool
        self.layout: Layout = rt.layout
        self.snap = snapshot
        self.now = now
        self.creator = creator
        self.plan = Plan()
        self.sirets = set(snapshot.sirets)
        self.bad: dict[str, int] = {}  # key of a bad structure/service/profile → its line
        self.services = {s: dict(names) for s, names in snapshot.services.items()}
        self.apps = set(snapshot.apps)
        self.profiles = dict(snapshot.profiles)
        self.accounts: dict[str, str] = {}  # norm DN of a valid account of the file → DN
        self.account_items_given: list[AccountItem] = []
        self._file_accounts: set[str] | None = None
        self.listed: dict[str, set[str]] = {}  # profile DN → norm DNs of planned members
        self.siret_cache: dict[str, str] = {}
        self.dn_cache: dict[tuple[str, ...], str] = {}
        self.service_refs: dict[tuple[str, str], str] = {}  # (siret, apexServiceRef) → DN
        self.people_dn = self.layout.people_dn
        self.taken: dict[str, set[str]] = {}
        # A deleted account's identifier is never issued again (SPEC §10).
        for uid in (*snapshot.accounts, *snapshot.retired):
            self.taken.setdefault(_stem_key(uid), set()).add(uid)

    def problem(self, line: int, reason: str) -> None:
        self.plan.problems.append(Problem(line, reason))

    # ------------------------------------------------------------------ driver
    def run(self, items: list[Item]) -> Plan:
        kinds: dict[type, list[Any]] = {}
        for item in items:
            kinds.setdefault(type(item), []).append(item)
        self.account_items_given = kinds.get(AccountItem, [])
        self.structures(kinds.get(StructureItem, []))
        for app in kinds.get(ApplicationItem, []):
            self.application(app)
        profiles = kinds.get(ProfileItem, [])
        for profile in profiles:
            self.profile(profile)
        self.service_items(kinds.get(ServiceItem, []))
        self.account_items(kinds.get(AccountItem, []))
        for profile in profiles:
            self.profile_members(profile)
        self.plan.problems.sort(key=lambda p: p.line)
        return self.plan

    # ------------------------------------------------------------------ structures
    def structures(self, items: list[StructureItem]) -> None:
        seen: dict[str, tuple[int, str, str]] = {}  # siret → (line, name, category)
        for item in items:
            try:
                siret = validate_siret(item.siret)
            except Invalid as exc:
                self.problem(item.line, str(exc))
                self.bad.setdefault(f"s:{''.join(item.siret.split())}", item.line)
                continue
            if siret in self.snap.sirets:
                if siret not in seen:
                    self.plan.existing["structures"] += 1
                    seen[siret] = (item.line, "", "")
                elif not item.implicit:
                    self.problem(item.line, f"structure {siret} already at line {seen[siret][0]}")
                continue
            if item.implicit and (not item.category or not item.name):
                continue  # an APEX v1 row that names its structure without describing it
            try:
                category = _category(self.rt, item.category or "")
                name = _clean("name", item.name, required=True) or ""
                address = {
                    k: _clean(k, getattr(item, k))
                    for k in ("trade_name", "street", "street2", "postal_code", "city", "country")
                }
            except Invalid as exc:
                self.problem(item.line, str(exc))
                self.bad.setdefault(f"s:{siret}", item.line)
                continue
            if siret in seen:
                line, first_name, first_category = seen[siret]
                same = (name.casefold(), category) == (first_name.casefold(), first_category)
                if not (item.implicit and same):
                    why = "differently " if item.implicit else ""
                    self.problem(item.line, f"structure {siret} described {why}at line {line}")
                continue
            seen[siret] = (item.line, name, category)
            structure = Structure(siret=siret, category=category, name=name, **address)
            attrs = {"objectClass": ["apexStructure"], **m.structure_attrs(structure)}
            self.plan.structures.append(Planned(item.line, self.layout.structure_dn(siret), attrs))
            self.sirets.add(siret)

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

    # ------------------------------------------------------------------ catalogue
    def application(self, item: ApplicationItem) -> None:
        try:
            code = normalize_code(item.code)
            label = app_label(item.name)
        except Invalid as exc:
            self.problem(item.line, str(exc))
            return
        self._add_application(item.line, code, label)

    def _add_application(self, line: int, code: str, label: str) -> None:
        if code in self.apps:
            self.plan.existing["applications"] += 1
            return
        self.apps.add(code)
        attrs = {"objectClass": ["apexApplication"], "apexAppCode": code, "cn": label}
        self.plan.applications.append(Planned(line, self.layout.application_dn(code), attrs))

    def profile(self, item: ProfileItem) -> None:
        key = profile_key(item.app, item.name)
        try:
            code, name = parse_habilitation(item.app, item.name)
            if code not in self.apps:
                if not item.app_name:
                    raise Invalid(f"application {code} does not exist: give its name")
                self._add_application(item.line, code, app_label(item.app_name))
        except Invalid as exc:
            self.problem(item.line, str(exc))
            self.bad[f"p:{key}"] = item.line
            return
        if key in self.profiles:
            if self.profiles[key] not in self.snap.members:  # defined twice in the file
                self.problem(item.line, f"profile {code}/{name} is defined twice in the file")
            else:
                self.plan.existing["profiles"] += 1
            return
        dn = self.layout.profile_dn(code, name)
        self.profiles[key] = dn
        attrs = {"objectClass": ["apexProfile"], "cn": name, "apexAppCode": code}
        self.plan.profiles.append(Planned(item.line, dn, attrs))

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

    # ------------------------------------------------------------------ services
    def service_items(self, items: list[ServiceItem]) -> None:
        seen: dict[tuple[str, str], int] = {}
        for item in items:
            try:
                siret = self.siret(item.siret)
                name = service_name(item.name)
            except Invalid as exc:
                if not item.implicit:
                    self.problem(item.line, str(exc))
                continue
            if siret not in self.sirets:
                if not item.implicit:  # the accounts of an implicit service say it
                    try:
                        self.known_siret(siret)
                    except Invalid as exc:
                        self.problem(item.line, str(exc))
                continue
            key = (siret, name.casefold())
            if key in seen:
                if not item.implicit:
                    self.problem(
                        item.line, f"service {name!r} of {siret} already at line {seen[key]}"
                    )
                continue
            seen[key] = item.line
            if name.casefold() in self.snap.services.get(siret, {}):
                self.plan.existing["services"] += 1
                continue
            service_id = item.service_id or str(uuid.uuid4())
            try:
                directory_string("apexServiceId", service_id, max_length=SERVICE_ID_LENGTH)
            except Invalid as exc:
                self.problem(item.line, str(exc))
                continue
            if service_id in self.snap.service_ids(siret):
                self.problem(item.line, f"apexServiceId {service_id} is another service's")
                continue
            self.services.setdefault(siret, {})[name.casefold()] = service_id
            attrs = {"objectClass": ["apexService"], "apexServiceId": service_id, "cn": name}
            dn = self.layout.service_dn(siret, service_id)
            self.plan.services.append(Planned(item.line, dn, attrs))

    def service_of(self, item: AccountItem, siret: str) -> str | None:
        """The service DN of an account, checked against its type."""
        given = item.service or item.service_dn
        if item.type == "administrateur":
            if given:
                raise Invalid("an administrateur belongs to the structure: no service")
            return None
        if not given:
            raise Invalid(f"a {item.type} belongs to a service: service is required")
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
        service_id = self.services.get(siret, {}).get(name.casefold())
        if service_id is None:
            raise Invalid(f"service {name!r} does not exist in structure {siret}")
        return self.service_dn(siret, service_id)

    # ------------------------------------------------------------------ accounts
    def account_items(self, items: list[AccountItem]) -> None:
        checked: list[tuple[AccountItem, dict[str, Any]]] = []
        seen: dict[tuple[str, str], int] = {}
        reserved: dict[str, int] = {}
        # A parallel reader checked the rows already (item.checked); other readers' rows are
        # checked here, by the pool when there are many.
        unchecked = [i for i in items if i.checked is None]
        rows = [(i.last_name, i.first_name, i.mail, i.mobile) for i in unchecked]
        contacts = dict(zip(map(id, unchecked), contact_fields(rows, self.pool), strict=True))
        for item in items:
            own = item.checked or (contacts[id(item)], later_error(item))
            try:
                attrs = self.account_fields(item, *own)
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
                self.existing_account(item, existing, attrs)
                continue
            given = (item.identifier or "").strip()
            if item.identifier_policy == "require" and given:
                problem = self.check_given(given, reserved)
                if problem:
                    self.problem(item.line, problem)
                    continue
                reserved[given.lower()] = item.line
                attrs["uid"] = given
            elif given and self.keepable(given, reserved):
                reserved[given.lower()] = item.line
                attrs["uid"] = given
            checked.append((item, attrs))
        if any("uid" not in attrs for _, attrs in checked):  # only generating needs them
            for uid in reserved:
                self.taken.setdefault(_stem_key(uid), set()).add(uid)
        for item, attrs in checked:
            if "uid" in attrs:
                self.plan.identifiers["kept" if item.source_identifier else "given"] += 1
            else:
                try:
                    stem = identifiers.base_identifier(item.first_name, item.last_name)
                except Invalid as exc:
                    self.problem(item.line, str(exc))
                    continue
                bucket = self.taken.setdefault(stem.rstrip(DIGITS), set())
                attrs["uid"] = identifiers.identifier(item.first_name, item.last_name, bucket)
                bucket.add(attrs["uid"])
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

    def check_given(self, uid: str, reserved: dict[str, int]) -> str | None:
        if not identifiers.is_valid_identifier(uid):
            return f"identifier {uid!r} does not follow the rules (prenom.nom-px, SPEC §3)"
        if uid.lower() in reserved:
            return f"identifier {uid} already given at line {reserved[uid.lower()]}"
        if uid.lower() in self.snap.accounts:
            return f"identifier {uid} is already another account's"
        if uid.lower() in self.snap.retired:
            return f"identifier {uid} belonged to a deleted account: it is never issued again"
        return None

    def keepable(self, uid: str, reserved: dict[str, int]) -> bool:
        return (
            identifiers.is_valid_identifier(uid)
            and uid.lower() not in reserved
            and uid.lower() not in self.snap.accounts
            and uid.lower() not in self.snap.retired
        )

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

    def account_fields(
        self, item: AccountItem, contact: Contact | str, later: str | None
    ) -> dict[str, Any]:
        """The account's values, or `Invalid` with the first rule it breaks, in this order
        (`contact` and `later`: the checks that need nothing but the row, done before)."""
        siret = self.known_siret(item.siret)
        kind = item.type.strip().lower()
        if kind not in ACCOUNT_TYPES:
            raise Invalid(f"type {item.type!r}: administrateur, responsable or collaborateur")
        item.type = kind
        if isinstance(contact, str):
            raise Invalid(contact)
        sn, given_name, mail, mobile = contact
        attrs: dict[str, Any] = {
            "siret": siret,
            "sn": sn,
            "givenName": given_name,
            "mail": mail,
            "mobile": mobile,
            "service_dn": self.service_of(item, siret),
        }
        if item.application:
            code = normalize_code(item.application)
            if code not in self.apps:
                raise Invalid(f"application {code} does not exist (catalogue or file)")
            attrs["apexClientApplication"] = code
        attrs["profiles"] = [self.profile_ref(v) for v in item.habilitations]
        if item.delegations and kind != "responsable":
            raise Invalid("profiles are delegated to responsables only")
        attrs["delegations"] = [self.profile_ref(v) for v in item.delegations]
        if later:
            raise Invalid(later)
        return attrs

    def existing_account(self, item: AccountItem, found: ExistingAccount, attrs: dict) -> None:
        self.plan.existing["accounts"] += 1
        self.accounts[norm_dn(found.dn)] = found.dn
        for profile_dn in attrs["profiles"]:
            self.add_membership(profile_dn, found.dn)
        if not found.has_password:
            self.plan.passwordless.append(found)

    def new_account(self, item: AccountItem, attrs: dict[str, Any]) -> None:
        uid = attrs["uid"]
        dn = self.account_dn(uid)
        draft = m.AccountDraft(
            uid, attrs["givenName"], attrs["sn"], attrs["mail"], item.type,
            self.structure_dn(attrs["siret"]), validated_at=self.now, created_by=self.creator,
            validated_by=self.creator, mobile=attrs["mobile"], password_hash=item.password_hash,
            service_dn=attrs["service_dn"],
            client_application=attrs.get("apexClientApplication"),
            delegations=attrs["delegations"],
        )  # fmt: skip
        entry = m.account_attrs(draft)
        entry.update(item.extra)
        self.plan.accounts.append(
            PlannedAccount(
                item.line,
                dn,
                entry,
                uid,
                attrs["mail"],
                password_changed=item.password_changed,
            )
        )
        self.accounts[norm_dn(dn)] = dn
        for profile_dn in attrs["profiles"]:
            self.add_membership(profile_dn, dn)

    # ------------------------------------------------------------------ LDIF members
    def profile_members(self, item: ProfileItem) -> None:
        """Members listed on an LDIF profile: accounts of the file or of the directory.
        A member that is neither is reported; with --skip-invalid only it is dropped."""
        dn = self.profiles.get(profile_key(item.app, item.name))
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
                self.problem(item.line, f"member {member} is not an account (file or directory)")
                continue
            self.add_membership(dn, account)

    def file_accounts(self) -> set[str]:
        """Norm DNs of every account the file names, valid or not (computed when needed)."""
        if self._file_accounts is None:
            self._file_accounts = {
                norm_dn(self.layout.account_dn(i.identifier))
                for i in self.account_items_given
                if i.identifier
            }
        return self._file_accounts

    def add_membership(self, profile_dn: str, account_dn: str) -> None:
        """Once per pair, and only when the directory does not hold it already."""
        key = norm_dn(account_dn)
        listed = self.listed.setdefault(profile_dn, set())
        if key in listed or key in self.snap.members.get(profile_dn, ()):
            return
        listed.add(key)
        self.plan.memberships.append((profile_dn, account_dn))


def validate(
    rt: Runtime,
    items: list[Item],
    snapshot: Snapshot,
    *,
    now: datetime,
    creator: str,
    pool: Pool | None = None,
) -> Plan:
    return Validator(rt, snapshot, now=now, creator=creator, pool=pool).run(items)
