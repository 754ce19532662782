"""Account creation (SPEC §5): invite → the invitee completes the form → validate or refuse.

The request lives in the directory (every node sees it); it holds the chosen password only
as the hash that userPassword will carry, and the link's secret only as a SHA-256. One
module per step: `creation_invite` (the invitation), `creation_form` (the invitee's form),
`creation_requests` (what a request is, who sees it); this one decides — validation and
refusal — and names the whole flow for its callers (`precreation.invite`, …).
"""

from __future__ import annotations

from datetime import datetime

from apexdir.directory.mapping import AccountDraft
from apexdir.directory.repository import Repository
from apexdir.errors import Conflict
from apexdir.models import CreationRequest, RequestDecision, RequestStatus
from apexdir.rules import identifiers
from apexdir.rules.permissions import Action, Actor, require
from apexdir.runtime import Runtime
from apexdir.workflows.creation_form import (
    NAME_LENGTH,
    SUBMITTED_MESSAGE,
    complete,
    form,
    person_name,
    save_draft,
    submit_draft,
)
from apexdir.workflows.creation_invite import LINK_PATH, invitable, invite, link_secret
from apexdir.workflows.creation_requests import (
    OPEN,
    creator_label,
    effective_status,
    may_decide,
    pending,
    request_target,
)
from apexdir.workflows.creation_requests import history as _history
from apexdir.workflows.creation_requests import pending_hash as _pending_hash
from apexdir.workflows.notify import queue_mail_or_undo

__all__ = [
    "LINK_PATH",
    "NAME_LENGTH",
    "OPEN",
    "SUBMITTED_MESSAGE",
    "complete",
    "creator_label",
    "effective_status",
    "form",
    "invitable",
    "invite",
    "link_secret",
    "may_decide",
    "pending",
    "person_name",
    "refuse",
    "request_target",
    "save_draft",
    "submit_draft",
    "validate",
]


def _own_account(rt: Runtime, req: CreationRequest) -> bool:
    """Whether the account named by req.identifier is the one this request created.

    An interrupted validation (or a concurrent one) may have created it already; another
    person's account with that identifier has another address, structure, type or date.
    """
    if not req.identifier:
        return False
    origin = Repository(rt.directory, rt.layout).origin(req.identifier)
    if origin is None:
        return False
    return (
        origin.mail.lower() == req.mail.lower()
        and origin.structure_dn.lower() == req.structure_dn.lower()
        and origin.type.lower() == req.type
        and (req.requested_at is None or origin.requested_at == req.requested_at)
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
    if not Repository(rt.directory, rt.layout).reserve_identifier(req, identifier):
        raise _Raced(code="creation.busy", params={"request": req.id})


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
        try:
            draft = AccountDraft(
                identifier, first, last, req.mail, req.type, req.structure_dn,
                validated_at=now, created_by=req.created_by,
                validated_by=creator_label(rt, actor), mobile=req.mobile,
                password_hash=password_hash, service_dn=req.service_dn,
                client_application=req.client_application, requested_at=req.requested_at or now,
            )  # fmt: skip
            repo.create_account(draft)
            return
        except Conflict:
            if _own_account(rt, req):
                return  # a concurrent validation of this very request created it
            if not repo.account_exists(identifier):
                raise  # refused for another reason than a taken identifier
            # taken meanwhile by another creation: the next number
    raise Conflict(code="creation.identifier_busy")


def _accepted(req: CreationRequest) -> RequestDecision:
    return RequestDecision(req.id, RequestStatus.ACCEPTED, identifier=req.identifier)


def validate(rt: Runtime, actor: Actor, request_id: str) -> RequestDecision:
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
                code="creation.not_acceptable",
                params={"request": req.id, "status": _STATUSES.get(req.status, req.status)},
            )
        pending_hash = _pending_hash(rt, req)
        now = rt.clock()
        try:
            if not _own_account(rt, req):
                if not pending_hash:
                    raise Conflict(code="creation.no_password", params={"request": req.id})
                _create_account(rt, actor, req, pending_hash, now)
        except _Raced:
            continue  # another validator moved the reservation: read the request again
        break
    else:
        raise Conflict(code="creation.busy", params={"request": request_id})
    assert req.identifier
    if not repo.accept_request(req, now, creator_label(rt, actor)):
        return _lost_race(rt, repo, req)
    queue_mail_or_undo(
        rt,
        lambda: repo.undo_decision(req, RequestStatus.ACCEPTED, pending_hash),
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


def _lost_race(rt: Runtime, repo: Repository, req: CreationRequest) -> RequestDecision:
    """The request left "submitted" while we created its account."""
    current = repo.request(req.id)
    if current.status == "accepted" and current.identifier:
        return _accepted(current)  # another validator finished it (and mailed)
    if _own_account(rt, req):  # refused meanwhile: no account may stay for it
        repo.delete_account(req.identifier or "")
    raise Conflict(
        code="creation.decided_meanwhile",
        params={"request": req.id, "status": _STATUSES.get(current.status, current.status)},
    )


def refuse(rt: Runtime, actor: Actor, request_id: str, reason: str) -> RequestDecision:
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
        return RequestDecision(req.id, RequestStatus.REFUSED, reason=req.reason)
    if req.status not in OPEN:
        raise _not_refusable(req.id, req.status)
    pending_hash = _pending_hash(rt, req)
    if not repo.refuse_request(req, text, rt.clock(), creator_label(rt, actor)):
        current = repo.request(req.id)
        raise _not_refusable(req.id, current.status)
    queue_mail_or_undo(
        rt,
        lambda: repo.undo_decision(req, RequestStatus.REFUSED, pending_hash),
        "refusal",
        [req.mail],
        motif=text,
    )
    rt.journal.record("account.refuse", req.id, actor=actor.identifier, operator=rt.operator,
                      details={"mail": req.mail}, **_history(req))  # fmt: skip
    # A validation interrupted after it created the account (slapd died, the spool refused
    # the mail) left an active account behind a request still "submitted": the refusal,
    # now decided (no validation can mark the request accepted any more), removes it.
    if _own_account(rt, req):
        _remove_refused_account(rt, req)
    return RequestDecision(req.id, RequestStatus.REFUSED, reason=text)


# A request's status as the refusal names it (« la demande … est acceptée »).
_STATUSES = {
    "accepted": "acceptée",
    "refused": "refusée",
    "expired": "expirée",
    "invited": "en attente du formulaire",
    "submitted": "en attente de validation",
}


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
    Repository(rt.directory, rt.layout).delete_account(req.identifier)
    rt.journal.record(
        "account.delete",
        req.identifier,
        actor=None,
        operator=rt.operator,
        details={"request_id": req.id, "why": "refused request"},
        **_history(req),
    )
