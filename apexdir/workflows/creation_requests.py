"""A creation request (SPEC §5) as the other steps see it: what account it would create, for
the permission table; its status as a person sees it; whose history it belongs to; and the
requests an actor may see (`pending`). Invitation: `creation_invite`; the invitee's form:
`creation_form`; validation and refusal: `precreation`."""

from __future__ import annotations

from datetime import datetime

from apexdir.directory.repository import Repository
from apexdir.errors import Invalid, NotAllowed
from apexdir.models import CreationRequest, RequestStatus
from apexdir.rules.permissions import (
    RULES,
    AccountType,
    Action,
    Actor,
    ActorType,
    Target,
    is_allowed,
)
from apexdir.rules.siret import validate_siret
from apexdir.runtime import Runtime
from apexdir.workflows.actors import History

OPEN = [RequestStatus.INVITED, RequestStatus.SUBMITTED]


def creator_label(rt: Runtime, actor: Actor) -> str:
    return actor.identifier or f"agent:{rt.operator}"


def account_type(value: str) -> AccountType:
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


def reach(actor: Actor, kind: AccountType, siret: str) -> Target:
    """A target as close to the actor as the type allows: checks type and structure only."""
    return Target(account_type=kind, structure=siret, service=actor.service, identifier=None)


def link_expired(req: CreationRequest, now: datetime) -> bool:
    return (
        req.status == RequestStatus.INVITED and req.expires_at is not None and req.expires_at <= now
    )


def effective_status(req: CreationRequest, now: datetime) -> RequestStatus:
    """The status as a person sees it: an invitation past its date that the daemon has not
    closed yet is already "expired"."""
    return RequestStatus.EXPIRED if link_expired(req, now) else req.status


def history(req: CreationRequest) -> History:
    """Whose history an event of a creation request belongs to (`Journal.record`)."""
    return {"structure": req.siret or None, "service": req.service_id}


def pending_hash(rt: Runtime, req: CreationRequest) -> str | None:
    return Repository(rt.directory, rt.layout).pending_password(req)


def may_decide(actor: Actor, req: CreationRequest) -> bool:
    """Whether `actor` may accept or refuse this request (its own structure and service)."""
    return is_allowed(actor, Action.VALIDATE, request_target(req))


# ---------------------------------------------------------------------- validators
def pending(
    rt: Runtime,
    actor: Actor,
    *,
    siret: str | None = None,
    statuses: list[RequestStatus] | None = None,
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
    expired = RequestStatus.EXPIRED in wanted
    query = sorted(set(wanted) | ({RequestStatus.INVITED} if expired else set()))
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
