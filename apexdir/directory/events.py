"""The structures' history in the directory (issue 21 item 8): one small `apexEvent` entry
per event under `ou=events,ou=system`, written by whichever node served the action and
replicated like any entry, so every node reads every node's events.

slapd keeps no order and apexdir does not load the sssvlv overlay, so a page is read
newest first by time windows: one search for the last day of the period, then a wider one
before it, sized by how many events the previous one held, until the page is full. slapd
2.5 does not use an index for a generalizedTime range: a window is therefore an OR of its
UTC days (`apexEventDay`, eq-indexed), intersected by slapd with the structure's (or
service's) index; the exact bounds (`apexEventAt`) are then checked on those few
candidates only. A page of 50 events of a busy structure costs two or three such searches
and never reads the structure's whole history. A page cursor is an event's name, which
begins with its time (`rules.history.new_event_id`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from apexdir.directory import filters as f
from apexdir.directory.connection import Directory
from apexdir.directory.layout import Layout
from apexdir.directory.mapping import EVENT_ATTRS, event_attrs, event_from
from apexdir.errors import Conflict
from apexdir.models import Event
from apexdir.rules.history import EXPORT_LIMIT, Criteria, event_time

FIRST_WINDOW = timedelta(days=1)
GROWTH = 4  # at most, when a window held nothing
MAX_WINDOW = timedelta(days=62)  # an OR of at most 63 days in one filter
PURGE_WINDOW = 30  # days: the purge walks back until a whole window is empty
# Where an open period starts: before any retained event (retention is 400 days).
EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


@dataclass
class Page:
    events: list[Event]
    older: str | None  # the cursor of the next page back in time, if any
    newer: str | None  # the cursor of the page before, if any


class EventStore:
    def __init__(self, directory: Directory, layout: Layout) -> None:
        self.directory = directory
        self.layout = layout

    # ------------------------------------------------------------------ write
    def add(self, event: Event) -> None:
        """Write one event; one already there (a retry after an answer lost) is kept."""
        with contextlib.suppress(Conflict):
            self.directory.add(self.layout.event_dn(event.id), event_attrs(event, self.layout))

    def purge(self, older_than: datetime) -> int:
        """Delete the events before `older_than` (retention); how many. Walks back by
        windows of days (indexed) from the cut-off until a whole window is empty: a nightly
        purge finds one day to delete, one after a month's stop finds them all."""
        done = 0
        end = older_than
        while True:
            start = end - timedelta(days=PURGE_WINDOW)
            days = f.and_(f.eq("objectClass", "apexEvent"), _days(start, end),
                          f.le("apexEventAt", older_than))  # fmt: skip
            found = self.directory.search(self.layout.events_dn, days, ["1.1"], scope="one")
            if not found:
                return done
            for entry in found:
                self.directory.delete(entry.dn)
            done += len(found)
            end = start - timedelta(days=1)

    # ------------------------------------------------------------------ read
    def _filter(self, siret: str, service: str | None, criteria: Criteria) -> str:
        parts = [f.eq("objectClass", "apexEvent")]
        if service is not None:
            parts.append(f.eq("apexServiceRef", self.layout.service_dn(siret, service)))
        else:
            parts.append(f.eq("apexStructureRef", self.layout.structure_dn(siret)))
        if criteria.action:
            parts.append(f.eq("apexEventAction", criteria.action))
        if criteria.account:
            parts.append(
                f.or_(
                    f.eq("apexEventActor", criteria.account),
                    f.eq("apexEventTarget", criteria.account),
                )
            )
        return f.and_(*parts)

    def _window(self, base: str, start: datetime, end: datetime) -> list[Event]:
        """Events with start <= at <= end (whole seconds)."""
        window = f.and_(base, _days(start, end), f.ge("apexEventAt", start),
                        f.le("apexEventAt", end))  # fmt: skip
        entries = self.directory.search(self.layout.events_dn, window, EVENT_ATTRS, scope="one")
        return [event_from(entry) for entry in entries]

    def all(
        self, siret: str, service: str | None, criteria: Criteria, *, limit: int
    ) -> tuple[list[Event], bool]:
        """Every event matching, newest first, at most `limit`; and whether some were left
        out. One search: a download or a command, not a page."""
        parts = [self._filter(siret, service, criteria)]
        if criteria.since:
            parts.append(f.ge("apexEventAt", criteria.since))
        if criteria.until:
            parts.append(f.le("apexEventAt", criteria.until))
        entries = self.directory.search(
            self.layout.events_dn, f.and_(*parts), EVENT_ATTRS, scope="one"
        )
        events = sorted((event_from(e) for e in entries), key=lambda e: e.id, reverse=True)
        return events[:limit], len(events) > limit

    def page(
        self,
        siret: str,
        service: str | None,
        criteria: Criteria,
        *,
        size: int,
        now: datetime,
        oldest: datetime = EPOCH,
        older_than: str | None = None,
        newer_than: str | None = None,
    ) -> Page:
        """One page of `size` events, newest first: the newest of the period, or those just
        older than the cursor `older_than`, or just newer than `newer_than`. `oldest`:
        where the retained history starts (the walk back stops there)."""
        if criteria.account:
            return self._account_page(siret, service, criteria, size, older_than, newer_than)
        base = self._filter(siret, service, criteria)
        low = max(criteria.since or EPOCH, oldest).replace(microsecond=0)
        high = (criteria.until or now).replace(microsecond=0)
        if newer_than is not None:
            found = list(self._walk(base, max(low, event_time(newer_than)), high, size + 1,
                                    forward=True, beyond=newer_than))  # fmt: skip
            more = len(found) > size
            events = list(reversed(found[:size]))
            older = events[-1].id if events else None
            return Page(events, older=older, newer=events[0].id if more and events else None)
        if older_than is not None:
            high = min(high, event_time(older_than))
        found = list(self._walk(base, low, high, size + 1, forward=False, beyond=older_than))
        events = found[:size]
        older = events[-1].id if len(found) > size else None
        newer = events[0].id if older_than is not None and events else None
        return Page(events, older=older, newer=newer)

    def _account_page(
        self,
        siret: str,
        service: str | None,
        criteria: Criteria,
        size: int,
        older_than: str | None,
        newer_than: str | None,
    ) -> Page:
        """One account's events are few (about ten a year): one indexed search
        (`apexEventActor`, `apexEventTarget`), then the page is cut here."""
        events, _ = self.all(siret, service, criteria, limit=EXPORT_LIMIT)
        if newer_than is not None:
            newer_ones = [e for e in events if e.id > newer_than]
            shown = newer_ones[-size:]
            more = len(newer_ones) > size
            older = shown[-1].id if shown else None
            return Page(shown, older=older, newer=shown[0].id if more and shown else None)
        if older_than is not None:
            events = [e for e in events if e.id < older_than]
        shown = events[:size]
        older = shown[-1].id if len(events) > size else None
        newer = shown[0].id if older_than is not None and shown else None
        return Page(shown, older=older, newer=newer)

    def _walk(
        self,
        base: str,
        low: datetime,
        high: datetime,
        want: int,
        *,
        forward: bool,
        beyond: str | None,
    ) -> Iterator[Event]:
        """Events between `low` and `high`, from `high` back (or from `low` on when
        `forward`), strictly beyond the cursor `beyond`, until `want` are found."""
        width = FIRST_WINDOW
        found = 0
        edge = low if forward else high
        while (edge <= high) if forward else (edge >= low):
            if forward:
                start, end = edge, min(high, edge + width)
            else:
                start, end = max(low, edge - width), edge
            batch = self._window(base, start, end)
            if beyond is not None:
                batch = [e for e in batch if (e.id > beyond if forward else e.id < beyond)]
            batch.sort(key=lambda e: e.id, reverse=not forward)
            for event in batch:
                yield event
                found += 1
                if found >= want:
                    return
            # The next window starts one second past this one (bounds are whole seconds),
            # wider when this one held few of the events still wanted.
            edge = end + timedelta(seconds=1) if forward else start - timedelta(seconds=1)
            missing = want - found
            factor = GROWTH if not batch else min(GROWTH, max(1.0, 1.5 * missing / len(batch)))
            width = min(MAX_WINDOW, width * factor)


def _days(start: datetime, end: datetime) -> str:
    """An OR of the UTC days from `start` to `end` (`apexEventDay`, eq-indexed)."""
    first, last = start.astimezone(UTC).date(), end.astimezone(UTC).date()
    count = (last - first).days + 1
    days = [(first + timedelta(days=n)).strftime("%Y%m%d") for n in range(count)]
    return f.or_(*(f.eq("apexEventDay", day) for day in days))
