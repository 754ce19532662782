"""Account creation (SPEC §5): invite → the invitee completes the form → validate or refuse.

The request lives in the directory (every node sees it); it holds the chosen password only
as the hash that userPassword will carry, and the link's secret only as a SHA-256.
"""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any

from apexdir.clock import to_generalized_time
from apexdir.directory import filters as f
from apexdir.directory.hashing import pbkdf2_sha512
from apexdir.directory.repository import Repository
from apexdir.errors import Conflict, Invalid, NotFound
from apexdir.models import CreationRequest
from apexdir.rules import identifiers
from apexdir.rules.contact import normalize_mobile, validate_mail
from apexdir.rules.passwords import enforce_password
from apexdir.rules.permissions import (
    AccountType,
    Action,
    Actor,
    ActorType,
    Target,
    is_allowed,
    require,
)
from apexdir.rules.siret import validate_siret
from apexdir.runtime import Runtime
from apexdir.workflows import tokens
from apexdir.workflows.catalogue import normalize_code
from apexdir.workflows.notify import link, queue_mail, token_from

OPEN = ["invited", "submitted"]
SUBMITTED_MESSAGE = "Le formulaire de pré-création a été transmis pour validation."
LINK_PATH = "creation"


def creator_label(rt: Runtime, actor: Actor) -> str:
    return actor.identifier or f"agent:{rt.operator}"


def _account_type(value: str) -> AccountType:
    try:
        return AccountType(value.strip().lower())
    except ValueError:
        raise Invalid(
            f"account type {value!r}: administrateur, responsable or collaborateur"
        ) from None


def _request_target(req: CreationRequest) -> Target:
    return Target(
        account_type=AccountType(req.type),
        structure=req.siret,
        service=req.service_id,
        identifier=None,
    )


# ---------------------------------------------------------------------- invite
def invite(
    rt: Runtime,
    actor: Actor,
    *,
    siret: str,
    account_type: str,
    mail: str,
    service: str | None = None,
    application: str | None = None,
) -> dict[str, Any]:
    siret = validate_siret(siret)
    kind = _account_type(account_type)
    mail = validate_mail(mail)
    repo = Repository(rt.directory, rt.layout)
    repo.structure(siret)
    service_entry = None
    if kind == AccountType.ADMINISTRATEUR:
        if service:
            raise Invalid("an administrator belongs to the structure: no --service")
    else:
        if not service:
            raise Invalid(f"a {kind.value} belongs to a service: --service is required")
        service_entry = repo.service_by_name(siret, service)
    require(
        actor,
        Action.INVITE,
        Target(
            account_type=kind,
            structure=siret,
            service=service_entry.id if service_entry else None,
            identifier=None,
        ),
    )
    app = None
    if application:
        app = normalize_code(application)
        repo.application(app)
    existing = rt.directory.search(
        rt.layout.requests_dn,
        f.and_(
            f.eq("mail", mail),
            f.eq("apexStructureRef", rt.layout.structure_dn(siret)),
            f.any_of("apexStatus", OPEN),
        ),
        ["apexRequestId"],
        scope="one",
    )
    if existing:
        raise Conflict(
            f"a creation for {mail} is already open in structure {siret} "
            f"(request {existing[0].get('apexRequestId')})"
        )
    now = rt.clock()
    request_id = secrets.token_hex(6)
    secret = tokens.new_secret()
    expires = now + timedelta(days=rt.settings.policy.invitation_validity_days)
    attrs: dict[str, Any] = {
        "objectClass": ["apexRequest"],
        "apexRequestId": request_id,
        "mail": mail,
        "apexAccountType": kind.value,
        "apexStructureRef": rt.layout.structure_dn(siret),
        "apexServiceRef": service_entry.dn if service_entry else None,
        "apexClientApplication": app,
        "apexStatus": "invited",
        "apexTokenHash": tokens.digest(secret),
        "apexExpiresAt": to_generalized_time(expires),
        "apexRequestedAt": to_generalized_time(now),
        "apexCreatedBy": creator_label(rt, actor),
    }
    rt.directory.add(rt.layout.request_dn(request_id), attrs)
    url = link(rt, LINK_PATH, f"{request_id}.{secret}")
    queue_mail(rt, "precreation", [mail], lien=url)
    rt.journal.record(
        "account.invite",
        request_id,
        actor=actor.identifier,
        operator=rt.operator,
        details={"type": kind.value, "structure": siret, "mail": mail},
    )
    return {
        "request_id": request_id,
        "mail": mail,
        "type": kind.value,
        "structure": siret,
        "service": service_entry.name if service_entry else None,
        "expires_at": expires.isoformat(),
    }


