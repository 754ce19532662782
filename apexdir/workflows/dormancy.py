"""Dormant accounts (SPEC §10, issue 21 item 7): what the daemon's pass does to each.

`owed` reads, in one search, the active accounts that may owe a step and asks the rule
(`apexdir.rules.dormancy`) which one; `apply` takes it:
- **warn**: the mark `warned:<activity>:<deadline>` is swapped in first (compare-and-swap:
  a second pass or a second daemon finds it and does nothing), then the person is mailed
  « Suspension prochaine de votre compte pour inactivité » with the deadline the daemon
  will keep, and the warning is journaled in the structure's history;
- **suspend**: at the deadline, the account is suspended as an administrateur would
  (`suspension.suspend_for_inactivity`: slapd's lock, sessions ended, mail, history);
- **clear**: a login since the warning moved the account's activity: the warning's mark
  goes, and with it the pending suspension (journaled on the node only).

Administrateurs are not mailed: the warning goes to the only person who can prevent the
suspension by logging in, and the structure's « Historique » shows both the warning and the
suspension, which the administrateur lifts from `/comptes/<id>` or `account reactivate`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from apexdir.config import Settings
from apexdir.directory import dormancy as marks
from apexdir.rules import dormancy as rule
from apexdir.runtime import Runtime
from apexdir.workflows.actors import history_of
from apexdir.workflows.notify import queue_mail_or_undo
from apexdir.workflows.suspension import suspend_for_inactivity

WARNED, SUSPENDED, CANCELLED = "warned", "suspended", "cancelled"
ALREADY, KEPT = "already_done", "kept_last_administrator"
OUTCOMES = (WARNED, SUSPENDED, CANCELLED, ALREADY, KEPT)


def policy_of(settings: Settings) -> rule.Policy:
    return rule.Policy(settings.policy.dormant_days, settings.policy.dormant_warning_days)


@dataclass(frozen=True)
class Step:
    """What one account owes now."""

    candidate: marks.Candidate
    since: datetime
    due: rule.Due


def owed(rt: Runtime) -> list[Step]:
    """Every step owed now, from one search (nothing when the policy is disabled)."""
    policy = policy_of(rt.settings)
    if not policy.enabled:
        return []
    now = rt.clock()
    steps = []
    for found in marks.candidates(rt.directory, rt.layout, rule.threshold(now, policy)):
        mark = rule.parse(found.mark)
        since = rule.activity(found.account.last_login, found.created, mark)
        due = rule.due(since, mark, now, policy)
        if due is not None and since is not None:
            steps.append(Step(found, since, due))
    return steps


def never_used(step: Step) -> bool:
    """Whether the inactivity runs from the account's creation (no login ever)."""
    return step.candidate.account.last_login is None and step.since == step.candidate.created


def apply(rt: Runtime, step: Step) -> str:
    """Take one step; the outcome is one of `OUTCOMES`."""
    found, due = step.candidate, step.due
    account = found.account
    if due.kind == rule.SUSPEND:
        outcome = suspend_for_inactivity(
            rt, account, since=step.since, warned=found.mark, never_used=never_used(step)
        )
        return {"suspended": SUSPENDED, "last_administrator": KEPT}.get(outcome, ALREADY)
    if due.kind == rule.CLEAR:
        if not marks.swap_mark(rt.directory, account.dn, found.mark, None):
            return ALREADY
        since = {"since": step.since.isoformat()}
        rt.journal.record("account.dormant-cancel", account.identifier, actor=None,
                          operator=rt.operator, details=since)  # fmt: skip
        return CANCELLED
    assert due.deadline is not None
    new = rule.Mark(rule.WARNED, step.since, due.deadline).format()
    if not marks.swap_mark(rt.directory, account.dn, found.mark, new):
        return ALREADY
    queue_mail_or_undo(
        rt,
        lambda: marks.swap_mark(rt.directory, account.dn, new, found.mark),
        "dormancy_warning",
        [account.mail],
        identifiant=account.identifier,
        depuis=step.since,
        jamais_utilise=never_used(step),
        date_suspension=due.deadline,
    )
    rt.journal.record(
        "account.dormant-warning",
        account.identifier,
        actor=None,
        operator=rt.operator,
        details={"since": step.since.isoformat(), "deadline": due.deadline.isoformat()},
        **history_of(account),
    )
    return WARNED
