"""The invitation (SPEC §5.1): a request in the directory and the link to its form, mailed."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from apexdir.directory.repository import Repository
from apexdir.errors import Conflict, Invalid
from apexdir.models import CreationRequest, RequestStatus, Service
from apexdir.rules.contact import validate_mail
from apexdir.rules.permissions import AccountType, Action, Actor, Target, is_allowed, require
from apexdir.rules.siret import validate_siret
from apexdir.runtime import Runtime
from apexdir.workflows import tokens
from apexdir.workflows.catalogue import normalize_code
from apexdir.workflows.creation_requests import (
    OPEN,
    creator_label,
    link_expired,
    reach,
)
from apexdir.workflows.creation_requests import (
    account_type as _account_type,
)
from apexdir.workflows.notify import link, queue_mail_or_undo

LINK_PATH = "creation"


@dataclass(frozen=True)
class _Invitation:
    """An invitation checked, before anything is written."""

    siret: str
    kind: AccountType
    mail: str
    service: Service | None
    application: str | None


def invite(
    rt: Runtime,
    actor: Actor,
    *,
    siret: str,
    account_type: str,
    mail: str,
    service: str | None = None,
    application: str | None = None,
) -> CreationRequest:
    """Invite a person to create an account: a request in the directory, its link mailed.

    Everything is checked before the first write; without the mail, no request (running
    the command again is then not refused as a duplicate)."""
    repo = Repository(rt.directory, rt.layout)
    wanted = _checked(repo, actor, siret, account_type, mail, service, application)
    now = rt.clock()
    _refuse_duplicate(repo, wanted, now)
    request_id = secrets.token_hex(6)
    secret = link_secret(rt, request_id)
    expires = now + timedelta(days=rt.settings.policy.invitation_validity_days)
    url = link(rt, LINK_PATH, f"{request_id}.{secret}")
    chosen = wanted.service
    req = repo.create_request(
        CreationRequest(
            id=request_id,
            mail=wanted.mail,
            type=wanted.kind,
            siret=wanted.siret,
            structure_dn=rt.layout.structure_dn(wanted.siret),
            status=RequestStatus.INVITED,
            service_id=chosen.id if chosen else None,
            service_dn=chosen.dn if chosen else None,
            service=chosen.name if chosen else None,
            client_application=wanted.application,
            created_by=creator_label(rt, actor),
            requested_at=now,
            expires_at=expires,
            token_hash=tokens.digest(secret),
        )
    )
    # Nobody would ever receive this link: without the mail, no request.
    queue_mail_or_undo(rt, lambda: repo.delete_request(req), "precreation", [wanted.mail], lien=url)
    rt.journal.record("account.invite", request_id, actor=actor.identifier, operator=rt.operator,
                      details={"type": wanted.kind.value, "structure": wanted.siret,
                               "mail": wanted.mail},
                      structure=wanted.siret, service=req.service_id)  # fmt: skip
    return req


def _checked(
    repo: Repository,
    actor: Actor,
    siret: str,
    account_type: str,
    mail: str,
    service: str | None,
    application: str | None,
) -> _Invitation:
    """The invitation's values checked, and the actor's right to send it, in this order."""
    siret = validate_siret(siret)
    kind = _account_type(account_type)
    mail = validate_mail(mail)
    # Who may invite this type into this structure is known before any lookup: an actor
    # out of reach learns nothing about the structure's services (4, not 3).
    require(actor, Action.INVITE, reach(actor, kind, siret))
    if repo.structure(siret).closed:
        raise Conflict(f"la structure {siret} est fermée : aucun compte ne peut y être créé")
    service_entry = None
    if kind == AccountType.ADMINISTRATEUR:
        if service:
            raise Invalid(code="creation.admin_no_service", field="service")
    else:
        if not service:
            raise Invalid(
                code="creation.service_required", params={"kind": kind.value}, field="service"
            )
        service_entry = repo.service_by_name(siret, service)
    require(
        actor,
        Action.INVITE,
        Target(
            account_type=kind,
            structure=siret,
            service=service_entry.id if service_entry else None,
            identifier=None,
        ),
    )
    app = None
    if application:
        app = normalize_code(application)
        repo.application(app)
    return _Invitation(siret, kind, mail, service_entry, app)


def _refuse_duplicate(repo: Repository, wanted: _Invitation, now: datetime) -> None:
    """One open invitation per address and structure."""
    existing = [
        r
        for r in repo.requests(
            siret=wanted.siret,
            status=OPEN,
            mail=wanted.mail,
            with_services=False,
        )
        if not link_expired(r, now)  # an invitation nobody answered in time blocks nothing
    ]
    if existing:
        raise Conflict(
            code="creation.duplicate",
            params={"mail": wanted.mail, "siret": wanted.siret, "request": existing[0].id},
            field="mail",
        )


def invitable(rt: Runtime, actor: Actor, siret: str) -> dict[AccountType, list[Service]]:
    """The services of a structure into which `actor` may invite each type of account that
    belongs to a service (responsables, collaborateurs): what an invitation form offers. An
    actor out of the structure gets nothing."""
    services = Repository(rt.directory, rt.layout).services(siret)

    def may(kind: AccountType, service: Service) -> bool:
        target = Target(account_type=kind, structure=siret, service=service.id)
        return is_allowed(actor, Action.INVITE, target)

    kinds = (AccountType.RESPONSABLE, AccountType.COLLABORATEUR)
    return {kind: [s for s in services if may(kind, s)] for kind in kinds}


def link_secret(rt: Runtime, request_id: str) -> str:
    """The secret of a request's link: derived from its id under the secrets key, so that
    the reminder can send the very link of the first mail again instead of voiding it
    (issue 19 item 11). Only its SHA-256 is stored; without the key, it is as opaque as a
    random one (HMAC-SHA256, 256 bits)."""
    return tokens.derived(rt.settings.ldap.secrets_key(), f"creation-link:{request_id}")
