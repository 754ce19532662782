"""The arithmetic of dormant accounts (issue 21 item 7): activity, warning, suspension."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from apexdir.rules import dormancy as d

NOW = datetime(2027, 3, 1, 6, 0, tzinfo=UTC)
POLICY = d.Policy(days=365, lead_days=30)
DAY = timedelta(days=1)


def test_activity_is_the_latest_of_login_creation_and_reactivation() -> None:
    created = NOW - 800 * DAY
    login = NOW - 400 * DAY
    back = d.Mark(d.REACTIVATED, NOW - 10 * DAY)
    assert d.activity(None, created, None) == created  # never logged in: from creation
    assert d.activity(login, created, None) == login
    assert d.activity(login, created, back) == back.at
    warned = d.Mark(d.WARNED, login, NOW)
    assert d.activity(login, created, warned) == login  # a warning is no sign of life
    assert d.activity(None, None, None) is None


def test_nothing_is_owed_before_the_warning_lead() -> None:
    assert d.due(NOW - 300 * DAY, None, NOW, POLICY) is None
    assert d.due(NOW - (335 * DAY - timedelta(seconds=1)), None, NOW, POLICY) is None


def test_warning_thirty_days_before_with_the_deadline_kept_in_the_mail() -> None:
    since = NOW - 335 * DAY
    assert d.due(since, None, NOW, POLICY) == d.Due(d.WARN, since + 365 * DAY)


def test_a_late_first_warning_still_leaves_the_whole_lead() -> None:
    """Dormant for years (a first run, a daemon stopped): warned, suspended 30 days later."""
    assert d.due(NOW - 900 * DAY, None, NOW, POLICY) == d.Due(d.WARN, NOW + 30 * DAY)


def test_suspension_only_at_the_deadline_of_the_warning_for_this_inactivity() -> None:
    since = NOW - 340 * DAY
    mark = d.parse(d.Mark(d.WARNED, since, NOW + 25 * DAY).format())
    assert mark is not None
    assert d.due(since, mark, NOW, POLICY) is None  # warned, waiting
    assert d.due(since, mark, NOW + 25 * DAY, POLICY) == d.Due(d.SUSPEND, NOW + 25 * DAY)


def test_a_login_after_the_warning_cancels_the_suspension() -> None:
    since = NOW - 340 * DAY
    mark = d.Mark(d.WARNED, since, NOW + 25 * DAY)
    login = NOW - 2 * DAY
    assert d.due(login, mark, NOW + 25 * DAY, POLICY) == d.Due(d.CLEAR)


def test_a_stale_warning_is_cleared_then_given_anew_when_dormant_again() -> None:
    old = d.Mark(d.WARNED, NOW - 800 * DAY, NOW - 400 * DAY)
    since = NOW - 335 * DAY
    assert d.due(since, old, NOW, POLICY) == d.Due(d.CLEAR)
    assert d.due(since, None, NOW, POLICY) == d.Due(d.WARN, since + 365 * DAY)
    # Found 5 days late: the deadline keeps the whole lead after the warning.
    assert d.due(since - 5 * DAY, None, NOW, POLICY) == d.Due(d.WARN, NOW + 30 * DAY)


def test_zero_days_disables_and_marks_round_trip() -> None:
    assert d.due(NOW - 900 * DAY, None, NOW, d.Policy(days=0)) is None
    assert not d.Policy(days=0).enabled
    for mark in (d.Mark(d.SUSPENDED, NOW), d.Mark(d.REACTIVATED, NOW)):
        assert d.parse(mark.format()) == mark
    assert d.Mark(d.WARNED, NOW, NOW + DAY).format() == "warned:20270301060000Z:20270302060000Z"
    assert d.parse("warned:junk") is None
    assert d.parse("other:20270301060000Z") is None
    assert d.parse(None) is None


def test_the_search_bound_is_the_warning_moment() -> None:
    assert d.threshold(NOW, POLICY) == NOW - 335 * DAY
    assert d.Policy(days=10, lead_days=30).lead == 10 * DAY  # never longer than the delay
