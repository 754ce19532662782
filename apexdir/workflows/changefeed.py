"""The change feed: tail slapd's accesslog, journal every write, notify what apexdir did not.

slapd's accesslog overlay (suffix `cn=accesslog`, readable only by apexdir's account) logs
every successful write with who made it (`reqAuthzID`), what (`reqMod`, `attr:+ value`,
`attr:- value`, `attr:= value`) and, for accounts, the old personal data (`reqOld`). So a
change made by any LDAP client — `ldapmodify` by an agent, an application, a script — is
journaled and, where the workflows would have mailed, mailed the same way
(`apexdir.workflows.changenotices`). The log's records are read and parsed by
`apexdir.directory.accesslog`; this module decides what to read, when, and keeps the
cursors. The author is the entry's `modifiersName` as slapd set it, which stays the
original author when the write was replicated from another provider (the log's
`reqAuthzID` is then the replication identity, docs/replication.md). Writes that change
nothing but what slapd maintains itself (lastbind's `authTimestamp`, ppolicy's failure
times, modifiersName…) are not journaled, nor are the scheduler lease renewals.

Every provider's log. Each slapd provider logs in its own accesslog (not replicated) the
writes made on it *and* the writes it received by replication, so the feed reads the log
of every provider in `ldap.uris`, each with its own connection and cursor, and journals
each change once, whichever log it is read from first. What the logs hold (slapd 2.5,
plain syncrepl, seen with two providers):

- the write on the provider that served it: the request as the client sent it, e.g. a
  whole-list replace `member:= a`, `member:= b`, and `reqAuthzID` = the client;
- its copy on every other provider: the difference syncrepl computed between the entry it
  had and the one it received (`member:- old`, `member:+ new`; `member:= …` only when no
  old value is kept), with `reqAuthzID` = the consumer's rootdn — the same identity as an
  agent writing as the rootdn, so it tells nothing;
- in both, the same `entryCSN` (the log entry's own, and `entryCSN:=` in reqMod), and the
  same `modifiersName` (the original author).

The key is therefore the write's `entryCSN`: a timestamp, a counter and the serverID of
the provider that made it, unique per write in the whole replica set and carried unchanged
by replication. `reqStart` differs per provider (a copy is logged when it arrives) and is
not unique across them (its sub-second part is often a small counter), `reqAuthzID` cannot
tell a copy from a rootdn write, and slapd 2.5
writes no `reqEntryUUID` (which would name the entry, not the write, anyway). Keeping only
the entries whose CSN serverID is the provider's own would also work, but apexdir does not
know the providers' serverIDs, and a provider lost for good would take its not yet read
changes with it, whereas their copies are on the others.

A whole-list replace of `member` (or `apexDelegatedProfile`) as written on its provider says
what the list became, not who was added; the copy on another provider says it. So such a
change, read before its copy, looks the copy up by its CSN in the other providers' logs
(`entryCSN` is indexed there). Not found yet, it is left for the next pass for up to
`REPLICATION_GRACE` (its log's cursor waits for it); then, and at once with a single
provider, it is journaled with the new list (`members_replaced`) and mails no one: the log
keeps no old values of groups (logging them would copy the whole member list at every
grant). A provider that was cut off receives the entry's last state once, with the last CSN
only: its copy of several changes is one difference, which may mail again a member already
notified by the first of them.

Cursors: per provider, `reqStart` (the accesslog RDN, increasing, indexed) of the last entry
read in that provider's log, kept in the state store (job state `changes <uri>`; the first
provider's takes over the single `changes` cursor of the feed that read one log). Each pass
re-reads an overlap of a few seconds before it, because an operation is logged when it ends
but keyed by when it started. What was already handled is known from the journal itself:
each change is journaled (with its CSN, at the CSN's time) and mailed in one local
transaction, and a change whose CSN is already journaled is skipped — so a crash, a cursor
saved late, or the copy in another log re-reads a change but never notifies it twice.
Writes that are not journaled (slapd's own bookkeeping) are simply ignored again. A
provider's first pass starts at the current end of its log (no flood of old changes). A
provider that does not answer is skipped for the pass (counted in `unavailable`, logged),
its cursor kept: when it comes back, its log is read from where it was left, within
`logpurge` (7 days) — a provider down longer loses what was purged, unless its copies on the
others were read.
"""

