"""A structure's history (issue 21 item 8): who did what to whom, when — for an agent any
structure, for an administrateur his own, for a responsable his service.

The events are written as they are journaled (`Journal.record` with `structure=`) to the
directory by whichever node served the action, and read here from the directory: the
history is complete on every node (docs/replication.md « History »).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from apexdir.directory.events import EventStore, Page
from apexdir.directory.repository import Repository
from apexdir.errors import Invalid
from apexdir.models import Event
from apexdir.rules.history import EXPORT_LIMIT, PAGE_SIZE, Criteria
from apexdir.rules.permissions import Action, Actor, ActorType, Target, require
from apexdir.rules.siret import validate_siret
from apexdir.runtime import Runtime


@dataclass(frozen=True)
class Reach:
    """Whose history is read: a structure, or one of its services."""

    siret: str
    service: str | None = None


def reach(actor: Actor, siret: str | None = None) -> Reach:
    """The history `actor` reads: an agent names a structure; an administrateur reads his
    own, a responsable his service's (naming another structure is refused)."""
    if actor.type is ActorType.AGENT:
        if not siret:
            raise Invalid(code="structure.siret_required", field="siret")
        siret = validate_siret(siret)
        require(actor, Action.HISTORY_VIEW, Target(structure=siret))
        return Reach(siret)
    wanted = siret or actor.structure
    service = actor.service if actor.type is ActorType.RESPONSABLE else None
    require(actor, Action.HISTORY_VIEW, Target(structure=wanted, service=actor.service))
    assert wanted is not None
    return Reach(wanted, service)


def _store(rt: Runtime) -> EventStore:
    return EventStore(rt.directory, rt.layout)


def page(
    rt: Runtime,
    actor: Actor,
    criteria: Criteria,
    *,
    older_than: str | None = None,
    newer_than: str | None = None,
    size: int = PAGE_SIZE,
) -> Page:
    where = reach(actor)
    now = rt.clock()
    oldest = now - timedelta(days=rt.settings.policy.journal_retention_days + 1)
    return _store(rt).page(where.siret, where.service, criteria, size=size, now=now,
                           oldest=oldest, older_than=older_than, newer_than=newer_than)  # fmt: skip


def events(
    rt: Runtime, actor: Actor, criteria: Criteria, *, siret: str | None = None,
    limit: int = EXPORT_LIMIT,
) -> tuple[list[Event], bool]:  # fmt: skip
    """Every event of the reach matching `criteria`, newest first (a CSV, the CLI), and
    whether `limit` cut the list."""
    where = reach(actor, siret)
    if siret:  # a SIRET named by hand (a former one, after a move): not found, not empty
        Repository(rt.directory, rt.layout).structure(where.siret)
    return _store(rt).all(where.siret, where.service, criteria, limit=limit)


def purge(rt: Runtime, *, now: datetime | None = None) -> int:
    """Delete the events older than `policy.journal_retention_days`; how many."""
    moment = now or rt.clock()
    keep = timedelta(days=rt.settings.policy.journal_retention_days)
    return _store(rt).purge(moment - keep)
