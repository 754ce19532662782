"""The life of an account (SPEC §10): the last administrateur's guard, the type change.

Deletion stays in `accounts`, suspension in `suspension`; both call the guard here.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import EllipsisType

from apexdir.directory.mapping import GUARD_ATTRS
from apexdir.directory.repository import Repository
from apexdir.errors import Conflict
from apexdir.models import Account
from apexdir.rules.lifecycle import ACTIVE, last_administrator_refusal, plan_retype
from apexdir.rules.permissions import AccountType, Action, Actor, Target, require
from apexdir.rules.structure_life import CLOSED
from apexdir.runtime import Runtime
from apexdir.workflows.actors import history_of, target_for


def last_administrator_reason(rt: Runtime, account: Account) -> str | None:
    """Why `account` may not be deleted, suspended or retyped, being the last active
    administrateur of its structure; None when it may (the portal shows the reason)."""
    if account.type != AccountType.ADMINISTRATEUR or account.status != ACTIVE:
        return None  # no directory read for the common case
    others = [
        a
        for a in Repository(rt.directory, rt.layout).accounts(
            siret=account.siret, account_type="administrateur", attributes=GUARD_ATTRS
        )
        # Status read here, not in the filter: an entry without apexStatus is active.
        if a.status == ACTIVE and a.identifier.lower() != account.identifier.lower()
    ]
    return last_administrator_refusal(
        account.identifier,
        account.siret,
        account_type=account.type,
        status=account.status,
        other_active_administrators=len(others),
        # A closed structure needs no active administrateur (nobody logs in there).
        structure_open=Repository(rt.directory, rt.layout).structure(account.siret).status
        != CLOSED,
    )


def require_not_last_administrator(rt: Runtime, account: Account) -> None:
    """`Conflict` (exit 1) with the reason when `account` is the last active administrateur."""
    reason = last_administrator_reason(rt, account)
    if reason is not None:
        raise Conflict(reason)


@dataclass(frozen=True)
class Retyped:
    """What `retype` did: the account as it is now, the type it had, and the délégations it
    lost (a responsable who stops being one)."""

    account: Account
    previous_type: AccountType
    delegations_dropped: list[str]


def retype(
    rt: Runtime, actor: Actor, identifier: str, new_type: str, *, service: str | None = None
) -> Retyped:
    """Give the account another type (SPEC §10), under the permission table: the actor must
    be allowed to manage the account both as it is and as it becomes (an administrateur
    turns a collaborateur into a responsable, never into an administrateur).

    A responsable who stops being one loses his délégations (listed in the answer; the
    habilitations his collaborateurs received with them stay, as when a délégation is
    withdrawn). An administrateur becoming responsable or collaborateur needs a service;
    an account becoming administrateur leaves its service. Habilitations stay. The DN and
    the identifier never change: applications see the new `apexAccountType` only.
    """
    repo = Repository(rt.directory, rt.layout)
    account = repo.account(identifier)
    require(actor, Action.ACCOUNT_RETYPE, target_for(account))
    if actor.identifier and actor.identifier.lower() == account.identifier.lower():
        raise Conflict("un compte ne peut pas changer son propre type")
    plan = plan_retype(
        account.type, new_type, service_given=service is not None, identifier=account.identifier
    )
    target_service = repo.service_by_name(account.siret, service) if service is not None else None
    after = Target(
        account_type=plan.new_type,
        structure=account.siret,
        service=None
        if plan.drops_service
        else (target_service.id if target_service else account.service_id),
        identifier=account.identifier,
    )
    require(actor, Action.ACCOUNT_RETYPE, after)
    require_not_last_administrator(rt, account)
    service_dn: str | EllipsisType | None = ...  # the same service
    if plan.drops_service:
        service_dn = None
    elif target_service is not None:
        service_dn = target_service.dn
    dropped = account.delegations if plan.drops_delegations else []
    repo.retype_account(
        account, plan.new_type.value, service_dn=service_dn, drop_delegations=bool(dropped)
    )
    rt.journal.record(
        "account.retype",
        account.identifier,
        actor=actor.identifier,
        operator=rt.operator,
        details={
            "from": account.type,
            "to": plan.new_type.value,
            "service": None if plan.drops_service else (service or account.service),
            "delegations_dropped": dropped,
        },
        **history_of(account),  # the service it had: its responsables read the change
    )
    return Retyped(repo.account(account.identifier), account.type, dropped)