from __future__ import annotations

import contextlib
import json
import logging
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from apexdir.directory.accesslog import (
    Change,
    Providers,
    purge_record,
    read_log,
    start_time,
    start_value,
    sweep,
    with_copy,
)
from apexdir.errors import ApexError, Unavailable
from apexdir.runtime import Runtime
from apexdir.state.jobs import get_cursor, set_cursor
from apexdir.workflows.changenotices import Notices, journaled
from apexdir.workflows.notices import Stop

log = logging.getLogger("apexdir.daemon")

JOB = "changes"
OVERLAP = timedelta(seconds=5)
# How long a whole-list replace waits for its copy on another provider (replication takes
# well under a second when the providers are up; this covers a provider restarting).
REPLICATION_GRACE = timedelta(minutes=2)
# A long backlog saves its progress now and then (a crash re-reads, the journal dedupes).
SAVE_EVERY = 500


# ---------------------------------------------------------------------- the cursors
@dataclass
class Cursor:
    last: str  # reqStart of the latest change read
    floor: str  # where the feed started: nothing before it is ever read
    held: str | None = None  # the earliest change left for the next pass: re-read from it

    def since(self) -> str:
        """Where the next read starts: the overlap before `last`, never before `floor`."""
        return max(self.floor, start_value(start_time(self.last) - OVERLAP))

    def advance(self, start: str) -> None:
        self.last = max(self.last, start)

    def hold(self, start: str) -> None:
        self.held = min(self.held or start, start)

    def dump_last(self) -> str:
        """Where the saved cursor stands: before the change held, if one is."""
        return min(self.last, self.held) if self.held else self.last

    def dump(self) -> str:
        return json.dumps({"last": self.dump_last(), "floor": self.floor})

    @classmethod
    def load(cls, raw: str | None) -> Cursor | None:
        if not raw:
            return None
        try:
            data = json.loads(raw)
            return cls(str(data["last"]), str(data.get("floor") or data["last"]))
        except (ValueError, KeyError, TypeError):
            return None


def cursor_name(uri: str) -> str:
    """The job-state name of one provider's cursor."""
    return f"{JOB} {uri}"


def load_cursor(rt: Runtime, uri: str) -> Cursor | None:
    cursor = Cursor.load(get_cursor(rt.db, cursor_name(uri)))
    if cursor is None and uri == rt.settings.ldap.uris[0]:
        # The feed used to read one log, the first provider's while it was up: its cursor.
        cursor = Cursor.load(get_cursor(rt.db, JOB))
    return cursor


def save_cursor(rt: Runtime, uri: str, cursor: Cursor) -> None:
    set_cursor(rt.db, cursor_name(uri), cursor.dump(), clock=rt.clock)


# ---------------------------------------------------------------------- a pass
@dataclass
class Counts:
    changes: int = 0
    notified: int = 0
    waiting: int = 0
    purged: int = 0
    started: dict[str, str] = field(default_factory=dict)
    unread: list[str] = field(default_factory=list)

    def result(self) -> dict[str, Any]:
        """What `apexdir daemon run-once changes` prints."""
        result: dict[str, Any] = {"started_at": self.started} if self.started else {}
        result |= {"changes": self.changes, "notified": self.notified}
        if self.waiting:
            result["waiting"] = self.waiting
        if self.purged:
            result["purged"] = self.purged
        if self.unread:
            result["unavailable"] = self.unread
        return result


