"""Account creation (SPEC §5): invite → the invitee completes the form → validate or refuse.

The request lives in the directory (every node sees it); it holds the chosen password only
as the hash that userPassword will carry, and the link's secret only as a SHA-256.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Any

from apexdir.clock import from_generalized_time, to_generalized_time
from apexdir.directory import filters as f
from apexdir.directory.hashing import password_hash
from apexdir.directory.mapping import AccountDraft, account_attrs
from apexdir.directory.repository import Repository
from apexdir.errors import ApexError, Conflict, Invalid, NotAllowed, NotFound, Unavailable
from apexdir.models import CreationRequest, RequestStatus
from apexdir.rules import identifiers
from apexdir.rules.contact import normalize_mobile, validate_mail
from apexdir.rules.passwords import enforce_password
from apexdir.rules.permissions import (
    RULES,
    AccountType,
    Action,
    Actor,
    ActorType,
    Target,
    is_allowed,
    require,
)
from apexdir.rules.siret import validate_siret
from apexdir.rules.text import display_name
from apexdir.runtime import Runtime
from apexdir.workflows import tokens
from apexdir.workflows.catalogue import normalize_code
from apexdir.workflows.notify import link, queue_mail_or_undo, token_from
from apexdir.workflows.validators import notify_submitted

OPEN = ["invited", "submitted"]
SUBMITTED_MESSAGE = "Le formulaire de pré-création a été transmis pour validation."
LINK_PATH = "creation"
NAME_LENGTH = 64  # sn and givenName as the form and the personal data page allow them


def creator_label(rt: Runtime, actor: Actor) -> str:
    return actor.identifier or f"agent:{rt.operator}"


def _account_type(value: str) -> AccountType:
    try:
        return AccountType(value.strip().lower())
    except ValueError:
        raise Invalid(code="creation.type", params={"value": value}, field="type") from None


def request_target(req: CreationRequest) -> Target:
    """What a request is, for the permission table: the account it would create, in the
    request's own structure and service (never the actor's)."""
    return Target(
        account_type=AccountType(req.type),
        structure=req.siret,
        service=req.service_id,
        identifier=None,
    )


def _reach(actor: Actor, kind: AccountType, siret: str) -> Target:
    """A target as close to the actor as the type allows: checks type and structure only."""
    return Target(account_type=kind, structure=siret, service=actor.service, identifier=None)


def _link_expired(req: CreationRequest, now: datetime) -> bool:
    return req.status == "invited" and req.expires_at is not None and req.expires_at <= now


def effective_status(req: CreationRequest, now: datetime) -> RequestStatus:
    """The status as a person sees it: an invitation past its date that the daemon has not
    closed yet is already "expired"."""
    return RequestStatus.EXPIRED if _link_expired(req, now) else req.status


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
    # Who may invite this type into this structure is known before any lookup: an actor
    # out of reach learns nothing about the structure's services (4, not 3).
    require(actor, Action.INVITE, _reach(actor, kind, siret))
    repo = Repository(rt.directory, rt.layout)
    if repo.structure(siret).closed:
        raise Conflict(f"la structure {siret} est fermée : aucun compte ne peut y être créé")
    service_entry = None
    if kind == AccountType.ADMINISTRATEUR:
        if service:
            raise Invalid(code="creation.admin_no_service", field="service")
    else:
        if not service:
            raise Invalid(
                code="creation.service_required", params={"kind": kind.value}, field="service"
            )
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
    now = rt.clock()
    existing = [
        r
        for r in repo.requests(
            siret=siret, status=OPEN, extra_filter=f.eq("mail", mail), with_services=False
        )
        if not _link_expired(r, now)  # an invitation nobody answered in time blocks nothing
    ]
    if existing:
        raise Conflict(
            code="creation.duplicate",
            params={"mail": mail, "siret": siret, "request": existing[0].id},
            field="mail",
        )
    request_id = secrets.token_hex(6)
    secret = link_secret(rt, request_id)
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
    url = link(rt, LINK_PATH, f"{request_id}.{secret}")
    rt.directory.add(rt.layout.request_dn(request_id), attrs)
    # Nobody would ever receive this link: without the mail, no request (running the
    # command again is then not refused as a duplicate).
    queue_mail_or_undo(
        rt,
        lambda: rt.directory.delete(rt.layout.request_dn(request_id)),
        "precreation",
        [mail],
        lien=url,
    )
    rt.journal.record(
        "account.invite",
        request_id,
        actor=actor.identifier,
        operator=rt.operator,
        details={"type": kind.value, "structure": siret, "mail": mail},
        structure=siret,
        service=service_entry.id if service_entry else None,
    )
    return {
        "request_id": request_id,
        "mail": mail,
        "type": kind.value,
        "structure": siret,
        "service": service_entry.name if service_entry else None,
        "expires_at": expires.isoformat(),
    }


def link_secret(rt: Runtime, request_id: str) -> str:
    """The secret of a request's link: derived from its id under the secrets key, so that
    the reminder can send the very link of the first mail again instead of voiding it
    (issue 19 item 11). Only its SHA-256 is stored; without the key, it is as opaque as a
    random one (HMAC-SHA256, 256 bits)."""
    return tokens.derived(rt.settings.ldap.secrets_key(), f"creation-link:{request_id}")


# ---------------------------------------------------------------------- the form
def _refused_link() -> Invalid:
    return Invalid(code="creation.link_refused")


def _open_request(rt: Runtime, token_or_link: str) -> CreationRequest:
    """The request a link points at, if the link is genuine, unused and not expired."""
    request_id, secret = tokens.split(token_from(token_or_link))
    refused = _refused_link()
    if not request_id:
        raise refused
    try:
        req = Repository(rt.directory, rt.layout).request(request_id)
    except (NotFound, Invalid):
        raise refused from None
    if req.status != "invited" or not tokens.matches(secret, req.token_hash):
        raise refused
    if req.expires_at and req.expires_at <= rt.clock():
        raise Invalid(code="creation.link_expired")
    return req


def _name(label: str, value: str) -> str:
    """A nom or prénom as the form and bulk imports take it (rules.text.display_name)."""
    field = "last_name" if label == "Nom" else "first_name"
    return display_name(label, value, max_length=NAME_LENGTH, field=field)


def _summary(rt: Runtime, req: CreationRequest) -> dict[str, Any]:
    structure = Repository(rt.directory, rt.layout).structure(req.siret)
    return {
        "request_id": req.id,
        "siret": structure.siret,
        "name": structure.name,
        "trade_name": structure.trade_name,
        "street": structure.street,
        "street2": structure.street2,
        "city": structure.city,
        "postal_code": structure.postal_code,
        "country": structure.country,
        "last_name": req.last_name,
        "first_name": req.first_name,
        "mail": req.mail,
        "mobile": req.mobile,
        "application": req.client_application,
        "type": req.type,
        "service": req.service,
        "status": req.status,
    }


def form(rt: Runtime, token_or_link: str) -> dict[str, Any]:
    """What the form shows before anything is typed: the structure, the invitation and a
    draft saved earlier (never its password). Refuses a bad, spent or expired link."""
    req = _open_request(rt, token_or_link)
    summary = _summary(rt, req)
    summary["draft"] = bool(req.last_name and _pending_hash(rt, req))
    return summary


def _checked(
    rt: Runtime,
    token_or_link: str,
    *,
    last_name: str,
    first_name: str,
    mobile: str | None,
    password: str,
    confirmation: str,
) -> tuple[CreationRequest, dict[str, Any]]:
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
    summary = _summary(rt, req)
    summary.update(last_name=last, first_name=first, mobile=phone)
    return req, summary


def _form_changes(summary: dict[str, Any], password: str) -> dict[str, list[tuple[str, list[Any]]]]:
    phone = summary["mobile"]
    return {
        "sn": [("replace", [summary["last_name"]])],
        "givenName": [("replace", [summary["first_name"]])],
        "mobile": [("replace", [phone] if phone else [])],
        "apexPendingPassword": [("replace", [password_hash(password)])],
    }


def _modify_request(
    rt: Runtime, req: CreationRequest, changes: dict[str, list[tuple[str, list[Any]]]]
) -> None:
    """A write conditional on the link (its hash deleted, or deleted and put back): a lost
    condition means the link was spent or replaced meanwhile, told as a bad link."""
    try:
        rt.directory.modify(req.dn, changes)
    except (Unavailable, Invalid):
        raise
    except ApexError:
        raise _refused_link() from None


def _submit(
    rt: Runtime, req: CreationRequest, changes: dict[str, list[tuple[str, list[Any]]]]
) -> None:
    """One atomic modify, conditional on the request still being "invited" with this very
    link: two submissions of the same link, or a submission racing with the daemon that
    expires the link or swaps it for a reminder, cannot both succeed."""
    assert req.token_hash
    changes = {
        **changes,
        "apexStatus": [("delete", ["invited"]), ("add", ["submitted"])],
        "apexTokenHash": [("delete", [req.token_hash])],  # single use: the secret goes
        "apexSubmittedAt": [("replace", [to_generalized_time(rt.clock())])],
    }
    _modify_request(rt, req, changes)
    rt.journal.record("account.complete", req.id, actor=None, operator=rt.operator,
                      details={"mail": req.mail}, **_history(req))  # fmt: skip


def _history(req: CreationRequest) -> dict[str, str | None]:
    """Whose history an event of a creation request belongs to (`Journal.record`)."""
    return {"structure": req.siret or None, "service": req.service_id}


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
    req, summary = _checked(
        rt,
        token_or_link,
        last_name=last_name,
        first_name=first_name,
        mobile=mobile,
        password=password,
        confirmation=confirmation,
    )
    if not submit:
        return summary
    _submit(rt, req, _form_changes(summary, password))
    notify_submitted(rt, req, summary["last_name"], summary["first_name"])
    summary["status"] = "submitted"
    summary["message"] = SUBMITTED_MESSAGE
    return summary


def save_draft(
    rt: Runtime,
    token_or_link: str,
    *,
    last_name: str,
    first_name: str,
    mobile: str | None,
    password: str,
    confirmation: str,
) -> dict[str, Any]:
    """The portal's step 1: check the form and keep it on the request (the password only as
    the hash userPassword will carry), still "invited", so that the récapitulatif's button
    submits it without the password travelling again or resting in a cookie."""
    req, summary = _checked(
        rt,
        token_or_link,
        last_name=last_name,
        first_name=first_name,
        mobile=mobile,
        password=password,
        confirmation=confirmation,
    )
    assert req.token_hash
    changes = _form_changes(summary, password)
    # Conditional on the link being unspent: a draft never lands on a submitted request.
    changes["apexTokenHash"] = [("delete", [req.token_hash]), ("add", [req.token_hash])]
    _modify_request(rt, req, changes)
    summary["draft"] = True
    return summary


def submit_draft(rt: Runtime, token_or_link: str) -> dict[str, Any]:
    """The portal's step 2 (« Envoyer votre création de compte »): submit the saved draft."""
    req = _open_request(rt, token_or_link)
    if not (req.last_name and req.first_name and _pending_hash(rt, req)):
        raise Invalid(code="creation.form_incomplete")
    _submit(rt, req, {})
    notify_submitted(rt, req, req.last_name or "", req.first_name or "")
    summary = _summary(rt, req)
    summary["status"] = "submitted"
    summary["message"] = SUBMITTED_MESSAGE
    return summary


