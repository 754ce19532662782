"""The access review's rules (issue 21 item 10): due dates, reminders, overdue, pending,
the page's answers — without any server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from apexdir.errors import Invalid, NotAllowed
from apexdir.rules import review as r
from apexdir.rules.permissions import Action, Actor, ActorType, Target, is_allowed, require

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def day(n: float) -> datetime:
    return T0 + timedelta(days=n)


def test_first_review_is_due_a_year_after_the_structure_was_created() -> None:
    """No review yet: the creation's anniversary; then the previous opening's."""
    kw = {"last_opened": None, "last_active": False, "created": T0, "interval_days": 365}
    assert not r.is_due(day(364), **kw)
    assert r.is_due(day(365), **kw)
    after = {**kw, "last_opened": day(365)}
    assert not r.is_due(day(700), **after)
    assert r.is_due(day(730), **after)


def test_an_active_review_is_never_doubled_and_unknown_creation_waits() -> None:
    """One open or overdue: no second; no review and no creation time: nothing."""
    assert not r.is_due(day(900), last_opened=T0, last_active=True, created=None,
                        interval_days=365)  # fmt: skip
    assert not r.is_due(day(900), last_opened=None, last_active=False, created=None,
                        interval_days=365)  # fmt: skip


def test_reminders_go_on_days_0_14_25_once_each() -> None:
    """Each day once; a daemon stopped across two days sends the latest only."""
    assert r.reminder_due(T0, day(0), set(), 30) == 0
    assert r.reminder_due(T0, day(1), {0}, 30) is None
    assert r.reminder_due(T0, day(14), {0}, 30) == 14
    assert r.reminder_due(T0, day(20), {0, 14}, 30) is None
    assert r.reminder_due(T0, day(26), {0}, 30) == 25  # 14 missed: one mail, not two
    assert r.reminder_due(T0, day(27), {0, 25}, 30) is None
    assert r.reminder_days(20) == (0, 14)  # a shorter review keeps the days within it


def test_overdue_after_the_review_days() -> None:
    assert not r.is_overdue(T0, day(29.9), 30)
    assert r.is_overdue(T0, day(30), 30)
    assert r.deadline(T0, 30) == day(30)
    assert r.days_left(T0, day(10), 30) == 20
    assert r.days_left(T0, day(31), 30) == 0


def test_pending_is_held_and_not_confirmed() -> None:
    """A confirmed pair is done; withdrawn ones are no longer held; case of uid ignored."""
    held = [r.Pair("b.b-px", "APP/X"), r.Pair("a.a-px", "APP/Y"), r.Pair("a.a-px", "APP/X")]
    left = r.pending(held, [("A.A-px", "APP/X")])
    assert left == [r.Pair("a.a-px", "APP/Y"), r.Pair("b.b-px", "APP/X")]


def test_the_pages_answers_are_parsed_strictly() -> None:
    """« confirmer » / « retirer » per habilitation; empty means undecided; others refused."""
    got = r.parse_choices([("csrf_token", "x"), ("d:a.a-px|APP/X", "confirmer"),
                           ("d:B.b-px|APP/Y", "retirer"), ("d:c.c-px|APP/Z", "")])  # fmt: skip
    assert got == {r.Pair("a.a-px", "APP/X"): r.CONFIRMED, r.Pair("b.b-px", "APP/Y"): r.WITHDRAWN}
    for bad in [("d:a.a-px|APP/X", "oui"), ("d:a.a-px", "confirmer"), ("d:|APP/X", "retirer")]:
        with pytest.raises(Invalid):
            r.parse_choices([bad])


def test_only_administrateurs_and_agents_review() -> None:
    """The permission table: an administrateur his own structure, an agent any."""
    target = Target(structure="73282932000074")
    admin = Actor(ActorType.ADMINISTRATEUR, "a-px", "73282932000074")
    assert is_allowed(admin, Action.REVIEW, target)
    assert is_allowed(Actor(ActorType.AGENT), Action.REVIEW, target)
    other = Actor(ActorType.ADMINISTRATEUR, "o-px", "35600000000048")
    assert not is_allowed(other, Action.REVIEW, target)
    for kind in (ActorType.RESPONSABLE, ActorType.COLLABORATEUR):
        with pytest.raises(NotAllowed):
            require(Actor(kind, "x-px", "73282932000074", "s1"), Action.REVIEW, target)
