"""The one source of time: injected everywhere so that tests can move it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    return datetime.now(UTC)


class FrozenClock:
    """A clock for tests: returns `now` until moved with `advance`."""

    def __init__(self, now: datetime | None = None) -> None:
        self.now = now or datetime(2026, 1, 15, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now += timedelta(**kwargs)


def to_generalized_time(moment: datetime) -> str:
    """LDAP GeneralizedTime, always UTC, as slapd writes it (e.g. 20260115090000Z)."""
    return moment.astimezone(UTC).strftime("%Y%m%d%H%M%SZ")


def from_generalized_time(value: str | datetime) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    text = value.rstrip("Z").split(".")[0]
    if len(text) == 14 and text.isdigit():
        # Slicing, not strptime: a listing of 1,000 accounts parses 4,000 of these.
        return datetime(int(text[:4]), int(text[4:6]), int(text[6:8]), int(text[8:10]),
                        int(text[10:12]), int(text[12:14]), tzinfo=UTC)  # fmt: skip
    return datetime.strptime(text, "%Y%m%d%H%M%S").replace(tzinfo=UTC)
