"""Closing, reopening and moving a structure (SPEC §10) — a DGFiP agent's decisions.

Closing: nothing is deleted. The structure gets `apexStatus: closed` (with the reason);
pending creations in `ou=requests` are cancelled; each account that could log in gets, in
one modify, the status `structure-closed`, ppolicy's administrative lock (slapd refuses
every bind of it: portal, OIDC provider, an application's raw bind), its pending codes
voided and a new session generation (open portal sessions end at their next request). An
account already suspended, or locked by hand, is left as it is: the status says why an
account is locked, and reopening unlocks only the `structure-closed` ones — so a suspension
(`account suspend`) and a closing compose in either order. The administrateurs are mailed.

Order and re-runs: the mails are queued first (the state store is checked before anything
is written), then the structure, the requests and the accounts are written; if a write
fails, the queued mails are marked failed and the error is reported — running the command
again finishes the work. Closing writes the structure first (no invitation into it from
then on) and reopening writes it last, so an interrupted run leaves it closed.

Moving (an établissement's transfer): one modrdn of `apexSiret=OLD` to `apexSiret=NEW`. slapd
renames the services beneath it, and its `refint` overlay (`refint_attributes … apexServiceRef
apexStructureRef`) rewrites the DN references of the accounts and of the requests. Accounts
are flat under `ou=people`: their DNs and entryUUIDs (the OIDC `sub`) stay, as do their
profiles (`member` names the account, not the structure). The former SIRET is kept on the
entry (`apexPreviousSiret`) and the journal records `structure.move` from → to: the events
recorded before the move stay named by the old SIRET, and whoever reads a structure's history
reads it under every SIRET it has had (`sirets`).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any

from apexdir.directory.mapping import LOGIN_STATE_ATTRS, MOVE_ATTRS
from apexdir.directory.repository import Repository
from apexdir.errors import Conflict, NotFound
from apexdir.models import Account, Structure
from apexdir.rules.permissions import AccountType, Action, Actor, ActorType, require
from apexdir.rules.refusal import validate_reason
from apexdir.rules.siret import validate_siret
from apexdir.rules.structure_life import (
    CLOSED_REASON,
    check_move,
    locked_at_closing,
    unlocked_at_reopening,
)
from apexdir.runtime import Runtime
from apexdir.workflows.notify import moment, queue_mail
from apexdir.workflows.precreation import OPEN, creator_label
from apexdir.workflows.structures import structure_target


def _read(rt: Runtime, actor: Actor, siret: str) -> tuple[Repository, Structure, list[Account]]:
    siret = validate_siret(siret)
    require(actor, Action.STRUCTURE_CLOSE, structure_target(siret))
    repo = Repository(rt.directory, rt.layout)
    structure = _structure(rt, actor, repo, siret)
    return repo, structure, repo.accounts(siret=siret, attributes=LOGIN_STATE_ATTRS)


def _structure(rt: Runtime, actor: Actor, repo: Repository, siret: str) -> Structure:
    """The structure; for an agent, a SIRET that moved says where to (still not found)."""
    try:
        return repo.structure(siret)
    except NotFound:
        moved = repo.moved_to(siret) if actor.type == ActorType.AGENT else None
        if moved:
            raise NotFound(f"structure {siret} introuvable : transférée au SIRET {moved}") from None
        raise


def _mail_administrators(
    rt: Runtime, template: str, structure: Structure, accounts: list[Account], **context: Any
) -> tuple[list[str], list[int]]:
    admins = [a for a in accounts if a.type == AccountType.ADMINISTRATEUR and a.mail]
    values: dict[str, Any] = {
        "designation": structure.name,
        "siret": structure.siret,
        **context,
        **moment(rt),
    }
    queued = [queue_mail(rt, template, [a.mail], **values) for a in admins]
    return [a.identifier for a in admins], queued


@contextmanager
def _or_unsent(rt: Runtime, queued: list[int], template: str) -> Iterator[None]:
    """The writes the queued mails announce: if one fails, the mails are marked failed
    (never delivered) and the error goes on to the caller."""
    try:
        yield
    except Exception:
        for id_ in queued:
            with suppress(Exception):  # the write's error is the one to report
                rt.outbox.mark_failed(id_, f"not sent: the {template} it announced failed")
        raise


def close_structure(
    rt: Runtime, actor: Actor, siret: str, *, reason: str | None = None
) -> dict[str, Any]:
    """Close the structure: its accounts cannot authenticate anywhere; nothing is deleted."""
    text = validate_reason(reason) if reason and reason.strip() else None
    repo, structure, accounts = _read(rt, actor, siret)
    to_lock = [a for a in accounts if locked_at_closing(a.status, a.locked_by_administrator)]
    if structure.closed and not to_lock:
        raise Conflict(f"la structure {structure.siret} est déjà fermée")
    mailed, queued = _mail_administrators(
        rt, "structure_closed", structure, accounts, motif=text or structure.reason
    )
    now, by = rt.clock(), creator_label(rt, actor)
    with _or_unsent(rt, queued, "structure_closed"):
        if not structure.closed:
            repo.set_structure_closed(structure.siret, True, text)
        cancelled = [
            req.id
            for req in repo.requests(siret=structure.siret, status=OPEN, with_services=False)
            if repo.cancel_request(req, CLOSED_REASON, now, by)
        ]
        for account in to_lock:
            repo.close_account(account, secrets.token_hex(12))
    locked = [a.identifier for a in to_lock]
    left = [a.identifier for a in accounts if a.identifier not in locked]
    rt.journal.record(
        "structure.close",
        structure.siret,
        actor=actor.identifier,
        operator=rt.operator,
        details={"reason": text, "accounts_locked": locked, "requests_cancelled": cancelled},
        structure=structure.siret,
    )
    return {
        "siret": structure.siret,
        "status": "closed",
        "reason": text or structure.reason,
        "accounts_locked": locked,
        "accounts_already_locked": left,
        "requests_cancelled": cancelled,
        "administrators_mailed": mailed,
    }


def reopen_structure(rt: Runtime, actor: Actor, siret: str) -> dict[str, Any]:
    """Reopen the structure: the accounts its closing locked log in again; those suspended
    (or locked by hand) stay as they are. Cancelled creations are not restored."""
    repo, structure, accounts = _read(rt, actor, siret)
    if not structure.closed:
        raise Conflict(f"la structure {structure.siret} n'est pas fermée")
    to_unlock = [a for a in accounts if unlocked_at_reopening(a.status)]
    mailed, queued = _mail_administrators(rt, "structure_reopened", structure, accounts)
    with _or_unsent(rt, queued, "structure_reopened"):
        for account in to_unlock:
            repo.reopen_account(account)
        repo.set_structure_closed(structure.siret, False)
    unlocked = [a.identifier for a in to_unlock]
    still = [a.identifier for a in accounts if a.identifier not in unlocked]
    rt.journal.record(
        "structure.reopen",
        structure.siret,
        actor=actor.identifier,
        operator=rt.operator,
        details={"accounts_unlocked": unlocked},
        structure=structure.siret,
    )
    return {
        "siret": structure.siret,
        "status": "open",
        "accounts_unlocked": unlocked,
        "accounts_still_locked": still,
        "administrators_mailed": mailed,
    }


def move_structure(rt: Runtime, actor: Actor, siret: str, new_siret: str) -> dict[str, Any]:
    """Carry the structure to a new SIRET: services, accounts, requests, rights and history
    follow; the old SIRET then names nothing (`NotFound`)."""
    old, new = check_move(siret, new_siret)
    require(actor, Action.STRUCTURE_MOVE, structure_target(old))
    repo = Repository(rt.directory, rt.layout)
    structure = _structure(rt, actor, repo, old)
    if repo.structure_exists(new):
        raise Conflict(f"le SIRET {new} est déjà celui d'une structure de l'annuaire")
    services = repo.services(old)
    # slapd's unique overlay refuses the SIRET of another structure too (a race): Conflict.
    repo.move_structure(old, new)
    rewritten = repo.rewrite_references(structure.dn, [s.dn for s in services], new)
    moved = repo.structure(new)
    rt.journal.record(
        "structure.move",
        new,
        actor=actor.identifier,
        operator=rt.operator,
        details={"from": old, "to": new, "stale_references_rewritten": rewritten},
        structure=new,  # refint moved the earlier events' references along with the modrdn
    )
    accounts = repo.accounts(siret=new, attributes=MOVE_ATTRS)
    return {
        "siret": new,
        "previous_siret": old,
        "previous_sirets": moved.previous_sirets,
        "name": moved.name,
        "services": len(services),
        "accounts": len(accounts),
        "stale_references_rewritten": rewritten,
    }


def sirets(rt: Runtime, siret: str) -> list[str]:
    """Every SIRET the structure has had, the current one first: a structure's history is
    named by the SIRET it had when each event happened."""
    structure = Repository(rt.directory, rt.layout).structure(validate_siret(siret))
    return [structure.siret, *structure.previous_sirets]


def password_matches(rt: Runtime, account: Account, password: str) -> bool:
    """Whether `password` is the account's, for an account of a closed structure, which
    slapd refuses before checking the password (its administrative lock): apexdir checks
    the stored hash itself, at the cost of a bind (`hashing.verify`)."""
    return Repository(rt.directory, rt.layout).password_matches(account.dn, password)