# ---------------------------------------------------------------------- validators
def pending(
    rt: Runtime, actor: Actor, *, siret: str | None = None, statuses: list[str] | None = None
) -> list[CreationRequest]:
    """Requests this actor may validate (or, for a responsable, that concern his service).

    The status shown is the effective one: an invitation past its date is "expired" even
    before the daemon closes it.
    """
    if siret is not None:
        siret = validate_siret(siret)
    if actor.type != ActorType.AGENT:
        if not any(actor.type in RULES[a] for a in (Action.VALIDATE, Action.INVITE)):
            raise NotAllowed(
                "Action non autorisée: un collaborateur ne consulte pas les créations en attente"
            )
        if siret and siret != actor.structure:
            raise NotAllowed(
                "Action non autorisée: consulter les créations en attente d'une autre structure"
            )
        siret = actor.structure
    wanted = statuses or OPEN
    query = sorted(set(wanted) | ({"invited"} if "expired" in wanted else set()))
    now = rt.clock()
    found = Repository(rt.directory, rt.layout).requests(siret=siret, status=query)
    out = []
    for req in found:
        req.status = effective_status(req, now)
        if req.status not in wanted:
            continue
        target = request_target(req)
        if is_allowed(actor, Action.VALIDATE, target) or is_allowed(actor, Action.INVITE, target):
            out.append(req)
    return out


