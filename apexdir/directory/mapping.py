"""The one map between the domain's names and LDAP attributes: entry → model builders for
reads, model (or draft) → attributes for writes."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from apexdir.clock import from_generalized_time, to_generalized_time
from apexdir.directory import filters as f
from apexdir.directory.connection import Entry
from apexdir.directory.dn import parent as dn_parent
from apexdir.directory.layout import Layout, first_rdn_value
from apexdir.models import (
    Account,
    AccountStatus,
    AccountType,
    Application,
    Event,
    Profile,
    Service,
    Structure,
    StructureStatus,
    habilitation,
)
from apexdir.rules.structure_life import ACCOUNT_CLOSED, ACTIVE, CLOSED, OPEN

STRUCTURE = {
    "siret": "apexSiret",
    "name": "o",
    "category": "apexCategory",
    "trade_name": "apexTradeName",
    "street": "street",
    "street2": "apexStreet2",
    "postal_code": "postalCode",
    "city": "l",
    "country": "apexCountry",
}
# A structure's state, written only by the closing, reopening and moving of structures.
STRUCTURE_STATE = {
    "status": "apexStatus",
    "reason": "apexReason",
    "previous_sirets": "apexPreviousSiret",
}
STRUCTURE_READ = [*STRUCTURE.values(), *STRUCTURE_STATE.values()]
SERVICE = {"id": "apexServiceId", "name": "cn"}
SERVICE_ATTRS = list(SERVICE.values())
# An application's address is the standard labeledURI (RFC 2079, core.schema) carried by the
# standard auxiliary class labeledURIObject: no change to apexApplication, so a directory
# loaded with an earlier apex.schema takes it as it is.
APPLICATION = {"code": "apexAppCode", "name": "cn", "url": "labeledURI"}
APPLICATION_CLASSES = ["apexApplication", "labeledURIObject"]
# What its owner changes of an account (`Repository.update_personal_data`); cn follows the names.
PERSONAL = {
    "last_name": "sn",
    "first_name": "givenName",
    "common_name": "cn",
    "mail": "mail",
    "mobile": "mobile",
}
SESSION_GENERATION = "apexSessionGeneration"
ACCOUNT_ATTRS = [
    "uid", "sn", "givenName", "mail", "mobile", "apexAccountType", "apexStructureRef",
    "apexServiceRef", "apexStatus", "apexClientApplication", "apexRequestedAt", "apexValidatedAt",
    "apexCreatedBy", "memberOf", "apexDelegatedProfile", "authTimestamp", "pwdChangedTime",
    "pwdAccountLockedTime", "apexSessionGeneration", "apexDormancy"
]  # fmt: skip
# What listings show (consultation, `account list`, /comptes, Account.public()): less to
# decode for 1,000 entries; mobile, dates of creation and password state stay empty.
LISTING_ATTRS = [
    "uid", "sn", "givenName", "mail", "apexAccountType", "apexStructureRef", "apexServiceRef",
    "apexStatus", "memberOf", "apexDelegatedProfile", "apexClientApplication", "authTimestamp"
]  # fmt: skip
# The active accounts, as slapd filters them (an account without apexStatus is active).
ACTIVE_ACCOUNT = f.or_(f.eq("apexStatus", "active"), f.not_(f.present("apexStatus")))
# What the last administrateur's guard reads of a structure's administrateurs.
GUARD_ATTRS = ["uid", "apexAccountType", "apexStructureRef", "apexStatus"]
# What the closing and reopening of a structure read of each account: whether it may log
# in, and why not.
LOGIN_STATE_ATTRS = ["uid", "mail", "apexAccountType", "apexStructureRef", "apexStatus",
                     "pwdAccountLockedTime"]  # fmt: skip
# What a structure's move reads of its accounts (their identifiers, types and structure).
MOVE_ATTRS = ["uid", "apexAccountType", "apexStructureRef"]


# ppolicy's administrative lock (slapo-ppolicy(5)): pwdAccountLockedTime "000001010000Z"
# locks an account until an administrator removes it, whatever pwdLockoutDuration says.
ADMINISTRATIVE_LOCK = "000001010000Z"


def _lock(value: Any) -> tuple[datetime | None, bool]:
    """(time of a lockout after failures, whether the administrative lock is set)."""
    if isinstance(value, bytes):
        value = value.decode("ascii", "replace")
    if isinstance(value, str) and value.strip() == ADMINISTRATIVE_LOCK:
        return None, True  # year 0: no datetime; ldap3 hands the raw text
    return as_time(value), False


def suspension_changes(suspended: bool) -> dict[str, Any]:
    """The values of a suspension (or of its end), written together in one modify: the
    status apexdir reads, and ppolicy's administrative lock, which makes slapd refuse every
    bind of the account (raw LDAP applications included). Pending login codes and reset
    secrets go with a suspension: nothing issued before it is redeemed after it."""
    if suspended:
        return {
            "apexStatus": AccountStatus.SUSPENDED,
            "pwdAccountLockedTime": ADMINISTRATIVE_LOCK,
            "apexLoginCode": None,
            "apexResetSecret": None,
        }
    return {"apexStatus": AccountStatus.ACTIVE, "pwdAccountLockedTime": None}


def as_time(value: Any) -> datetime | None:
    if value in (None, "", []):
        return None
    return from_generalized_time(value)


def as_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)


@lru_cache(maxsize=4096)  # a few profiles, each in many accounts' memberOf
def profile_key(dn: str) -> str:
    """cn=PROFILE,apexAppCode=APP,… → "APP/PROFILE"."""
    rest = dn.split(",", 1)
    profile = first_rdn_value(dn)
    app = first_rdn_value(dn_parent(dn)) if len(rest) == 2 else ""
    return habilitation(app, profile)


def parent_dn(dn: str) -> str:
    return dn_parent(dn)


def structure_from(entry: Entry) -> Structure:
    values = {name: as_text(entry.get(attr)) for name, attr in STRUCTURE.items()}
    return Structure(
        dn=entry.dn,
        status=StructureStatus(as_text(entry.get("apexStatus")) or OPEN),
        reason=as_text(entry.get("apexReason")),
        previous_sirets=sorted(str(v) for v in entry.all("apexPreviousSiret")),
        **values,  # type: ignore[arg-type]
    )


def structure_state_changes(closed: bool, reason: str | None = None) -> dict[str, Any]:
    """A structure closed (with the agent's reason, if any) or open again: an open
    structure carries no status at all, as before structures could close."""
    if closed:
        return {"apexStatus": CLOSED, "apexReason": reason}
    return {"apexStatus": None, "apexReason": None}


def closure_changes(closed: bool, generation: str = "") -> dict[str, Any]:
    """The values of an account when its structure closes (or reopens), in one modify:
    the status apexdir reads (login, portal, OIDC provider, reset), ppolicy's administrative
    lock that makes slapd refuse every bind, pending codes voided and, at closing, a new
    session generation so that no session opened before it lives again at the reopening.
    A pending dormancy warning goes too: after a reopening, a fresh one with its whole lead."""
    if closed:
        return {
            "apexStatus": ACCOUNT_CLOSED,
            "pwdAccountLockedTime": ADMINISTRATIVE_LOCK,
            "apexLoginCode": None,
            "apexResetSecret": None,
            "apexSessionGeneration": generation,
            "apexDormancy": None,
        }
    return {"apexStatus": ACTIVE, "pwdAccountLockedTime": None}


def structure_attrs(structure: Structure) -> dict[str, Any]:
    return {attr: getattr(structure, name) for name, attr in STRUCTURE.items()}


def service_attrs(service: Service) -> dict[str, Any]:
    return {"objectClass": ["apexService"], **{a: getattr(service, n) for n, a in SERVICE.items()}}


def service_from(entry: Entry) -> Service:
    return Service(
        id=str(entry.get("apexServiceId")),
        name=str(entry.get("cn")),
        siret=first_rdn_value(parent_dn(entry.dn)),
        dn=entry.dn,
    )


def common_name(first_name: str, last_name: str) -> str:
    """An account's cn, « Prénom Nom »: written with the names, again when one changes."""
    return f"{first_name} {last_name}"


@dataclass(slots=True)  # not frozen: a frozen dataclass is slow to make, 100,000 times
class AccountDraft:
    """A new account before it exists, every value checked by its maker (a validated
    pré-création, a line of a bulk import): references are DNs."""

    identifier: str
    first_name: str
    last_name: str
    mail: str
    type: AccountType
    structure_dn: str
    validated_at: datetime
    created_by: str | None
    validated_by: str | None
    mobile: str | None = None
    password_hash: str | None = None
    service_dn: str | None = None
    client_application: str | None = None
    requested_at: datetime | None = None
    delegations: list[str] = field(default_factory=list)  # profile DNs


@lru_cache(maxsize=64)  # a bulk import's many accounts share one moment
def _generalized(moment: datetime) -> str:
    return to_generalized_time(moment)


def account_attrs(draft: AccountDraft) -> dict[str, Any]:
    """The entry of a new, active account (None and [] values are not written)."""
    return {
        "objectClass": ["inetOrgPerson", "apexAccount"],
        "uid": draft.identifier,
        "cn": common_name(draft.first_name, draft.last_name),
        "sn": draft.last_name,
        "givenName": draft.first_name,
        "mail": draft.mail,
        "mobile": draft.mobile,
        "userPassword": draft.password_hash,
        "apexAccountType": draft.type,
        "apexStructureRef": draft.structure_dn,
        "apexServiceRef": draft.service_dn,
        "apexClientApplication": draft.client_application,
        "apexStatus": ACTIVE,
        "apexRequestedAt": _generalized(draft.requested_at) if draft.requested_at else None,
        "apexValidatedAt": _generalized(draft.validated_at),
        "apexCreatedBy": draft.created_by,
        "apexValidatedBy": draft.validated_by,
        "apexDelegatedProfile": draft.delegations,
    }


def account_from(entry: Entry, service_names: dict[str, str] | None = None) -> Account:
    structure_dn = as_text(entry.get("apexStructureRef")) or ""
    service_dn = as_text(entry.get("apexServiceRef"))
    service_id = first_rdn_value(service_dn) if service_dn else None
    locked_at, locked_by_administrator = _lock(entry.get("pwdAccountLockedTime"))
    return Account(
        identifier=str(entry.get("uid")),
        dn=entry.dn,
        type=AccountType(str(entry.get("apexAccountType", "")).lower()),
        last_name=as_text(entry.get("sn")) or "",
        first_name=as_text(entry.get("givenName")) or "",
        mail=as_text(entry.get("mail")) or "",
        mobile=as_text(entry.get("mobile")),
        siret=first_rdn_value(structure_dn) if structure_dn else "",
        structure_dn=structure_dn,
        service_id=service_id,
        service_dn=service_dn,
        service=(service_names or {}).get(service_id or ""),
        status=_account_status(as_text(entry.get("apexStatus"))),
        client_application=as_text(entry.get("apexClientApplication")),
        requested_at=as_time(entry.get("apexRequestedAt")),
        validated_at=as_time(entry.get("apexValidatedAt")),
        created_by=as_text(entry.get("apexCreatedBy")),
        last_login=as_time(entry.get("authTimestamp")),
        password_changed_at=as_time(entry.get("pwdChangedTime")),
        locked_at=locked_at,
        locked_by_administrator=locked_by_administrator,
        session_generation=as_text(entry.get("apexSessionGeneration")) or "",
        habilitations=sorted(profile_key(dn) for dn in entry.all("memberOf")),
        delegations=sorted(profile_key(dn) for dn in entry.all("apexDelegatedProfile")),
        dormant_suspension=(as_text(entry.get("apexDormancy")) or "").startswith("suspended:"),
    )


def _account_status(value: str | None) -> AccountStatus | str:
    """An account's status: ours, "active" when none is set, or as an LDIF import gave it."""
    if not value:
        return AccountStatus.ACTIVE
    try:
        return AccountStatus(value)
    except ValueError:
        return value


def application_from(entry: Entry, profiles: list[str]) -> Application:
    return Application(
        code=str(entry.get("apexAppCode")),
        name=str(entry.get("cn")),
        dn=entry.dn,
        profiles=sorted(profiles),
        url=_uri(entry.get("labeledURI")),
    )


def _uri(value: Any) -> str | None:
    """A labeledURI is "URI [label]": the address is its first word."""
    text = as_text(value)
    return text.split(" ", 1)[0] if text and text.strip() else None


def application_attrs(app: Application) -> dict[str, Any]:
    values = {attr: getattr(app, name) for name, attr in APPLICATION.items()}
    return {"objectClass": APPLICATION_CLASSES, **{k: v for k, v in values.items() if v}}


def profile_from(entry: Entry) -> Profile:
    return Profile(
        app=str(entry.get("apexAppCode")),
        name=str(entry.get("cn")),
        dn=entry.dn,
        members=[str(m) for m in entry.all("member")],
    )


EVENT_ATTRS = ["cn", "apexEventAt", "apexEventAction", "apexEventActor", "apexEventTarget",
               "apexStructureRef", "apexServiceRef", "apexEventData"]  # fmt: skip


def event_from(entry: Entry) -> Event:
    service_dn = as_text(entry.get("apexServiceRef"))
    data = as_text(entry.get("apexEventData"))
    try:
        details = json.loads(data) if data else {}
    except ValueError:
        details = {}  # an entry edited by hand: the event is still shown
    return Event(
        id=str(entry.get("cn")),
        at=as_time(entry.get("apexEventAt")) or datetime.min.replace(tzinfo=UTC),
        action=str(entry.get("apexEventAction")),
        structure=first_rdn_value(as_text(entry.get("apexStructureRef")) or ""),
        actor=as_text(entry.get("apexEventActor")),
        target=as_text(entry.get("apexEventTarget")),
        service=first_rdn_value(service_dn) if service_dn else None,
        details=details if isinstance(details, dict) else {},
    )


def event_attrs(event: Event, layout: Layout) -> dict[str, Any]:
    """The entry of an event. Its structure and service are DNs, so that refint carries
    them along when a structure moves to a new SIRET (a modrdn)."""
    return {
        "objectClass": ["top", "apexEvent"],
        "cn": event.id,
        "apexEventAt": to_generalized_time(event.at),
        "apexEventDay": to_generalized_time(event.at)[:8],
        "apexEventAction": event.action,
        "apexEventActor": event.actor,
        "apexEventTarget": event.target,
        "apexStructureRef": layout.structure_dn(event.structure),
        "apexServiceRef": (
            layout.service_dn(event.structure, event.service) if event.service else None
        ),
        "apexEventData": (
            json.dumps(event.details, ensure_ascii=False, sort_keys=True, default=str)
            if event.details
            else None
        ),
    }