# ---------------------------------------------------------------------- the form
def _open_request(rt: Runtime, token_or_link: str) -> CreationRequest:
    """The request a link points at, if the link is genuine, unused and not expired."""
    request_id, secret = tokens.split(token_from(token_or_link))
    refused = Invalid("ce lien de création de compte n'est pas valide ou a déjà été utilisé")
    if not request_id:
        raise refused
    try:
        req = Repository(rt.directory, rt.layout).request(request_id)
    except (NotFound, Invalid):
        raise refused from None
    if req.status != "invited" or not tokens.matches(secret, req.token_hash):
        raise refused
    if req.expires_at and req.expires_at <= rt.clock():
        raise Invalid("ce lien de création de compte a expiré : demandez une nouvelle invitation")
    return req


def _name(label: str, value: str) -> str:
    text = " ".join(value.split())
    if not text:
        raise Invalid(f"{label} : obligatoire")
    if len(text) > 64 or any(ord(c) < 32 for c in text):
        raise Invalid(f"{label} : 64 caractères au plus, sans caractère de contrôle")
    return text


def complete(
    rt: Runtime,
    token_or_link: str,
    *,
    last_name: str,
    first_name: str,
    mobile: str | None,
    password: str,
    confirmation: str,
    submit: bool,
) -> dict[str, Any]:
    """The invitee's form: validates everything, returns the summary, submits when asked.

    A refused form (bad password, mismatch, bad number) leaves the link usable.
    """
    req = _open_request(rt, token_or_link)
    last = _name("Nom", last_name)
    first = _name("Prénom", first_name)
    identifiers.base_identifier(first, last)  # a name that yields no identifier is refused now
    phone = normalize_mobile(mobile) if mobile and mobile.strip() else None
    policy = rt.settings.policy
    enforce_password(
        password,
        confirmation,
        min_length=policy.password_min_length,
        max_length=policy.password_max_length,
    )
    repo = Repository(rt.directory, rt.layout)
    structure = repo.structure(req.siret)
    summary = {
        "request_id": req.id,
        "siret": structure.siret,
        "name": structure.name,
        "trade_name": structure.trade_name,
        "street": structure.street,
        "street2": structure.street2,
        "city": structure.city,
        "postal_code": structure.postal_code,
        "country": structure.country,
        "last_name": last,
        "first_name": first,
        "mail": req.mail,
        "mobile": phone,
        "application": req.client_application,
        "type": req.type,
        "service": req.service,
        "status": req.status,
    }
    if not submit:
        return summary
    rt.directory.replace(
        req.dn,
        sn=last,
        givenName=first,
        mobile=phone,
        apexPendingPassword=pbkdf2_sha512(password),
        apexSubmittedAt=to_generalized_time(rt.clock()),
        apexStatus="submitted",
        apexTokenHash=None,  # single use: the secret is gone with it
    )
    rt.journal.record("account.complete", req.id, actor=None, operator=rt.operator)
    summary["status"] = "submitted"
    summary["message"] = SUBMITTED_MESSAGE
    return summary


# ---------------------------------------------------------------------- validators
def pending(
    rt: Runtime, actor: Actor, *, siret: str | None = None, statuses: list[str] | None = None
) -> list[CreationRequest]:
    """Requests this actor may validate (or, for a responsable, that concern his service)."""
    if siret:
        siret = validate_siret(siret)
    if actor.type != ActorType.AGENT:
        siret = actor.structure
    found = Repository(rt.directory, rt.layout).requests(siret=siret, status=statuses or OPEN)
    return [
        r
        for r in found
        if is_allowed(actor, Action.VALIDATE, _request_target(r))
        or is_allowed(actor, Action.INVITE, _request_target(r))
    ]


def _own_account(rt: Runtime, req: CreationRequest) -> bool:
    """Whether the account named by req.identifier is the one this request created."""
    if not req.identifier:
        return False
    entry = rt.directory.get(rt.layout.account_dn(req.identifier), ["mail", "apexStructureRef"])
    return bool(entry) and str(entry.get("mail")).lower() == req.mail.lower()  # type: ignore[union-attr]


