"""Services of a structure: create, rename, merge, delete; transfer accounts between them.

Multi-write commands are ordered so that re-running a command interrupted half-way
finishes it (merge moves accounts first and deletes the source last).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from apexdir.directory.repository import Repository
from apexdir.errors import Conflict, Invalid, NotFound
from apexdir.models import Account, RequestStatus, Service
from apexdir.rules.permissions import Action, Actor, Target, require
from apexdir.rules.siret import validate_siret
from apexdir.rules.text import display_name
from apexdir.runtime import Runtime
from apexdir.workflows.actors import target_for

OPEN_REQUESTS = [RequestStatus.INVITED, RequestStatus.SUBMITTED]


def _target(siret: str, service: Service | None = None) -> Target:
    return Target(
        account_type=None, structure=siret, service=service.id if service else None, identifier=None
    )


def of_structure(rt: Runtime, actor: Actor, siret: str) -> list[Service]:
    """The services of a structure, for an actor who may consult it (the portal's lists)."""
    require(actor, Action.STRUCTURE_VIEW, _target(siret))
    return Repository(rt.directory, rt.layout).services(siret)


def members(rt: Runtime, actor: Actor, service: Service) -> list[Account]:
    """The accounts of a service, for an actor who manages the structure's services (its
    page, the récapitulatifs of a merge and a deletion)."""
    require(actor, Action.SERVICE_MANAGE, _target(service.siret, service))
    return Repository(rt.directory, rt.layout).accounts(siret=service.siret, service_dn=service.dn)


def _name(name: str) -> str:
    return display_name("nom du service", name, max_length=128)


def _ensure_free(repo: Repository, siret: str, name: str) -> None:
    try:
        repo.service_by_name(siret, name)
    except NotFound:
        return
    raise Conflict(code="service.exists", params={"name": name, "siret": siret}, field="name")


def create_service(rt: Runtime, actor: Actor, siret: str, name: str) -> Service:
    siret = validate_siret(siret)
    require(actor, Action.SERVICE_MANAGE, _target(siret))
    name = _name(name)
    repo = Repository(rt.directory, rt.layout)
    repo.structure(siret)
    _ensure_free(repo, siret, name)
    service = repo.create_service(Service(id=str(uuid.uuid4()), name=name, siret=siret))
    rt.journal.record("service.create", f"{siret}/{name}", actor=actor.identifier,
                      operator=rt.operator, structure=siret, service=service.id)  # fmt: skip
    return service


def rename_service(rt: Runtime, actor: Actor, siret: str, name: str, new_name: str) -> Service:
    siret = validate_siret(siret)
    require(actor, Action.SERVICE_MANAGE, _target(siret))
    new_name = _name(new_name)
    repo = Repository(rt.directory, rt.layout)
    service = repo.service_by_name(siret, name)
    require(actor, Action.SERVICE_MANAGE, _target(siret, service))
    if new_name.casefold() != service.name.casefold():
        _ensure_free(repo, siret, new_name)
    old_name = service.name
    repo.rename_service(service, new_name)
    rt.journal.record(
        "service.rename",
        f"{siret}/{old_name}",
        actor=actor.identifier,
        operator=rt.operator,
        details={"new_name": new_name},
        structure=siret,
        service=service.id,
    )
    return service


def _attached(rt: Runtime, service: Service) -> tuple[list[str], list[str]]:
    """DNs of the accounts and of the open creation requests attached to a service."""
    return Repository(rt.directory, rt.layout).attached_to(service, OPEN_REQUESTS)


def deletion_blockers(rt: Runtime, service: Service) -> tuple[int, int]:
    """How many accounts and open creation requests stop the service's deletion (the
    page says what to do first instead of offering a confirmation the workflow refuses)."""
    accounts, requests = _attached(rt, service)
    return len(accounts), len(requests)


@dataclass(frozen=True)
class ServiceMerge:
    """What `merge_services` did: the services by name, the accounts and the open creation
    requests moved from `source` to `target`."""

    source: str
    target: str
    moved: int
    requests_moved: int


def merge_services(rt: Runtime, actor: Actor, siret: str, source: str, target: str) -> ServiceMerge:
    """Every account (and open request) of `source` moves to `target`; then `source` goes."""
    siret = validate_siret(siret)
    require(actor, Action.SERVICE_MANAGE, _target(siret))
    repo = Repository(rt.directory, rt.layout)
    src = repo.service_by_name(siret, source)
    dst = repo.service_by_name(siret, target)
    require(actor, Action.SERVICE_MANAGE, _target(siret, src))
    require(actor, Action.SERVICE_MANAGE, _target(siret, dst))
    if src.id == dst.id:
        raise Invalid("un service ne peut pas être fusionné avec lui-même")
    accounts, requests = _attached(rt, src)
    moved, moved_requests = len(accounts), len(requests)
    while accounts or requests:
        for dn in accounts + requests:
            repo.attach(dn, dst)
        # Anything attached meanwhile (a validation, an invitation) follows before the
        # source goes: refint would otherwise strip its service reference.
        accounts, requests = _attached(rt, src)
        moved, moved_requests = moved + len(accounts), moved_requests + len(requests)
    repo.delete_service(src)
    rt.journal.record(
        "service.merge",
        f"{siret}/{src.name}",
        actor=actor.identifier,
        operator=rt.operator,
        details={"into": dst.name, "accounts": moved, "requests": moved_requests},
        structure=siret,
        service=dst.id,  # the source is gone: the target's responsables read it
    )
    return ServiceMerge(src.name, dst.name, moved, moved_requests)


def delete_service(rt: Runtime, actor: Actor, siret: str, name: str) -> None:
    siret = validate_siret(siret)
    require(actor, Action.SERVICE_MANAGE, _target(siret))
    repo = Repository(rt.directory, rt.layout)
    service = repo.service_by_name(siret, name)
    require(actor, Action.SERVICE_MANAGE, _target(siret, service))
    accounts, requests = _attached(rt, service)
    if accounts or requests:
        raise Conflict(
            code="service.not_empty",
            params={"name": service.name, "accounts": len(accounts), "requests": len(requests)},
        )
    repo.delete_service(service)
    rt.journal.record("service.delete", f"{siret}/{service.name}", actor=actor.identifier,
                      operator=rt.operator, structure=siret)  # fmt: skip


def transfer_account(rt: Runtime, actor: Actor, identifier: str, service_name: str) -> Account:
    """A responsable or collaborateur moves to another service of the same structure.

    The account keeps its DN, identifier and habilitations: applications see no change.
    """
    repo = Repository(rt.directory, rt.layout)
    account = repo.account(identifier)
    require(actor, Action.ACCOUNT_TRANSFER, target_for(account))
    if account.type == "administrateur":
        raise Invalid("un administrateur appartient à la structure, pas à un service")
    service = repo.service_by_name(account.siret, service_name)
    if service.id != account.service_id:
        repo.attach(account.dn, service)
        rt.journal.record(
            "account.transfer",
            identifier,
            actor=actor.identifier,
            operator=rt.operator,
            details={"from": account.service, "to": service.name},
            structure=account.siret,
            service=service.id,  # the new service's responsables read it
        )
    return repo.account(identifier)
