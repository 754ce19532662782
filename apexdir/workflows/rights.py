"""Habilitations (profiles granted) and délégations (profiles a responsable may grant), SPEC §6."""

from __future__ import annotations

from typing import Any

from apexdir.directory.repository import Repository
from apexdir.errors import Conflict, Invalid
from apexdir.models import Account, habilitation
from apexdir.rules.permissions import Action, Actor, ActorType, require, require_profile
from apexdir.runtime import Runtime
from apexdir.workflows.actors import history_of, target_for
from apexdir.workflows.catalogue import parse_habilitation
from apexdir.workflows.notify import queue_mail_or_undo


def _actor_profiles(repo: Repository, actor: Actor) -> set[str]:
    if actor.type == ActorType.AGENT or not actor.identifier:
        return set()
    own = repo.account(actor.identifier)
    if actor.type == ActorType.RESPONSABLE:
        return set(own.delegations)
    return set(own.habilitations)


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


def grant(rt: Runtime, actor: Actor, identifier: str, app: str, profile: str) -> dict[str, Any]:
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
    return {"identifier": identifier, "habilitation": key, "granted": True}


def revoke(
    rt: Runtime, actor: Actor, identifier: str, app: str, profile: str, *,
    action: str = "revoke", details: dict[str, Any] | None = None,
) -> dict[str, Any]:  # fmt: skip
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
    return {"identifier": identifier, "habilitation": key, "revoked": True}


def delegate(rt: Runtime, actor: Actor, identifier: str, app: str, profile: str) -> dict[str, Any]:
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
    return {"identifier": identifier, "delegation": key, "delegated": True}


def undelegate(
    rt: Runtime, actor: Actor, identifier: str, app: str, profile: str
) -> dict[str, Any]:
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
    return {
        "identifier": identifier,
        "delegation": key,
        "withdrawn": True,
        "habilitations_kept": still,
    }
