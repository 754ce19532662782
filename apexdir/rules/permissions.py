"""Who may do what, on whom (SPEC §1, §5, §6, §7): the whole matrix is the one table `RULES`.

The checks are pure: the caller describes the actor (from the authenticated account) and
the target (from the directory) and asks before acting. Which profiles may be granted is a
separate question, answered by `can_grant_profile`, because it needs the actor's profiles.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from enum import StrEnum

from apexdir.errors import NotAllowed
from apexdir.models import AccountType


class ActorType(StrEnum):
    AGENT = "agent"
    ADMINISTRATEUR = "administrateur"
    RESPONSABLE = "responsable"
    COLLABORATEUR = "collaborateur"


class Action(StrEnum):
    STRUCTURE_CREATE = "structure_create"
    STRUCTURE_UPDATE = "structure_update"
    STRUCTURE_VIEW = "structure_view"
    STRUCTURE_CLOSE = "structure_close"  # close or reopen
    STRUCTURE_MOVE = "structure_move"  # to a new SIRET (an établissement's transfer)
    CATALOGUE_MANAGE = "catalogue_manage"
    SERVICE_MANAGE = "service_manage"  # create, rename, merge, delete
    ACCOUNT_TRANSFER = "account_transfer"
    INVITE = "invite"
    VALIDATE = "validate"  # accept or refuse a pending creation
    RESEND_IDENTIFIER = "resend_identifier"
    ACCOUNT_VIEW = "account_view"
    ACCOUNT_DELETE = "account_delete"
    ACCOUNT_SUSPEND = "account_suspend"  # suspend or reactivate
    ACCOUNT_RETYPE = "account_retype"  # checked on the account as it is and as it becomes
    GRANT = "grant"  # grant or revoke
    DELEGATE = "delegate"  # delegate or withdraw a delegation
    JOURNAL_VIEW = "journal_view"
    HISTORY_VIEW = "history_view"  # a structure's history: who did what to whom, when
    REVIEW = "review"  # the yearly review of a structure's habilitations (confirm, withdraw)
    REVIEW_OPEN = "review_open"  # open a review before it is due
    SELF_UPDATE = "self_update"
    DATA_EXPORT = "data_export"  # a partner's own data (RGPD art. 15 and 20)


class Scope(StrEnum):
    """How far from the actor a target may be."""

    ANYWHERE = "anywhere"
    OWN_STRUCTURE = "own_structure"
    OWN_SERVICE = "own_service"
    SELF = "self"


@dataclass(frozen=True)
class Actor:
    """Who acts. `structure` is a SIRET, `service` a service id; both None for an agent."""

    type: ActorType
    identifier: str | None = None
    structure: str | None = None
    service: str | None = None


@dataclass(frozen=True)
class Target:
    """What is acted upon: an account (with its type), a service, a structure, or nothing.

    For an invitation, it describes the account to be created; for a transfer, the account
    moved (the caller checks the destination service with `SERVICE_MANAGE`).
    """

    account_type: AccountType | None = None
    structure: str | None = None
    service: str | None = None
    identifier: str | None = None


@dataclass(frozen=True)
class Rule:
    """A permission: how far the target may be and, when restricted, which account types."""

    scope: Scope
    account_types: frozenset[AccountType] | None = None


_ADMIN = AccountType.ADMINISTRATEUR
_RESP = AccountType.RESPONSABLE
_COLLAB = AccountType.COLLABORATEUR
_ANY = Rule(Scope.ANYWHERE)
_STRUCTURE = Rule(Scope.OWN_STRUCTURE)
_SELF = Rule(Scope.SELF)
# Accounts in services: administrators belong to no service, so cannot be transferred.
_IN_SERVICES = frozenset({_RESP, _COLLAB})
# A delegation is by definition handed to a responsable, whoever hands it.
_DELEGATES = frozenset({_RESP})

_AG = ActorType.AGENT
_AD = ActorType.ADMINISTRATEUR
_RE = ActorType.RESPONSABLE
_CO = ActorType.COLLABORATEUR

# The matrix. An actor type missing from a row may not do that action at all.
RULES: Mapping[Action, Mapping[ActorType, Rule]] = {
    Action.STRUCTURE_CREATE: {_AG: _ANY},
    Action.STRUCTURE_UPDATE: {_AG: _ANY},
    Action.STRUCTURE_VIEW: {_AG: _ANY, _AD: _STRUCTURE, _RE: _STRUCTURE, _CO: _STRUCTURE},
    # The life of a structure is DGFiP's decision (SPEC §10): agents only.
    Action.STRUCTURE_CLOSE: {_AG: _ANY},
    Action.STRUCTURE_MOVE: {_AG: _ANY},
    Action.CATALOGUE_MANAGE: {_AG: _ANY},
    Action.SERVICE_MANAGE: {_AG: _ANY, _AD: _STRUCTURE},
    Action.ACCOUNT_TRANSFER: {
        _AG: Rule(Scope.ANYWHERE, _IN_SERVICES),
        _AD: Rule(Scope.OWN_STRUCTURE, _IN_SERVICES),
    },
    Action.INVITE: {
        _AG: _ANY,
        _AD: Rule(Scope.OWN_STRUCTURE, _IN_SERVICES),
        _RE: Rule(Scope.OWN_SERVICE, frozenset({_COLLAB})),
    },
    # A responsable invites but does not validate: his administrator does (SPEC §5.5).
    Action.VALIDATE: {_AG: _ANY, _AD: Rule(Scope.OWN_STRUCTURE, _IN_SERVICES)},
    Action.RESEND_IDENTIFIER: {
        _AG: _ANY,
        _AD: Rule(Scope.OWN_STRUCTURE, _IN_SERVICES),
        _RE: Rule(Scope.OWN_SERVICE, frozenset({_COLLAB})),
    },
    # Consultation: every type sees every account of its own structure (SPEC §7).
    Action.ACCOUNT_VIEW: {_AG: _ANY, _AD: _STRUCTURE, _RE: _STRUCTURE, _CO: _STRUCTURE},
    Action.ACCOUNT_DELETE: {
        _AG: _ANY,
        _AD: Rule(Scope.OWN_STRUCTURE, _IN_SERVICES),
        _RE: Rule(Scope.OWN_SERVICE, frozenset({_COLLAB})),
    },
    # Suspension and type change follow deletion: an administrateur acts on the responsables
    # and collaborateurs of his structure, an agent on anyone (administrateurs included).
    Action.ACCOUNT_SUSPEND: {_AG: _ANY, _AD: Rule(Scope.OWN_STRUCTURE, _IN_SERVICES)},
    Action.ACCOUNT_RETYPE: {_AG: _ANY, _AD: Rule(Scope.OWN_STRUCTURE, _IN_SERVICES)},
    Action.GRANT: {
        _AG: _ANY,
        _AD: Rule(Scope.OWN_STRUCTURE, _IN_SERVICES),
        _RE: Rule(Scope.OWN_SERVICE, frozenset({_COLLAB})),
    },
    Action.DELEGATE: {
        _AG: Rule(Scope.ANYWHERE, _DELEGATES),
        _AD: Rule(Scope.OWN_STRUCTURE, _DELEGATES),
    },
    Action.JOURNAL_VIEW: {_AG: _ANY},
    # Issue 21 item 8: an administrateur reads his structure's history, a responsable his
    # service's; a collaborateur none.
    Action.HISTORY_VIEW: {_AG: _ANY, _AD: _STRUCTURE, _RE: Rule(Scope.OWN_SERVICE)},
    # Issue 21 item 10: an administrateur reviews his structure's habilitations; an agent
    # opens reviews and reads what is overdue anywhere. Responsables and collaborateurs none.
    Action.REVIEW: {_AG: _ANY, _AD: _STRUCTURE},
    Action.REVIEW_OPEN: {_AG: _ANY},
    # Agents correct a partner's data on request (support); the partner is mailed either way.
    Action.SELF_UPDATE: {_AG: _ANY, _AD: _SELF, _RE: _SELF, _CO: _SELF},
    # Every partner downloads his own data; an agent any partner's (a request by mail).
    Action.DATA_EXPORT: {_AG: _ANY, _AD: _SELF, _RE: _SELF, _CO: _SELF},
}

_ACTORS = {
    ActorType.AGENT: "un agent",
    ActorType.ADMINISTRATEUR: "un administrateur",
    ActorType.RESPONSABLE: "un responsable",
    ActorType.COLLABORATEUR: "un collaborateur",
}
_ACTIONS = {
    Action.STRUCTURE_CREATE: "créer une structure",
    Action.STRUCTURE_UPDATE: "modifier une structure",
    Action.STRUCTURE_VIEW: "consulter une structure",
    Action.STRUCTURE_CLOSE: "fermer ou rouvrir une structure",
    Action.STRUCTURE_MOVE: "transférer une structure vers un nouveau SIRET",
    Action.CATALOGUE_MANAGE: "gérer le catalogue des applications et profils",
    Action.SERVICE_MANAGE: "gérer les services",
    Action.ACCOUNT_TRANSFER: "transférer un compte",
    Action.INVITE: "initier la création d'un compte",
    Action.VALIDATE: "valider ou refuser la création d'un compte",
    Action.RESEND_IDENTIFIER: "renvoyer l'identifiant d'un compte",
    Action.ACCOUNT_VIEW: "consulter un compte",
    Action.ACCOUNT_DELETE: "supprimer un compte",
    Action.ACCOUNT_SUSPEND: "suspendre ou réactiver un compte",
    Action.ACCOUNT_RETYPE: "changer le type d'un compte",
    Action.GRANT: "attribuer ou retirer des profils",
    Action.DELEGATE: "déléguer des profils ou retirer une délégation",
    Action.JOURNAL_VIEW: "consulter le journal",
    Action.HISTORY_VIEW: "consulter l'historique",
    Action.REVIEW: "revoir les habilitations d'une structure",
    Action.REVIEW_OPEN: "ouvrir une revue des habilitations",
    Action.SELF_UPDATE: "modifier des données personnelles",
    Action.DATA_EXPORT: "télécharger les données personnelles",
}
_OUT_OF_SCOPE = {
    Scope.OWN_STRUCTURE: "en dehors de sa structure",
    Scope.OWN_SERVICE: "en dehors de son service",
    Scope.SELF: "d'un autre compte que le sien",
}


def _same(mine: str | None, theirs: str | None) -> bool:
    # A partner without a structure or service is a broken entry: it reaches nothing.
    return mine is not None and mine == theirs


def _in_scope(scope: Scope, actor: Actor, target: Target) -> bool:
    if scope is Scope.ANYWHERE:
        return True
    if scope is Scope.OWN_STRUCTURE:
        return _same(actor.structure, target.structure)
    if scope is Scope.OWN_SERVICE:
        return _same(actor.structure, target.structure) and _same(actor.service, target.service)
    # uid matching is case-insensitive in LDAP, so a bind as "Marie.Martin-px" is that account.
    return (
        actor.identifier is not None
        and target.identifier is not None
        and actor.identifier.lower() == target.identifier.lower()
    )


def refusal(actor: Actor, action: Action, target: Target) -> str | None:
    """Why `actor` may not do `action` on `target`, in French; None when it may."""
    who, what = _ACTORS[actor.type], _ACTIONS[action]
    rule = RULES[action].get(actor.type)
    if rule is None:
        return f"Action non autorisée: {who} ne peut pas {what}"
    if rule.account_types is not None and target.account_type not in rule.account_types:
        kind = (
            f"compte visé de type {target.account_type}"
            if target.account_type
            else "type du compte visé inconnu"
        )
        return f"Action non autorisée: {who} ne peut pas {what} ({kind})"
    if not _in_scope(rule.scope, actor, target):
        return f"Action non autorisée: {who} ne peut pas {what} {_OUT_OF_SCOPE[rule.scope]}"
    return None


def is_allowed(actor: Actor, action: Action, target: Target) -> bool:
    return refusal(actor, action, target) is None


def require(actor: Actor, action: Action, target: Target) -> None:
    """Raise `NotAllowed`, with the reason, unless `actor` may do `action` on `target`."""
    reason = refusal(actor, action, target)
    if reason is not None:
        raise NotAllowed(reason)


# The actions by which an actor manages accounts (SPEC §1, §5, §6, §10).
MANAGEMENT = (
    Action.INVITE,
    Action.VALIDATE,
    Action.RESEND_IDENTIFIER,
    Action.ACCOUNT_DELETE,
    Action.ACCOUNT_SUSPEND,
    Action.ACCOUNT_RETYPE,
    Action.ACCOUNT_TRANSFER,
    Action.GRANT,
    Action.DELEGATE,
)
_WIDTH = (Scope.SELF, Scope.OWN_SERVICE, Scope.OWN_STRUCTURE, Scope.ANYWHERE)


def listing_scope(actor_type: ActorType) -> Scope:
    """How far the list of accounts an actor manages reaches (`account list`, the portal's
    « Gestion des comptes »): the widest reach of his management actions in `RULES`, never
    wider than his consultation (`ACCOUNT_VIEW`). A responsable manages one service (SPEC
    §1: every account action of his row is `OWN_SERVICE`), so he lists his service; an
    actor who manages no account (a collaborateur) lists what he may consult."""
    seen = RULES[Action.ACCOUNT_VIEW][actor_type].scope
    managed = [RULES[a][actor_type].scope for a in MANAGEMENT if actor_type in RULES[a]]
    if not managed:
        return seen
    return min(max(managed, key=_WIDTH.index), seen, key=_WIDTH.index)


def may_list(actor: Actor, target: Target) -> bool:
    """Whether an account is on the actor's list of accounts (`listing_scope`)."""
    return is_allowed(actor, Action.ACCOUNT_VIEW, target) and _in_scope(
        listing_scope(actor.type), actor, target
    )


def can_grant_profile(actor_type: ActorType, own_profiles: Collection[str], profile: str) -> bool:
    """Whether an actor may grant or delegate `profile` (SPEC §6, Decision).

    `own_profiles` are the profiles the administrator holds, or those delegated to the
    responsable; an agent may grant any profile, a collaborateur none.
    """
    if actor_type is ActorType.AGENT:
        return True
    if actor_type in (ActorType.ADMINISTRATEUR, ActorType.RESPONSABLE):
        return profile in own_profiles
    return False


def require_profile(actor_type: ActorType, own_profiles: Collection[str], profile: str) -> None:
    """Raise `NotAllowed` unless `can_grant_profile`; the message (a catalogue code per
    actor type) names the rule and the profile."""
    if can_grant_profile(actor_type, own_profiles, profile):
        return
    raise NotAllowed(code=f"rights.not_held.{actor_type.value}", params={"profile": profile})
