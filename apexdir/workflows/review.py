"""The yearly review of a structure's habilitations (issue 21 item 10), as actors see it:
an administrateur reads what his structure's responsables and collaborateurs hold and
confirms or withdraws each habilitation (`sheet`, `decide`); an agent opens a review early
(`open_review`) and reads the overdue ones (`overdue`). What the daemon does (opening,
reminders, overdue, automatic withdrawal) is in `workflows/review_jobs.py`; the dates and
what is pending are rules (`rules/review.py`); the campaigns live in the directory
(`directory/reviews.py`), so every node of the portal reads the same one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from apexdir.directory.repository import Repository
from apexdir.directory.reviews import ReviewStore
from apexdir.errors import Conflict, Invalid
from apexdir.models import Account, Decision, Review, ReviewDecision, Structure
from apexdir.rules import review as r
from apexdir.rules.history import actor_value
from apexdir.rules.permissions import Action, Actor, ActorType, Target, require
from apexdir.rules.siret import validate_siret
from apexdir.runtime import Runtime
from apexdir.workflows import rights
from apexdir.workflows.actors import history_of


@dataclass
class Item:
    """One habilitation of an account under review: its decision in this review (None:
    pending)."""

    habilitation: str
    decision: Decision | None = None


@dataclass
class Row:
    account: Account
    items: list[Item] = field(default_factory=list)


@dataclass
class Sheet:
    """A structure's active review as its page shows it: account by account."""

    review: Review
    structure: Structure
    rows: list[Row]
    pending: int
    deadline: datetime


@dataclass
class Outcome:
    confirmed: int
    withdrawn: int
    remaining: int
    completed: bool


def store(rt: Runtime) -> ReviewStore:
    return ReviewStore(rt.directory, rt.layout)


def _siret(actor: Actor, siret: str | None) -> str:
    """The structure reviewed: an administrateur's own; an agent names one."""
    if actor.type is ActorType.AGENT:
        if not siret:
            raise Invalid(code="structure.siret_required", field="siret")
        siret = validate_siret(siret)
    wanted = siret or actor.structure
    require(actor, Action.REVIEW, Target(structure=wanted))
    assert wanted is not None
    return wanted


def reviewed_accounts(rt: Runtime, siret: str) -> tuple[list[Account], list[Account]]:
    """The structure's accounts whose habilitations are reviewed, and its administrateurs:
    one search."""
    accounts = Repository(rt.directory, rt.layout).accounts(siret=siret)
    reviewed = [a for a in accounts if a.type in r.REVIEWED_TYPES]
    admins = [a for a in accounts if a.type == "administrateur"]
    return reviewed, admins


def held(accounts: list[Account]) -> list[r.Pair]:
    return [r.Pair(a.identifier, h) for a in accounts for h in a.habilitations]


def confirmed(review: Review) -> list[tuple[str, str]]:
    return [k for k, d in review.decided().items() if d.decision == r.CONFIRMED]


def active_review(rt: Runtime, siret: str) -> Review | None:
    found = [x for x in store(rt).of_structure(siret) if x.active]
    return found[-1] if found else None


def is_open(rt: Runtime, actor: Actor) -> bool:
    """Whether the administrateur's structure has a review open (the menu, the home page)."""
    if actor.type is not ActorType.ADMINISTRATEUR or not actor.structure:
        return False
    return active_review(rt, actor.structure) is not None


def sheet(rt: Runtime, actor: Actor, siret: str | None = None) -> Sheet | None:
    """The active review of the actor's structure (an agent names one), account by
    account; None when no review is open."""
    siret = _siret(actor, siret)
    review = active_review(rt, siret)
    if review is None:
        return None
    structure = Repository(rt.directory, rt.layout).structure(siret)
    accounts, _ = reviewed_accounts(rt, siret)
    decided = review.decided()
    rows = []
    for account in accounts:
        if not account.habilitations:
            continue
        items = []
        for key in sorted(account.habilitations):
            d = decided.get((account.identifier.lower(), key))
            items.append(Item(key, d.decision if d and d.decision == r.CONFIRMED else None))
        rows.append(Row(account, items))
    left = r.pending(held(accounts), confirmed(review))
    deadline = r.deadline(review.opened_at, rt.settings.policy.review_days)
    return Sheet(review, structure, rows, len(left), deadline)


def decide(
    rt: Runtime, actor: Actor, choices: dict[r.Pair, Decision], siret: str | None = None
) -> Outcome:
    """Confirm or withdraw habilitations of the active review. Everything is checked
    before the first write: each pair must be held now by a reviewed account of the
    structure. A withdrawal is `rights.revoke` (its holder is mailed, it is journaled);
    a confirmation is journaled (`review.confirm`); confirming again what is confirmed
    does nothing. When nothing is left pending, the review is completed."""
    siret = _siret(actor, siret)
    if not choices:
        raise Invalid(code="review.nothing_chosen")
    review = active_review(rt, siret)
    if review is None:
        raise Conflict(code="review.none")
    accounts, _ = reviewed_accounts(rt, siret)
    by_id = _check(accounts, choices)
    done = set(confirmed(review))
    decisions: list[ReviewDecision] = []
    try:
        for pair, decision in sorted(choices.items(), key=_order):
            if decision == r.CONFIRMED and (pair.identifier.lower(), pair.habilitation) in done:
                continue
            account = by_id[pair.identifier.lower()]
            _apply(rt, actor, review, account, pair.habilitation, decision)
            decisions.append(ReviewDecision(account.identifier, pair.habilitation, decision,
                                            actor_value(actor.identifier, rt.operator),
                                            rt.clock()))  # fmt: skip
    finally:  # what was done is recorded, even when a later withdrawal failed
        store(rt).add_decisions(review, decisions)
    remaining = len(r.pending(held(accounts), confirmed(review)))
    completed = remaining == 0 and complete(rt, review, actor)
    withdrawn = sum(1 for d in decisions if d.decision == r.WITHDRAWN)
    return Outcome(len(decisions) - withdrawn, withdrawn, remaining, completed)