class Feed:
    """One pass over the providers' logs (`read` each of `uris`, then `close`)."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.providers = Providers(rt.settings.ldap)
        self.uris = self.providers.uris
        self.notices = Notices(rt)
        self.counts = Counts()
        self._purge_refused: set[str] = set()

    def close(self) -> None:
        self.providers.close()

    def read(self, uri: str, stop: Stop) -> None:
        """One provider's log from its cursor (its first pass: the end of its log); a
        provider that does not answer is skipped, its cursor kept."""
        try:
            cursor = load_cursor(self.rt, uri)
            if cursor is None:
                self.counts.started[uri] = self.start(uri).last
            else:
                self._read(uri, cursor, stop)
        except Unavailable as exc:
            self.providers.failed(uri, exc)
            self.counts.unread.append(uri)

    def start(self, uri: str) -> Cursor:
        """A provider's first pass: the current end of its log becomes its cursor, and the
        records before it that carry a secret, which the feed will never read, are
        deleted."""
        directory = self.providers.directory(uri)
        last = start_value(self.rt.clock())
        # Changes of the last seconds (the next pass's overlap) are before the feed's start.
        for change in read_log(directory, start_value(self.rt.clock() - OVERLAP)):
            last = max(last, change.start)
        cursor = Cursor(last, floor=last)
        save_cursor(self.rt, uri, cursor)
        try:
            self.counts.purged += sweep(directory, until=last)
        except Unavailable:
            raise
        except ApexError as exc:  # e.g. a provider whose ACL predates the purge
            log.warning("change feed: cannot delete secret records in %s: %s", uri, exc)
        return cursor

    def _read(self, uri: str, cursor: Cursor, stop: Stop) -> None:
        """Handle one provider's log from its cursor, and move the cursor."""
        since = cursor.since()
        try:
            for n, change in enumerate(read_log(self.providers.directory(uri), since), 1):
                if stop():
                    break
                # At or before the floor: the end of the log when the feed started.
                fresh = change.start > cursor.floor and not self.notices.ignored(change)
                taken = self._take(uri, cursor, change) if fresh else True
                if taken and change.secret:
                    self._purge(uri, change)  # a held change is read again: kept
                cursor.advance(change.start)
                if n % SAVE_EVERY == 0:
                    save_cursor(self.rt, uri, cursor)
        except BaseException:
            with contextlib.suppress(Exception):  # keep what was done; the error matters
                save_cursor(self.rt, uri, cursor)
            raise
        save_cursor(self.rt, uri, cursor)

    def _take(self, uri: str, cursor: Cursor, change: Change) -> bool:
        """Journal and notify `change` unless done already; False when it is held."""
        if journaled(self.rt, change):
            return True  # read in another log first, or in the overlap
        resolved = self.resolve(change, uri)
        if resolved is None:
            cursor.hold(change.start)
            self.counts.waiting += 1
            return False
        self.counts.changes += 1
        self.counts.notified += self.notices.handle(resolved)
        return True

    def _purge(self, uri: str, change: Change) -> None:
        """Delete a record carrying a secret, now that it is journaled (or needs not be):
        the log keeps no password hash nor one-time record longer than a feed pass."""
        if uri in self._purge_refused or not change.record:
            return
        try:
            self.counts.purged += purge_record(self.providers.directory(uri), change.record)
        except Unavailable:
            raise
        except ApexError as exc:  # e.g. a provider whose ACL predates the purge
            log.warning("change feed: cannot delete secret records in %s: %s", uri, exc)
            self._purge_refused.add(uri)

    def resolve(self, change: Change, uri: str) -> Change | None:
        """`change` with who was added to a list it replaced whole, from its copy in another
        log; None to wait for that copy (module docstring)."""
        if not change.csn or not change.replaced() or self.notices.is_own(change):
            return change  # apexdir's own writes mail nothing here: no need to know
        copy = self.providers.copy_of(change, uri)
        if copy is not None:
            return with_copy(change, copy)
        waiting = self.rt.clock() - change.when < REPLICATION_GRACE
        return None if waiting and len(self.uris) > 1 else change
