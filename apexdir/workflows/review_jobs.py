"""What the daemon does for the access reviews (issue 21 item 10), one function a step, each
safe to run on any node and twice: open the reviews that are due, mail the reminders to the
administrateurs (days 0, 14, 25), and when a review is overdue report it to the agents
(their mailbox `daemon.agents_mail`, the journal, `apexdir review overdue`) and, with
`policy.review_auto_revoke`, withdraw what is left unconfirmed and close it.

"Sent once": the review entry is marked first with a compare-and-swap (a reminder day
added, a status swapped), then the mail is queued; if queuing fails the mark is taken back.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from apexdir.directory.repository import Repository
from apexdir.errors import ApexError, Conflict
from apexdir.models import Review, StructureStatus
from apexdir.rules import review as r
from apexdir.runtime import Runtime
from apexdir.workflows import rights
from apexdir.workflows.actors import AGENT
from apexdir.workflows.notify import queue_mail
from apexdir.workflows.review import (
    confirmed,
    held,
    open_review,
    reviewed_accounts,
    store,
)

log = logging.getLogger("apexdir.daemon")
PAGE = "structure/revue"


def _day(moment: datetime) -> str:
    return moment.astimezone(ZoneInfo("Europe/Paris")).strftime("%d/%m/%Y")


Structures = list[tuple[str, StructureStatus, datetime | None]]


def open_due(rt: Runtime, stop: Callable[[], bool], structures: Structures | None = None) -> int:
    """Open a review for each open structure whose review is due: two searches for all
    the structures (their creation times, every latest review), then one write each."""
    now = rt.clock()
    latest = store(rt).latest()
    opened = 0
    for siret, status, created in structures or store(rt).structures():
        if stop():
            break
        last = latest.get(siret)
        if status == StructureStatus.CLOSED or not r.is_due(
            now,
            last_opened=last.opened_at if last else None,
            last_active=bool(last and last.active),
            created=created,
            interval_days=rt.settings.policy.review_interval_days,
        ):
            continue
        try:
            open_review(rt, AGENT, siret, now=now, due=True)
        except Conflict:  # another node opened it meanwhile, or it closed
            continue
        opened += 1
    return opened


def remind(rt: Runtime, review: Review, now: datetime) -> bool:
    """Mail the structure's administrateurs if a reminder day is reached; once."""
    days = rt.settings.policy.review_days
    day = r.reminder_due(review.opened_at, now, review.reminders, days)
    if day is None or review.status != r.OPEN:
        return False
    accounts, admins = reviewed_accounts(rt, review.siret)
    left = r.pending(held(accounts), confirmed(review))
    to = [a.mail for a in admins if a.status == "active" and a.mail]
    if not left or not to or not store(rt).mark_reminder(review, day):
        return False
    structure = Repository(rt.directory, rt.layout).structure(review.siret)
    link = f"{rt.settings.portal.base_url.rstrip('/')}/{PAGE}"
    try:
        queue_mail(
            rt,
            "review_reminder",
            to,
            structure=structure.name,
            siret=review.siret,
            count=len(left),
            date_limite=_day(r.deadline(review.opened_at, days)),
            lien=link,
            premier=day == 0,
        )
    except Exception:
        store(rt).unmark_reminder(review, day)
        raise
    return True


def report_overdue(rt: Runtime, review: Review, now: datetime) -> str | None:
    """An open review past its deadline becomes overdue, is reported to the agents and,
    with `policy.review_auto_revoke`, its unconfirmed habilitations are withdrawn and it
    is closed. Returns what was done: "overdue", "closed" or None."""
    policy = rt.settings.policy
    if not r.is_overdue(review.opened_at, now, policy.review_days):
        return None
    done = None
    if review.status == r.OPEN:
        if not store(rt).swap_status(review, r.OVERDUE):
            return None
        done = r.OVERDUE
        _report(rt, review)
    if policy.review_auto_revoke and review.status == r.OVERDUE:
        withdraw_unconfirmed(rt, review)
        if store(rt).swap_status(review, r.CLOSED, closed_at=now):
            done = r.CLOSED
    return done


def _report(rt: Runtime, review: Review) -> None:
    accounts, _ = reviewed_accounts(rt, review.siret)
    left = r.pending(held(accounts), confirmed(review))
    deadline = r.deadline(review.opened_at, rt.settings.policy.review_days)
    rt.journal.record(
        "review.overdue",
        review.siret,
        actor=None,
        operator=rt.operator,
        details={"review": review.id, "pending": len(left)},
        structure=review.siret,
    )
    mailbox = rt.settings.daemon.agents_mail
    if mailbox and left:
        structure = Repository(rt.directory, rt.layout).structure(review.siret)
        queue_mail(
            rt,
            "review_overdue",
            [mailbox],
            structure=structure.name,
            siret=review.siret,
            count=len(left),
            date_limite=_day(deadline),
            retrait=rt.settings.policy.review_auto_revoke,
        )
    log.warning("review of %s overdue: %d habilitation(s) unconfirmed", review.siret, len(left))


def withdraw_unconfirmed(rt: Runtime, review: Review) -> int:
    """Withdraw each habilitation still unconfirmed (holders mailed by `rights.revoke`,
    journaled as `review.auto-revoke`); one that went meanwhile is skipped."""
    accounts, _ = reviewed_accounts(rt, review.siret)
    count = 0
    for pair in r.pending(held(accounts), confirmed(review)):
        app, profile = pair.habilitation.split("/", 1)
        try:
            rights.revoke(
                rt,
                AGENT,
                pair.identifier,
                app,
                profile,
                action="review.auto-revoke",
                details={"review": review.id},
            )
        except Conflict:
            continue
        except ApexError as exc:
            log.error(
                "review of %s: could not withdraw %s from %s: %s",
                review.siret,
                pair.habilitation,
                pair.identifier,
                exc,
            )
            continue
        count += 1
    return count


def run(rt: Runtime, stop: Callable[[], bool]) -> dict[str, int]:
    """One pass: open what is due, then remind and report on every active review (three
    searches whatever the number of structures; then only the reviews that act read more)."""
    structures = store(rt).structures()
    counts = {"opened": open_due(rt, stop, structures), "reminded": 0, "overdue": 0, "closed": 0}
    closed = {siret for siret, status, _ in structures if status == "closed"}
    now = rt.clock()
    for review in store(rt).active():
        if stop():
            break
        if review.siret in closed:  # a closed structure's review waits for its reopening
            continue
        done = report_overdue(rt, review, now)
        if done is not None:
            counts[done] += 1
            continue
        if remind(rt, review, now):
            counts["reminded"] += 1
    counts["purged"] = purge(rt, now)
    return counts


def purge(rt: Runtime, now: datetime) -> int:
    """Delete the reviews finished more than `policy.journal_retention_days` ago (their
    decisions are in the history, kept as long), except each structure's latest: the next
    one is due from it."""
    cut = now - timedelta(days=rt.settings.policy.journal_retention_days)
    old = store(rt).finished_before(cut)
    if not old:
        return 0
    latest = {x.id for x in store(rt).latest().values()}
    doomed = [x for x in old if x.id not in latest]
    for review in doomed:
        store(rt).delete(review)
    return len(doomed)
