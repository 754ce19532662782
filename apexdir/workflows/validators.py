"""Who validates a creation request, and telling them at once when a form is submitted
(issue 19 item 11: administrators learnt of it only from the reminder, 3 days later).

Who may validate is the permission table's `Action.VALIDATE`: the structure's
administrators for responsables and collaborateurs, the agents for administrators (their
mailbox, `daemon.agents_mail`, also stands in for a structure without an administrator).
A responsable invites collaborateurs but does not validate them: he is told too, as the
one who asked, with words that do not ask him to act.
"""

from __future__ import annotations

import logging

from apexdir.directory.repository import Repository
from apexdir.errors import ApexError, Invalid, NotFound
from apexdir.models import CreationRequest
from apexdir.runtime import Runtime
from apexdir.workflows.notify import queue_mail

log = logging.getLogger("apexdir.workflows")

AGENT_PREFIX = "agent:"


def _administrators(repo: Repository, siret: str, cache: dict[str, list[str]]) -> list[str]:
    if siret not in cache:
        admins = repo.accounts(siret=siret, account_type="administrateur")
        cache[siret] = sorted({a.mail for a in admins if a.status == "active" and a.mail})
    return cache[siret]


def validators(
    rt: Runtime, repo: Repository, req: CreationRequest, cache: dict[str, list[str]]
) -> list[str]:
    """The addresses of who validates this request: the structure's administrators, else
    the agents' mailbox (none when it is not configured)."""
    agents = [rt.settings.daemon.agents_mail] if rt.settings.daemon.agents_mail else []
    if req.type == "administrateur":
        return agents
    return _administrators(repo, req.siret, cache) or agents


def _inviting_responsable(repo: Repository, created_by: str | None) -> str | None:
    """The address of the responsable who invited, if a responsable did."""
    if not created_by or created_by.lower().startswith(AGENT_PREFIX):
        return None
    try:
        account = repo.account(created_by)
    except (NotFound, Invalid):
        return None  # deleted since: the validators are told all the same
    if account.type != "responsable" or account.status != "active" or not account.mail:
        return None
    return account.mail


def notify_submitted(rt: Runtime, req: CreationRequest, last_name: str, first_name: str) -> int:
    """Mail « Demande de création de compte à valider » to the request's validators and to
    the responsable who invited; the number of mails queued.

    The form is submitted already: a spool that cannot take the mail does not undo it
    (the invitee did nothing wrong), the validators' reminder (daemon, `pending`) is then
    the one that tells them."""
    repo = Repository(rt.directory, rt.layout)
    nom = f"{first_name} {last_name}".strip()
    try:
        to_validate = validators(rt, repo, req, {})
        informed = _inviting_responsable(repo, req.created_by)
        sent = 0
        for address in to_validate:
            queue_mail(rt, "request_submitted", [address], a_valider=True, nom=nom,
                       mail=req.mail, type=req.type)  # fmt: skip
            sent += 1
        if informed and informed.lower() not in {a.lower() for a in to_validate}:
            queue_mail(rt, "request_submitted", [informed], a_valider=False, nom=nom,
                       mail=req.mail, type=req.type)  # fmt: skip
            sent += 1
    except ApexError as exc:
        log.warning("request %s submitted, validators not told now: %s", req.id, exc)
        return 0
    return sent