def _own_account(rt: Runtime, req: CreationRequest) -> bool:
    """Whether the account named by req.identifier is the one this request created.

    An interrupted validation (or a concurrent one) may have created it already; another
    person's account with that identifier has another address, structure, type or date.
    """
    if not req.identifier:
        return False
    entry = rt.directory.get(
        rt.layout.account_dn(req.identifier),
        ["mail", "apexStructureRef", "apexAccountType", "apexRequestedAt"],
    )
    if entry is None:
        return False
    requested = entry.get("apexRequestedAt")
    return (
        str(entry.get("mail", "")).lower() == req.mail.lower()
        and str(entry.get("apexStructureRef", "")).lower() == req.structure_dn.lower()
        and str(entry.get("apexAccountType", "")).lower() == req.type
        and (
            req.requested_at is None
            or (requested is not None and from_generalized_time(requested) == req.requested_at)
        )
    )


class _Raced(Conflict):
    """Another validator changed the request between our read and our write."""


def _reserve(rt: Runtime, req: CreationRequest, identifier: str) -> None:
    """Write the identifier on the request before the account exists: a re-run reuses it.

    A compare-and-set (add when absent, delete the old value and add the new one otherwise):
    slapd refuses it when another validator changed the reservation meanwhile.
    """
    if req.identifier == identifier:
        return
    ops: list[tuple[str, list[Any]]] = [("add", [identifier])]
    if req.identifier:
        ops.insert(0, ("delete", [req.identifier]))
    try:
        rt.directory.modify(req.dn, {"apexIdentifier": ops})
    except Unavailable:
        raise
    except ApexError:
        raise _Raced(f"request {req.id} is being validated by someone else") from None
    req.identifier = identifier


