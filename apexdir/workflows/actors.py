"""Who acts: a DGFiP agent (the operator, without --as) or a partner account (--as)."""

from __future__ import annotations

from typing import TypedDict

from apexdir.directory.repository import Repository
from apexdir.errors import NotAllowed, NotFound
from apexdir.models import Account
from apexdir.rules.lifecycle import status_label
from apexdir.rules.permissions import Actor, ActorType, Target
from apexdir.runtime import Runtime

AGENT = Actor(type=ActorType.AGENT, identifier=None, structure=None, service=None)


def actor_for(account: Account) -> Actor:
    return Actor(
        type=ActorType(account.type),
        identifier=account.identifier,
        structure=account.siret,
        service=account.service_id,
    )


def resolve_actor(rt: Runtime, identifier: str | None) -> Actor:
    """The actor of a command; an account acted as must exist and be active.

    Only None means the agent: an empty identifier names no account, it must not fall back
    to the widest rights.
    """
    if identifier is None:
        return AGENT
    try:
        account = Repository(rt.directory, rt.layout).account(identifier)
    except NotFound:
        raise NotAllowed(code="actor.unknown", params={"identifier": identifier}) from None
    if account.status != "active":
        raise NotAllowed(
            code="actor.inactive",
            params={"identifier": identifier, "status": status_label(account.status).lower()},
        )
    return actor_for(account)


def target_for(account: Account) -> Target:
    from apexdir.rules.permissions import AccountType

    return Target(
        account_type=AccountType(account.type),
        structure=account.siret,
        service=account.service_id,
        identifier=account.identifier,
    )


class History(TypedDict):
    """The `structure` and `service` keywords of `Journal.record`."""

    structure: str | None
    service: str | None


def history_of(account: Account) -> History:
    """Whose history an action on `account` belongs to: keywords of `Journal.record`."""
    return {"structure": account.siret or None, "service": account.service_id}