def validate(rt: Runtime, actor: Actor, request_id: str) -> dict[str, Any]:
    """Accept: assign the identifier, create the account with the chosen password, mail it.

    Re-running after a failure half-way finishes the job with the same identifier.
    """
    repo = Repository(rt.directory, rt.layout)
    req = repo.request(request_id)
    require(actor, Action.VALIDATE, _request_target(req))
    if req.status == "accepted" and req.identifier:
        return {"request_id": req.id, "identifier": req.identifier, "status": "accepted"}
    if req.status != "submitted":
        raise Conflict(f"request {req.id} is {req.status}: only a submitted form can be accepted")
    entry = rt.directory.get(req.dn, ["apexPendingPassword"])
    pending_hash = entry.get("apexPendingPassword") if entry else None
    if isinstance(pending_hash, bytes):
        pending_hash = pending_hash.decode()
    now = rt.clock()
    if not _own_account(rt, req):
        if not pending_hash:
            raise Conflict(f"request {req.id} holds no password: the form must be completed again")
        for _ in range(3):
            stem = identifiers.base_identifier(req.first_name or "", req.last_name or "")
            identifier = identifiers.identifier(
                req.first_name or "", req.last_name or "", repo.taken_identifiers(stem)
            )
            # Reserve first: a re-run after a failure uses the same identifier.
            rt.directory.replace(req.dn, apexIdentifier=identifier)
            req.identifier = identifier
            try:
                rt.directory.add(
                    rt.layout.account_dn(identifier),
                    {
                        "objectClass": ["inetOrgPerson", "apexAccount"],
                        "uid": identifier,
                        "cn": f"{req.first_name} {req.last_name}",
                        "sn": req.last_name,
                        "givenName": req.first_name,
                        "mail": req.mail,
                        "mobile": req.mobile,
                        "userPassword": pending_hash,
                        "apexAccountType": req.type,
                        "apexStructureRef": req.structure_dn,
                        "apexServiceRef": req.service_dn,
                        "apexClientApplication": req.client_application,
                        "apexStatus": "active",
                        "apexRequestedAt": to_generalized_time(req.requested_at or now),
                        "apexValidatedAt": to_generalized_time(now),
                        "apexCreatedBy": req.created_by,
                        "apexValidatedBy": creator_label(rt, actor),
                    },
                )
                break
            except Conflict:
                continue  # taken meanwhile by another validation: next number
        else:
            raise Conflict("could not assign an identifier: too many concurrent creations")
    assert req.identifier
    queue_mail(rt, "validation", [req.mail], identifiant=req.identifier)
    rt.directory.replace(
        req.dn,
        apexStatus="accepted",
        apexDecidedAt=to_generalized_time(now),
        apexValidatedBy=creator_label(rt, actor),
        apexPendingPassword=None,
        mobile=None,
    )
    rt.journal.record(
        "account.validate",
        req.identifier,
        actor=actor.identifier,
        operator=rt.operator,
        details={"request_id": req.id},
    )
    return {"request_id": req.id, "identifier": req.identifier, "status": "accepted"}


def refuse(rt: Runtime, actor: Actor, request_id: str, reason: str) -> dict[str, Any]:
    text = " ".join((reason or "").split())
    if not text:
        raise Invalid("a refusal needs a reason (--reason)")
    if len(text) > 1000:
        raise Invalid("reason: at most 1000 characters")
    repo = Repository(rt.directory, rt.layout)
    req = repo.request(request_id)
    require(actor, Action.VALIDATE, _request_target(req))
    if req.status not in OPEN:
        raise Conflict(f"request {req.id} is {req.status}: it cannot be refused")
    queue_mail(rt, "refusal", [req.mail], motif=text)
    rt.directory.replace(
        req.dn,
        apexStatus="refused",
        apexReason=text,
        apexDecidedAt=to_generalized_time(rt.clock()),
        apexValidatedBy=creator_label(rt, actor),
        apexPendingPassword=None,
        apexTokenHash=None,
        mobile=None,
    )
    rt.journal.record("account.refuse", req.id, actor=actor.identifier, operator=rt.operator)
    return {"request_id": req.id, "status": "refused", "reason": text}
