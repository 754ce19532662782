"""Habilitations (profiles granted) and délégations (profiles a responsable may grant), SPEC §6."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from apexdir.directory.repository import Repository
from apexdir.errors import Conflict, Invalid
from apexdir.models import Account, habilitation
from apexdir.rules.permissions import (
    Action,
    Actor,
    ActorType,
    can_grant_profile,
    require,
    require_profile,
)
from apexdir.runtime import Runtime
from apexdir.workflows.actors import history_of, target_for
from apexdir.workflows.catalogue import parse_habilitation
from apexdir.workflows.notify import queue_mail_or_undo


@dataclass(frozen=True)
class RightChange:
    """What `grant`, `revoke`, `delegate` or `undelegate` did: on whom, which profile
    (`APP/profile`), and, for a withdrawn delegation, the collaborateurs who keep the
    habilitation granted with it (SPEC §6)."""

    identifier: str
    profile: str
    change: str  # "granted", "revoked", "delegated" or "withdrawn"
    habilitations_kept: list[str] = field(default_factory=list)


def _own_profiles(actor: Actor, own: Account | None) -> set[str]:
    """What an actor hands out (SPEC §6, Decision): an administrator the profiles he holds,
    a responsable those delegated to him."""
    if own is None:
        return set()
    if actor.type == ActorType.RESPONSABLE:
        return set(own.delegations)
    return set(own.habilitations)


def _actor_profiles(repo: Repository, actor: Actor) -> set[str]:
    if actor.type == ActorType.AGENT or not actor.identifier:
        return set()
    return _own_profiles(actor, repo.account(actor.identifier))


def handable(rt: Runtime, actor: Actor, own: Account | None = None) -> list[str]:
    """The profiles (`APP/profile`) an actor may grant or delegate, sorted: an agent every
    profile of the catalogue, an administrator those he holds, a responsable those delegated
    to him, a collaborateur none. `own` is the actor's account when the caller has it
    already (the portal's session); `grant` and `delegate` check again."""
    repo = Repository(rt.directory, rt.layout)
    if actor.type == ActorType.AGENT:
        mine = {habilitation(a.code, p) for a in repo.applications() for p in a.profiles}
    elif own is not None:
        mine = _own_profiles(actor, own)
    else:
        mine = _actor_profiles(repo, actor)
    return sorted(k for k in mine if can_grant_profile(actor.type, mine, k))


def _check_can_hand(repo: Repository, actor: Actor, key: str) -> None:
    require_profile(actor.type, _actor_profiles(repo, actor), key)


def _check_can_take(repo: Repository, actor: Actor, key: str) -> None:
    """Taking a profile away is never an escalation: an administrator revokes any profile
    from the accounts in his reach (he must be able to empty an account before its deletion,
    even of a profile he no longer holds); a responsable only the profiles delegated to him,
    as for granting (the others are his administrator's)."""
    if actor.type == ActorType.RESPONSABLE:
        _check_can_hand(repo, actor, key)


def _setup(
    rt: Runtime, actor: Actor, identifier: str, app: str, profile: str, action: Action
) -> tuple[Repository, Account, str, str]:
    app, profile = parse_habilitation(app, profile)
    repo = Repository(rt.directory, rt.layout)
    account = repo.account(identifier)
    require(actor, action, target_for(account))
    profile_dn = repo.profile(app, profile).dn
    return repo, account, habilitation(app, profile), profile_dn


def grant(rt: Runtime, actor: Actor, identifier: str, app: str, profile: str) -> RightChange:
    repo, account, key, profile_dn = _setup(rt, actor, identifier, app, profile, Action.GRANT)
    _check_can_hand(repo, actor, key)
    if key in account.habilitations:
        raise Conflict(f"{identifier} détient déjà le profil {key}")
    application = repo.application(key.split("/")[0])
    rt.directory.modify(profile_dn, {"member": [("add", [account.dn])]})
    queue_mail_or_undo(
        rt,
        lambda: rt.directory.modify(profile_dn, {"member": [("delete", [account.dn])]}),
        "attribution",
        [account.mail],
        application=application.name,
    )
    rt.journal.record("grant", identifier, actor=actor.identifier, operator=rt.operator,
                      details={"profile": key}, **history_of(account))  # fmt: skip
    return RightChange(identifier, key, "granted")


def revoke(
    rt: Runtime, actor: Actor, identifier: str, app: str, profile: str, *,
    action: str = "revoke", details: dict[str, Any] | None = None,
) -> RightChange:  # fmt: skip
    """Withdraw a habilitation; its holder is mailed. `action` and `details`: how the
    journal names it (the access review's withdrawals, workflows/review.py)."""
    repo, account, key, profile_dn = _setup(rt, actor, identifier, app, profile, Action.GRANT)
    _check_can_take(repo, actor, key)
    if key not in account.habilitations:
        raise Conflict(f"{identifier} ne détient pas le profil {key}")
    application = repo.application(key.split("/")[0])
    rt.directory.modify(profile_dn, {"member": [("delete", [account.dn])]})
    # The holder is told, as he was told of the grant (SPEC §10, « Retrait »).
    queue_mail_or_undo(
        rt,
        lambda: rt.directory.modify(profile_dn, {"member": [("add", [account.dn])]}),
        "withdrawal",
        [account.mail],
        application=application.name,
    )
    rt.journal.record(action, identifier, actor=actor.identifier, operator=rt.operator,
                      details={**(details or {}), "profile": key},
                      **history_of(account))  # fmt: skip
    return RightChange(identifier, key, "revoked")


def delegate(rt: Runtime, actor: Actor, identifier: str, app: str, profile: str) -> RightChange:
    repo, account, key, profile_dn = _setup(rt, actor, identifier, app, profile, Action.DELEGATE)
    if account.type != "responsable":
        raise Invalid("seuls les responsables reçoivent des délégations de profils")
    _check_can_hand(repo, actor, key)
    if key in account.delegations:
        raise Conflict(f"le profil {key} est déjà délégué à {identifier}")
    application = repo.application(key.split("/")[0])
    rt.directory.modify(account.dn, {"apexDelegatedProfile": [("add", [profile_dn])]})
    queue_mail_or_undo(
        rt,
        lambda: rt.directory.modify(
            account.dn, {"apexDelegatedProfile": [("delete", [profile_dn])]}
        ),
        "delegation",
        [account.mail],
        application=application.name,
    )
    rt.journal.record(
        "delegate",
        identifier,
        actor=actor.identifier,
        operator=rt.operator,
        details={"profile": key},
        **history_of(account),
    )
    return RightChange(identifier, key, "delegated")


def undelegate(rt: Runtime, actor: Actor, identifier: str, app: str, profile: str) -> RightChange:
    """Withdraws the delegation; habilitations already granted with it stay, and are listed."""
    repo, account, key, profile_dn = _setup(rt, actor, identifier, app, profile, Action.DELEGATE)
    if key not in account.delegations:
        raise Conflict(f"le profil {key} n'est pas délégué à {identifier}")
    rt.directory.modify(account.dn, {"apexDelegatedProfile": [("delete", [profile_dn])]})
    still = []
    if account.service_dn:
        still = [
            a.identifier
            for a in repo.accounts(
                siret=account.siret,
                service_dn=account.service_dn,
                account_type="collaborateur",
                member_of=profile_dn,
            )
        ]
    rt.journal.record(
        "undelegate",
        identifier,
        actor=actor.identifier,
        operator=rt.operator,
        details={"profile": key, "habilitations_kept": len(still)},
        **history_of(account),
    )
    return RightChange(identifier, key, "withdrawn", still)