def _create_account(
    rt: Runtime, actor: Actor, req: CreationRequest, password_hash: str, now: datetime
) -> None:
    repo = Repository(rt.directory, rt.layout)
    first, last = req.first_name or "", req.last_name or ""
    stem = identifiers.base_identifier(first, last)
    for _ in range(5):
        taken = repo.taken_identifiers(stem)
        if req.identifier and req.identifier.lower() not in taken:
            identifier = req.identifier  # reserved by an interrupted run: the same one
        else:
            identifier = identifiers.identifier(first, last, taken)
        _reserve(rt, req, identifier)
        dn = rt.layout.account_dn(identifier)
        try:
            draft = AccountDraft(
                identifier, first, last, req.mail, req.type, req.structure_dn,
                validated_at=now, created_by=req.created_by,
                validated_by=creator_label(rt, actor), mobile=req.mobile,
                password_hash=password_hash, service_dn=req.service_dn,
                client_application=req.client_application, requested_at=req.requested_at or now,
            )  # fmt: skip
            rt.directory.add(dn, account_attrs(draft))
            return
        except Conflict:
            if _own_account(rt, req):
                return  # a concurrent validation of this very request created it
            if not rt.directory.exists(dn):
                raise  # refused for another reason than a taken identifier
            # taken meanwhile by another creation: the next number
    raise Conflict("could not assign an identifier: too many concurrent creations, run again")


