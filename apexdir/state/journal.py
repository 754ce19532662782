"""The journal: who did what, when — one row per action, kept for `journal_retention_days`."""

from __future__ import annotations

import getpass
import json
import logging
from datetime import datetime
from typing import Any

import sqlite_utils

from apexdir.clock import Clock, system_clock
from apexdir.logs import request_id
from apexdir.state.db import guarded, iso

log = logging.getLogger("apexdir.journal")


def os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        # No passwd entry (containers with an arbitrary uid): still record something.
        return "unknown"


class Journal:
    """Record of actions. Never pass secrets (passwords, codes, tokens, links) to `record`:
    the journal is kept for months and read by every agent."""

    def __init__(self, db: sqlite_utils.Database, clock: Clock = system_clock) -> None:
        self.db = db
        self.clock = clock

    def record(
        self,
        action: str,
        target: str | None,
        *,
        actor: str | None,
        operator: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> int:
        """Append one entry; `actor` is the account acted as (None for a DGFiP agent),
        `operator` the OS user who ran the command (default: the current one)."""
        with guarded(self.db, "write the journal"):
            cursor = self.db.execute(
                "INSERT INTO journal (at, operator, actor, action, target, details)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                [
                    iso(self.clock()),
                    operator if operator is not None else os_user(),
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
        return cursor.lastrowid

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

    def trim(self, older_than: datetime) -> int:
        """Delete entries before `older_than`; returns how many."""
        with guarded(self.db, "trim the journal"):
            cursor = self.db.execute("DELETE FROM journal WHERE at < ?", [iso(older_than)])
        return cursor.rowcount
