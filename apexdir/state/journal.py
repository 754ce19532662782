"""The journal: who did what, when — one row per action, kept for `journal_retention_days`."""

from __future__ import annotations

import getpass
import json
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

import sqlite_utils

from apexdir.clock import Clock, system_clock
from apexdir.errors import ApexError
from apexdir.logs import request_id, request_source
from apexdir.rules.history import actor_value, new_event_id, shared
from apexdir.state.db import guarded, iso

log = logging.getLogger("apexdir.journal")
# Writes one event of a structure's history where every node reads it (the directory:
# `Runtime.journal` wires `apexdir.directory.events.EventStore`). Keyword names of
# `apexdir.models.Event`; raises an `ApexError` when it cannot.
Publish = Callable[[dict[str, Any]], None]
# How many waiting events one successful write carries along (the rest wait for the next).
FLUSH_BATCH = 50


def os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        # No passwd entry (containers with an arbitrary uid): still record something.
        return "unknown"


class Journal:
    """Record of actions. Never pass secrets (passwords, codes, tokens, links) to `record`:
    the journal is kept for months and read by every agent."""

    def __init__(
        self,
        db: sqlite_utils.Database,
        clock: Clock = system_clock,
        publish: Publish | None = None,
    ) -> None:
        self.db = db
        self.clock = clock
        self.publish = publish

    def record(
        self,
        action: str,
        target: str | None,
        *,
        actor: str | None,
        operator: str | None = None,
        details: dict[str, Any] | None = None,
        structure: str | None = None,
        service: str | None = None,
    ) -> int:
        """Append one entry; `actor` is the account acted as (None for a DGFiP agent),
        `operator` the OS user who ran the command (default: the current one).

        `structure` (a SIRET) and `service` (a service id) say whose history the action
        belongs to: an action of `rules.history.LABELS` given a structure is also written
        to the directory, for every node to read. A portal request's source address and
        user agent are added to `details`."""
        source = request_source.get()
        if source:
            details = {**(details or {}), "source": source}
        operator = operator if operator is not None else os_user()
        moment = self.clock()
        with guarded(self.db, "write the journal"):
            cursor = self.db.execute(
                "INSERT INTO journal (at, operator, actor, action, target, details)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                [
                    iso(moment),
                    operator,
                    actor,
                    action,
                    target,
                    None if details is None else json.dumps(details, ensure_ascii=False,
                                                            sort_keys=True, default=str),
                ],
            )  # fmt: skip
        assert cursor.lastrowid is not None
        # The event's log line (daemon, portal): the journal holds no secret, so neither
        # does the line. Nothing shows in the CLI, whose logging is not configured.
        log.info("%s %s", action, target or "-", extra={"actor": actor, "action": action,
                 "target": target, "request_id": request_id.get()})  # fmt: skip
        if structure and self.publish is not None and shared(action):
            self._share({
                "id": new_event_id(moment), "at": moment, "action": action,
                "structure": structure, "service": service, "target": target,
                "actor": actor_value(actor, operator), "details": details or {},
            })  # fmt: skip
        return cursor.lastrowid

    def _share(self, event: dict[str, Any]) -> None:
        """Write the event to the directory; if it cannot be (a provider down), keep it in
        the backlog: the action is done, the history must not lose it nor fail it."""
        assert self.publish is not None
        try:
            self.publish(event)
        except ApexError as exc:
            log.warning("history event %s kept for later: %s", event["action"], exc)
            text = json.dumps(event, ensure_ascii=False, default=str)
            with guarded(self.db, "keep a history event"):
                self.db.execute(
                    "INSERT INTO history_backlog (event, created_at) VALUES (?, ?)",
                    [text, iso(self.clock())],
                )
            return
        self.flush(FLUSH_BATCH)

    def flush(self, limit: int | None = None) -> int:
        """Write waiting history events to the directory, oldest first; how many. Stops at
        the first failure (the directory is still away)."""
        if self.publish is None:
            return 0
        sql = "SELECT id, event FROM history_backlog ORDER BY id"
        with guarded(self.db, "read the history backlog"):
            rows = list(self.db.execute(sql + (f" LIMIT {int(limit)}" if limit else "")))
        done = 0
        for row_id, text in rows:
            event = json.loads(text)
            event["at"] = datetime.fromisoformat(event["at"])
            try:
                self.publish(event)
            except ApexError:
                break
            with guarded(self.db, "clear the history backlog"):
                self.db.execute("DELETE FROM history_backlog WHERE id = ?", [row_id])
            done += 1
        return done

    def entries(self, since: datetime | None = None) -> list[dict[str, Any]]:
        """Entries at or after `since` (naive means UTC), oldest first."""
        where, params = ("WHERE at >= ?", [iso(since)]) if since else ("", [])
        with guarded(self.db, "read the journal"):
            rows = list(
                self.db.query(
                    f"SELECT at, operator, actor, action, target, details FROM journal {where}"
                    " ORDER BY at, id",
                    params,
                )
            )
        for row in rows:
            row["details"] = json.loads(row["details"]) if row["details"] else None
        return rows

    def about(self, identifier: str) -> list[dict[str, Any]]:
        """Entries whose target or actor is `identifier` (an account), oldest first: what
        a partner's own data export lists. One pass over the table (no index on target or
        actor): an export is rare, and its cost is that of reading this node's journal."""
        with guarded(self.db, "read the journal"):
            rows = list(
                self.db.query(
                    "SELECT at, operator, actor, action, target, details FROM journal"
                    " WHERE target = :who OR actor = :who ORDER BY at, id",
                    {"who": identifier},
                )
            )
        for row in rows:
            row["details"] = json.loads(row["details"]) if row["details"] else None
        return rows

    def has_ldap_change(self, csn: str, when: datetime, start: str, started: datetime) -> bool:
        """Whether the change feed journaled this write (`ldap.*`), read from any provider's
        log: by its CSN, at the CSN's time `when` (an indexed look-up). An entry without CSN
        (journaled before the feed kept them, or a log without CSNs) is known by its
        reqStart `start`, at `started`."""
        with guarded(self.db, "read the journal"):
            row = self.db.execute(
                "SELECT 1 FROM journal WHERE action LIKE 'ldap.%' AND ("
                " (at = ? AND json_extract(details, '$.csn') = ?) OR"
                " (at = ? AND json_extract(details, '$.at') = ?"
                "  AND json_extract(details, '$.csn') IS NULL)) LIMIT 1",
                [iso(when), csn, iso(started), start],
            ).fetchone()
        return row is not None

    def waiting_events(self) -> int:
        """History events the directory did not take yet (`flush` writes them)."""
        with guarded(self.db, "read the history backlog"):
            return int(self.db.execute("SELECT COUNT(*) FROM history_backlog").fetchone()[0])

    def trim(self, older_than: datetime) -> int:
        """Delete entries before `older_than`; returns how many."""
        with guarded(self.db, "trim the journal"):
            cursor = self.db.execute("DELETE FROM journal WHERE at < ?", [iso(older_than)])
        return cursor.rowcount
