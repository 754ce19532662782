"""What the directory jobs share: a runtime per pass, notices sent once, local commits.

A directory job runs in a thread of the daemon (its LDAP calls block) or in the CLI's
`daemon run-once`, with a runtime of its own: SQLite connections belong to one thread.

"Sent once" across the directory and the local spool: the job first marks the entry in the
directory with a compare-and-swap (`apexNotice` value added, or an exact value swapped), so a
second pass or a second process finds the mark and skips; then it queues the mails and
journals in one local SQLite transaction. If that local step fails, the mark is taken back
(best effort) so that the next pass tries again. Only a crash between the two steps can lose
a notice — a window of one local insert.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from apexdir.clock import Clock
from apexdir.config import Settings
from apexdir.errors import ApexError, Conflict
from apexdir.runtime import Runtime

log = logging.getLogger("apexdir.daemon")

Stop = Callable[[], bool]
Job = Callable[..., dict[str, Any]]


def never() -> bool:
    return False


def one_pass(
    settings: Settings, clock: Clock, job: Job, stop: Stop | None = None
) -> dict[str, Any]:
    """Run `job(rt, stop=…)` with a runtime opened for this pass and closed after it."""
    rt = Runtime(settings, clock=clock)
    try:
        return job(rt, stop=stop or never)
    finally:
        rt.close()


@dataclass
class Mail:
    template: str
    to: list[str]
    context: dict[str, Any] = field(default_factory=dict)


@dataclass
class Record:
    action: str
    target: str | None
    details: dict[str, Any] | None = None


def commit(
    rt: Runtime,
    mails: Iterable[Mail],
    records: Iterable[Record],
    *,
    also: Callable[[], None] | None = None,
) -> None:
    """Queue `mails` and journal `records` in one local transaction (all or nothing).

    Rendering happens first, outside the transaction, so the write lock is held only for
    the inserts. `also` runs inside the transaction (e.g. to move a job cursor).
    """
    from apexdir.mail.render import priority, render
    from apexdir.state.db import guarded, immediate

    rendered = [(m.to, render(m.template, **m.context), priority(m.template)) for m in mails]
    with guarded(rt.db, "queue the job's mails"), immediate(rt.db):
        for to, mail, rank in rendered:
            rt.outbox.enqueue_mail(to, mail.subject, mail.text, mail.html, rank)
        for record in records:
            rt.journal.record(
                record.action,
                record.target,
                actor=None,
                operator=rt.operator,
                details=record.details,
            )
        if also is not None:
            also()


def swap(rt: Runtime, dn: str, changes: dict[str, list[tuple[str, list[Any]]]]) -> bool:
    """A compare-and-swap modify: False when another writer changed the entry meanwhile."""
    try:
        rt.directory.modify(dn, changes)
    except Conflict:
        return False
    return True


def undo(rt: Runtime, dn: str, changes: dict[str, list[tuple[str, list[Any]]]]) -> None:
    """Best-effort reversal of a mark whose local step failed (logged, never raised)."""
    try:
        rt.directory.modify(dn, changes)
    except ApexError as exc:
        log.warning("could not take back the mark on %s: %s", dn, exc)


def mark_then_commit(
    rt: Runtime,
    dn: str,
    mark: dict[str, list[tuple[str, list[Any]]]],
    unmark: dict[str, list[tuple[str, list[Any]]]],
    mails: list[Mail],
    records: list[Record],
) -> bool:
    """Mark the entry, then queue and journal; False if the mark was already there."""
    if not swap(rt, dn, mark):
        return False
    try:
        commit(rt, mails, records)
    except BaseException:
        undo(rt, dn, unmark)
        raise
    return True


def text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)


def summary(result: dict[str, Any]) -> str:
    return ", ".join(f"{key}={value}" for key, value in result.items()) or "nothing to do"