def _check(accounts: list[Account], choices: dict[r.Pair, Decision]) -> dict[str, Account]:
    """The reviewed accounts by identifier; refused unless each pair is held by one."""
    by_id = {a.identifier.lower(): a for a in accounts}
    for pair in choices:
        account = by_id.get(pair.identifier.lower())
        if account is None or pair.habilitation not in account.habilitations:
            raise Conflict(
                code="review.not_pending",
                params={"identifier": pair.identifier, "profile": pair.habilitation},
            )
    return by_id


def _apply(
    rt: Runtime, actor: Actor, review: Review, account: Account, key: str, decision: Decision
) -> None:
    app, profile = key.split("/", 1)
    if decision == r.WITHDRAWN:
        rights.revoke(rt, actor, account.identifier, app, profile, details={"review": review.id})
        account.habilitations.remove(key)
        return
    rt.journal.record("review.confirm", account.identifier, actor=actor.identifier,
                      operator=rt.operator, details={"profile": key, "review": review.id},
                      **history_of(account))  # fmt: skip


def _order(choice: tuple[r.Pair, Decision]) -> tuple[str, str]:
    return choice[0].identifier, choice[0].habilitation


def complete(rt: Runtime, review: Review, actor: Actor | None) -> bool:
    """Mark the review completed (once, whichever node is first) and journal it."""
    if not store(rt).swap_status(review, r.COMPLETED, closed_at=rt.clock()):
        return False
    rt.journal.record(
        "review.complete",
        review.siret,
        actor=actor.identifier if actor else None,
        operator=rt.operator,
        details={"review": review.id},
        structure=review.siret,
    )
    return True


def open_review(
    rt: Runtime, actor: Actor, siret: str, *, now: datetime | None = None, due: bool = False
) -> Review:
    """Open a review of structure `siret` now (an agent, or the daemon when due). Refused
    while one is open or overdue, and for a closed structure. A structure with nothing to
    review gets a review completed at once (the yearly rhythm is kept)."""
    siret = validate_siret(siret)
    require(actor, Action.REVIEW_OPEN, Target(structure=siret))
    structure = Repository(rt.directory, rt.layout).structure(siret)
    if structure.closed:
        raise Conflict(code="review.closed_structure", params={"siret": siret})
    if active_review(rt, siret) is not None:
        raise Conflict(code="review.already_active", params={"siret": siret})
    moment = now or rt.clock()
    accounts, _ = reviewed_accounts(rt, siret)
    empty = not held(accounts)
    review = Review(
        id=r.new_review_id(siret, moment),
        dn="",
        siret=siret,
        status=r.COMPLETED if empty else r.OPEN,
        opened_at=moment,
        closed_at=moment if empty else None,
        opened_by=actor_value(actor.identifier, rt.operator),
    )
    store(rt).add(review)
    if empty and due:  # nothing to review: no event in the structure's history
        return review
    rt.journal.record(
        "review.due" if due else "review.open",
        siret,
        actor=actor.identifier,
        operator=rt.operator,
        details={"review": review.id, "pending": len(held(accounts))},
        structure=siret,
    )
    return review


@dataclass
class Overdue:
    """A review past its deadline and what it left unconfirmed."""

    review: Review
    structure: Structure
    deadline: datetime
    pending: list[r.Pair]

    def public(self) -> dict[str, object]:
        return {
            "siret": self.structure.siret,
            "name": self.structure.name,
            "review": self.review.id,
            "status": self.review.status,
            "opened_at": self.review.opened_at.isoformat(),
            "deadline": self.deadline.isoformat(),
            "pending": [
                {"identifier": p.identifier, "habilitation": p.habilitation} for p in self.pending
            ],
        }


def overdue(rt: Runtime, actor: Actor) -> list[Overdue]:
    """The reviews past their deadline, still not finished, with their unconfirmed
    habilitations: every structure for an agent, his own for an administrateur."""
    require(actor, Action.REVIEW, Target(structure=actor.structure))
    now = rt.clock()
    days = rt.settings.policy.review_days
    repo = Repository(rt.directory, rt.layout)
    out = []
    for review in store(rt).active():
        if actor.type is not ActorType.AGENT and review.siret != actor.structure:
            continue
        if not r.is_overdue(review.opened_at, now, days):
            continue
        accounts, _ = reviewed_accounts(rt, review.siret)
        left = r.pending(held(accounts), confirmed(review))
        out.append(
            Overdue(review, repo.structure(review.siret), r.deadline(review.opened_at, days), left)
        )
    return sorted(out, key=lambda o: o.deadline)
