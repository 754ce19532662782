"""What the scheduled workflows share: mails and journal rows in one local commit, and
notices sent once across the directory and the spool.

"Sent once": the workflow first marks the entry in the directory with a compare-and-swap
(`apexdir.directory.notices.Marking`: a notice added, or an exact value swapped), so a second
pass or a second process finds the mark and skips; then it queues the mails and journals
in one local SQLite transaction. If that local step fails, the mark is taken back (best
effort) so that the next pass tries again. Only a crash between the two steps can lose a
notice — a window of one local insert.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from apexdir.directory.notices import Marking
from apexdir.errors import ApexError
from apexdir.runtime import Runtime
from apexdir.workflows.notify import Mail

log = logging.getLogger("apexdir.daemon")

Stop = Callable[[], bool]


def never() -> bool:
    return False


@dataclass
class Record:
    """A journal row, written by `commit` with the runtime's operator and no actor."""

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


def undo(rt: Runtime, marking: Marking) -> None:
    """Best-effort reversal of a mark whose local step failed (logged, never raised)."""
    try:
        marking.take_back(rt.directory)
    except ApexError as exc:
        log.warning("could not take back the mark on %s: %s", marking.dn, exc)


def mark_then_commit(
    rt: Runtime,
    marking: Marking,
    mails: list[Mail],
    records: list[Record],
) -> bool:
    """Mark the entry, then queue and journal; False if the mark was already there."""
    if not marking.apply(rt.directory):
        return False
    try:
        commit(rt, mails, records)
    except BaseException:
        undo(rt, marking)
        raise
    return True


def text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)
