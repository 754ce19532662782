"""One pending creation request, as a validator's page or command reaches it by its id:
read it for a decision, or send an expired invitation again (SPEC §5).

Every path checks the actor's right on the request's **own** structure and service through
the permission table: a request id typed in an address is not a right (issue 18, item 8).
"""

from __future__ import annotations

from apexdir.directory.repository import Repository
from apexdir.errors import Conflict
from apexdir.models import CreationRequest, RequestStatus
from apexdir.rules.permissions import Action, Actor, require
from apexdir.runtime import Runtime
from apexdir.workflows.precreation import effective_status, invite, request_target


def for_decision(rt: Runtime, actor: Actor, request_id: str) -> CreationRequest:
    """The request `actor` may accept or refuse; `NotAllowed` for anyone else, before
    anything of it (its address, its structure) is shown."""
    req = Repository(rt.directory, rt.layout).request(request_id)
    require(actor, Action.VALIDATE, request_target(req))
    return req


def resend(rt: Runtime, actor: Actor, request_id: str) -> CreationRequest:
    """Invite again, with the same data, the person of an **expired** invitation.

    The new invitation goes into the request's own structure and service, as whoever may
    invite that account there; a request still open (or already decided) is not sent again:
    its link works, and a second click must not mail the invitee twice.
    """
    req = Repository(rt.directory, rt.layout).request(request_id)
    require(actor, Action.INVITE, request_target(req))
    if effective_status(req, rt.clock()) != RequestStatus.EXPIRED:
        raise Conflict(code="creation.resend_not_expired", params={"request": req.id})
    return invite(
        rt,
        actor,
        siret=req.siret,
        account_type=req.type,
        mail=req.mail,
        service=req.service,
        application=req.client_application,
    )