def _pending_hash(rt: Runtime, req: CreationRequest) -> str | None:
    entry = rt.directory.get(req.dn, ["apexPendingPassword"])
    value = entry.get("apexPendingPassword") if entry else None
    if isinstance(value, bytes):
        value = value.decode()
    return str(value) if value else None


def _accepted(req: CreationRequest) -> dict[str, Any]:
    return {"request_id": req.id, "identifier": req.identifier, "status": "accepted"}


def validate(rt: Runtime, actor: Actor, request_id: str) -> dict[str, Any]:
    """Accept: assign the identifier, create the account with the chosen password, mail it.

    Writes, in order: the identifier reserved on the request, the account, the request
    accepted (a compare-and-set from "submitted"), then the mail — if the spool cannot take
    it, the request goes back to "submitted". Re-running after a failure anywhere finishes
    the job with the same identifier and one account. Two validators racing end with one
    account; a refusal that wins the race leaves no account behind.
    """
    repo = Repository(rt.directory, rt.layout)
    for _ in range(3):
        req = repo.request(request_id)
        require(actor, Action.VALIDATE, request_target(req))
        if req.status == "accepted" and req.identifier:
            return _accepted(req)
        if req.status != "submitted":
            raise Conflict(
                f"request {req.id} is {req.status}: only a submitted form can be accepted"
            )
        pending_hash = _pending_hash(rt, req)
        now = rt.clock()
        try:
            if not _own_account(rt, req):
                if not pending_hash:
                    raise Conflict(
                        f"request {req.id} holds no password: the form must be completed again"
                    )
                _create_account(rt, actor, req, pending_hash, now)
        except _Raced:
            continue  # another validator moved the reservation: read the request again
        break
    else:
        raise Conflict(f"request {request_id} is being validated by someone else: run again")
    assert req.identifier
    accept: dict[str, list[tuple[str, list[Any]]]] = {
        "apexStatus": [("delete", ["submitted"]), ("add", ["accepted"])],
        "apexDecidedAt": [("replace", [to_generalized_time(now)])],
        "apexValidatedBy": [("replace", [creator_label(rt, actor)])],
        "apexPendingPassword": [("replace", [])],
        "mobile": [("replace", [])],
    }
    try:
        rt.directory.modify(req.dn, accept)
    except Unavailable:
        raise
    except ApexError:
        return _lost_race(rt, repo, req)
    back: dict[str, list[tuple[str, list[Any]]]] = {
        "apexStatus": [("delete", ["accepted"]), ("add", ["submitted"])],
        "apexDecidedAt": [("replace", [])],
        "apexValidatedBy": [("replace", [])],
        "apexPendingPassword": [("replace", [pending_hash] if pending_hash else [])],
        "mobile": [("replace", [req.mobile] if req.mobile else [])],
    }
    queue_mail_or_undo(
        rt,
        lambda: rt.directory.modify(req.dn, back),
        "validation",
        [req.mail],
        identifiant=req.identifier,
    )
    rt.journal.record(
        "account.validate",
        req.identifier,
        actor=actor.identifier,
        operator=rt.operator,
        details={"request_id": req.id, "mail": req.mail},
        **_history(req),
    )
    return _accepted(req)


def _lost_race(rt: Runtime, repo: Repository, req: CreationRequest) -> dict[str, Any]:
    """The request left "submitted" while we created its account."""
    current = repo.request(req.id)
    if current.status == "accepted" and current.identifier:
        return _accepted(current)  # another validator finished it (and mailed)
    if _own_account(rt, req):  # refused meanwhile: no account may stay for it
        rt.directory.delete(rt.layout.account_dn(req.identifier or ""))
    raise Conflict(f"request {req.id} was {current.status} meanwhile: no account created")


