"""The arithmetic of the login guard's growing delays (apexdir.rules.throttle)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from apexdir.rules.throttle import Series, delay, source_key, wait

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
SERIES = Series("s", free=3, base=1, cap=900)


def test_free_failures_then_doubling_up_to_the_cap() -> None:
    assert [delay(SERIES, n) for n in range(7)] == [0, 0, 0, 1, 2, 4, 8]
    assert delay(SERIES, 40) == 900


def test_wait_counts_from_the_latest_failure_and_rounds_up() -> None:
    assert wait(SERIES, 5, None, NOW) == 0
    assert wait(SERIES, 5, NOW, NOW) == 4
    assert wait(SERIES, 5, NOW - timedelta(seconds=2.5), NOW) == 2
    assert wait(SERIES, 5, NOW - timedelta(seconds=5), NOW) == 0
    assert wait(SERIES, 2, NOW, NOW) == 0


def test_ipv6_clients_are_counted_by_their_64() -> None:
    assert (
        source_key("2001:db8:1:2::1") == source_key("2001:db8:1:2:ffff::9") == "2001:db8:1:2::/64"
    )
    assert source_key("2001:db8:1:3::1") != source_key("2001:db8:1:2::1")
    assert source_key("::ffff:192.0.2.7") == "192.0.2.7" == source_key("192.0.2.7")
    assert source_key("192.0.2.8") != source_key("192.0.2.7")
    assert source_key("n'importe quoi") == source_key(None) == "unknown"
