"""Suspension and reactivation of an account (SPEC §10): reversible, nothing is deleted.

A suspended account cannot authenticate anywhere:
- slapd refuses every bind of it — the portal's, an application's, `ldapwhoami` — by
  ppolicy's administrative lock (`pwdAccountLockedTime: 000001010000Z`), written in the
  same modify as `apexStatus: suspended` (`mapping.suspension_changes`);
- the portal ends its open sessions on every node (`sessions.end_all`) and refuses any
  account whose status is not active; pending login codes and reset secrets are voided;
- the OpenID Connect provider hands out no code, token or userinfo for it
  (`apexdir.oidc.store.subject`).
The person is mailed at suspension and at reactivation; both are journaled.

The daemon suspends a dormant account the same way (`suspend_for_inactivity`, reason
« inactivité », kept on the account in `apexDormancy`), and any reactivation restarts the
dormancy delay (`apexdir.rules.dormancy`): the administrateur lifts both kinds alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from apexdir.directory import dormancy as marks
from apexdir.directory.repository import Repository
from apexdir.errors import Conflict
from apexdir.models import Account, AccountStatus
from apexdir.rules.dormancy import REACTIVATED, Mark
from apexdir.rules.dormancy import SUSPENDED as DORMANT
from apexdir.rules.lifecycle import ACTIVE, SUSPENDED
from apexdir.rules.permissions import Action, Actor, require
from apexdir.rules.refusal import validate_reason
from apexdir.rules.structure_life import ACCOUNT_CLOSED, CLOSED
from apexdir.runtime import Runtime
from apexdir.workflows import sessions
from apexdir.workflows.actors import history_of, target_for
from apexdir.workflows.lifecycle import last_administrator_reason, require_not_last_administrator
from apexdir.workflows.notify import moment, queue_mail_or_undo

# The reason of a suspension for inactivity, as the mail, the journal and the history say it.
INACTIVITY = "inactivité"


def _target(rt: Runtime, actor: Actor, identifier: str) -> tuple[Repository, Account]:
    repo = Repository(rt.directory, rt.layout)
    account = repo.account(identifier)
    require(actor, Action.ACCOUNT_SUSPEND, target_for(account))
    if actor.identifier and actor.identifier.lower() == account.identifier.lower():
        raise Conflict("un compte ne peut pas se suspendre ou se réactiver lui-même")
    return repo, account


@dataclass(frozen=True)
class StatusChange:
    """What `suspend` or `reactivate` did: the account's status now, and the reason the
    suspension's mail quoted."""

    identifier: str
    status: AccountStatus
    reason: str | None = None


def suspend(
    rt: Runtime, actor: Actor, identifier: str, *, reason: str | None = None
) -> StatusChange:
    """Suspend the account; `reason` (optional) is quoted in the mail to the person, so it
    follows the rules of a refusal's reason (plain text, no link, no phone number)."""
    # Checked before anything is read or written, as a refusal's reason.
    text = validate_reason(reason) if reason and reason.strip() else None
    repo, account = _target(rt, actor, identifier)
    if account.status == SUSPENDED:
        raise Conflict(f"le compte {account.identifier} est déjà suspendu")
    require_not_last_administrator(rt, account)
    repo.suspend_account(account)
    queue_mail_or_undo(
        rt,
        lambda: repo.reactivate_account(account),
        "account_suspended",
        [account.mail],
        identifiant=account.identifier,
        motif=text,
        **moment(rt),
    )
    sessions.end_all(rt, account)  # every node's open sessions end at their next request
    rt.journal.record(
        "account.suspend",
        account.identifier,
        actor=actor.identifier,
        operator=rt.operator,
        details={"reason": text, "type": account.type, "structure": account.siret},
        **history_of(account),
    )
    return StatusChange(account.identifier, SUSPENDED, text)


def reactivate(rt: Runtime, actor: Actor, identifier: str) -> StatusChange:
    """Lift the suspension: slapd's lock goes with the status, in one write."""
    repo, account = _target(rt, actor, identifier)
    if account.status != SUSPENDED:
        raise Conflict(f"le compte {account.identifier} n'est pas suspendu")
    # The administrateur vouches for the account: its dormancy delay starts again now.
    restart = Mark(REACTIVATED, rt.clock()).format()
    if repo.structure(account.siret).status == CLOSED:
        # The structure closed meanwhile: the suspension ends, the closure's lock stays
        # (its reopening lifts it), so the account is as its colleagues are.
        repo.close_account(account, account.session_generation, dormancy=restart)
        status = ACCOUNT_CLOSED
    else:
        repo.reactivate_account(account, dormancy=restart)
        status = ACTIVE
    queue_mail_or_undo(
        rt,
        lambda: repo.suspend_account(account),
        "account_reactivated",
        [account.mail],
        identifiant=account.identifier,
        **moment(rt),
    )
    rt.journal.record(
        "account.reactivate",
        account.identifier,
        actor=actor.identifier,
        operator=rt.operator,
        details={"type": account.type, "structure": account.siret},
        **history_of(account),
    )
    return StatusChange(account.identifier, status)


def suspend_for_inactivity(
    rt: Runtime, account: Account, *, since: datetime, warned: str | None, never_used: bool = False
) -> str:
    """The daemon's suspension of a dormant account whose warning's deadline passed:
    `since` is its last activity, `warned` the mark of the warning. Returns `suspended`,
    `moved` (the mark changed meanwhile: another pass did it, or a reactivation) or
    `last_administrator` (kept: the structure would have nobody to manage it)."""
    if last_administrator_reason(rt, account) is not None:
        return "last_administrator"
    mark = Mark(DORMANT, rt.clock()).format()
    if not marks.suspend(rt.directory, account, warned, mark):
        return "moved"
    repo = Repository(rt.directory, rt.layout)
    queue_mail_or_undo(
        rt,
        lambda: repo.reactivate_account(account, dormancy=warned),
        "dormancy_suspended",
        [account.mail],
        identifiant=account.identifier,
        depuis=since,
        jamais_utilise=never_used,
        **moment(rt),
    )
    sessions.end_all(rt, account)
    rt.journal.record(
        "account.dormant-suspend",
        account.identifier,
        actor=None,
        operator=rt.operator,
        details={
            "reason": INACTIVITY,
            "since": since.isoformat(),
            "type": account.type,
            "structure": account.siret,
        },
        **history_of(account),
    )
    return "suspended"
