"""What an expiry pass asks slapd for: the whole window, or only the threshold crossings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from apexdir.rules.expiry import crossed, cursor_of, due, scan_ranges, window

NOW = datetime(2026, 12, 1, 6, 0, tzinfo=UTC)
AGE = timedelta(days=90)
LEVELS = [15, 7, 1]
DAY = timedelta(days=1)


def test_without_a_cursor_the_whole_window_is_read() -> None:
    assert scan_ranges(NOW, AGE, LEVELS, None) == [window(NOW, AGE, LEVELS)]
    assert scan_ranges(NOW, AGE, LEVELS, "not json") == [window(NOW, AGE, LEVELS)]


def test_a_daily_pass_reads_one_day_per_threshold() -> None:
    """Expiry and the 1-day level are a day apart: their ranges touch and are merged."""
    ranges = scan_ranges(NOW, AGE, LEVELS, cursor_of(NOW - DAY, AGE, LEVELS))
    assert [(end - start) for start, end in ranges] == [2 * DAY, DAY, DAY]
    assert [end for _, end in ranges] == [NOW - AGE + t * DAY for t in (1, 7, 15)]


def test_another_policy_or_a_clock_gone_back_reads_the_whole_window() -> None:
    whole = [window(NOW, AGE, LEVELS)]
    assert scan_ranges(NOW, AGE, LEVELS, cursor_of(NOW - DAY, AGE * 2, LEVELS)) == whole
    assert scan_ranges(NOW, AGE, LEVELS, cursor_of(NOW - DAY, AGE, [30, 7])) == whole
    assert scan_ranges(NOW, AGE, LEVELS, cursor_of(NOW + DAY, AGE, LEVELS)) == whole


def test_a_long_gap_merges_into_the_window_and_never_beyond_it() -> None:
    low, high = window(NOW, AGE, LEVELS)
    assert crossed(NOW, AGE, LEVELS, NOW - 60 * DAY) == [(low, high)]
    for start, end in crossed(NOW, AGE, LEVELS, NOW - 3 * DAY):
        assert low <= start <= end <= high


def test_every_account_owing_a_notice_now_but_not_at_the_last_pass_is_in_a_range() -> None:
    """Each hour of a 40-day span of password changes, passes every 6 hours: what is owed
    at a pass and was not owed (or was another notice) at the previous one is read."""
    last = NOW - timedelta(hours=6)
    ranges = crossed(NOW, AGE, LEVELS, last)
    changed = NOW - AGE - 16 * DAY
    while changed < NOW - AGE + 20 * DAY:
        stamp = changed.strftime("%Y%m%d%H%M%SZ")
        before, after = due(stamp, last, AGE, LEVELS), due(stamp, NOW, AGE, LEVELS)
        new = after is not None and (before is None or before.notice != after.notice)
        inside = any(start <= changed <= end for start, end in ranges)
        assert not new or inside, stamp
        changed += timedelta(hours=1)