def refuse(rt: Runtime, actor: Actor, request_id: str, reason: str) -> dict[str, Any]:
    """Refuse with a reason, mailed to the invitee; the link and the password go.

    One compare-and-set write from the status read (a validation racing with it cannot
    both win); if the spool cannot take the mail, the request is put back as it was.
    """
    from apexdir.rules.refusal import validate_reason

    # Checked before anything is read or written: the reason is quoted in a DGFiP-signed mail.
    text = validate_reason(reason)
    repo = Repository(rt.directory, rt.layout)
    req = repo.request(request_id)
    require(actor, Action.VALIDATE, request_target(req))
    if req.status == "refused" and _own_account(rt, req):
        # A refusal interrupted after its decision: only the account is left to remove.
        _remove_refused_account(rt, req)
        return {"request_id": req.id, "status": "refused", "reason": req.reason}
    if req.status not in OPEN:
        raise _not_refusable(req.id, req.status)
    pending_hash = _pending_hash(rt, req)
    changes: dict[str, list[tuple[str, list[Any]]]] = {
        "apexStatus": [("delete", [req.status]), ("add", ["refused"])],
        "apexReason": [("replace", [text])],
        "apexDecidedAt": [("replace", [to_generalized_time(rt.clock())])],
        "apexValidatedBy": [("replace", [creator_label(rt, actor)])],
        "apexPendingPassword": [("replace", [])],
        "apexTokenHash": [("replace", [])],
        "mobile": [("replace", [])],
    }
    try:
        rt.directory.modify(req.dn, changes)
    except Unavailable:
        raise
    except ApexError:
        current = repo.request(req.id)
        raise _not_refusable(req.id, current.status) from None
    back: dict[str, list[tuple[str, list[Any]]]] = {
        "apexStatus": [("delete", ["refused"]), ("add", [req.status])],
        "apexReason": [("replace", [])],
        "apexDecidedAt": [("replace", [])],
        "apexValidatedBy": [("replace", [])],
        "apexPendingPassword": [("replace", [pending_hash] if pending_hash else [])],
        "apexTokenHash": [("replace", [req.token_hash] if req.token_hash else [])],
        "mobile": [("replace", [req.mobile] if req.mobile else [])],
    }
    queue_mail_or_undo(
        rt, lambda: rt.directory.modify(req.dn, back), "refusal", [req.mail], motif=text
    )
    rt.journal.record("account.refuse", req.id, actor=actor.identifier, operator=rt.operator,
                      details={"mail": req.mail}, **_history(req))  # fmt: skip
    # A validation interrupted after it created the account (slapd died, the spool refused
    # the mail) left an active account behind a request still "submitted": the refusal,
    # now decided (no validation can mark the request accepted any more), removes it.
    if _own_account(rt, req):
        _remove_refused_account(rt, req)
    return {"request_id": req.id, "status": "refused", "reason": text}


# A request's status as the refusal names it (« la demande … est acceptée »).
_STATUSES = {"accepted": "acceptée", "refused": "refusée", "expired": "expirée"}


def _not_refusable(request_id: str, status: str) -> Conflict:
    return Conflict(
        code="creation.not_refusable",
        params={"request": request_id, "status": _STATUSES.get(status, status)},
    )


def _remove_refused_account(rt: Runtime, req: CreationRequest) -> None:
    """Delete the account an interrupted validation created for a request now refused.

    Running `refuse` again after an interruption here finishes it (see `refuse`).
    """
    assert req.identifier
    rt.directory.delete(rt.layout.account_dn(req.identifier))
    rt.journal.record(
        "account.delete",
        req.identifier,
        actor=None,
        operator=rt.operator,
        details={"request_id": req.id, "why": "refused request"},
        **_history(req),
    )
