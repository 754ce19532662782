"""The operators' side of the spool: list, retry, counts, purge, and the triage after a
restore (issue 23: a restored node must not send again what the original already sent)."""

from __future__ import annotations

import builtins
import json
from datetime import datetime, timedelta
from typing import Any, Literal

import sqlite_utils

from apexdir.clock import Clock
from apexdir.errors import Conflict, Invalid, NotFound
from apexdir.state.db import guarded, immediate, iso

Status = Literal["queued", "sending", "sent", "failed", "dropped", "held"]
# dropped: superseded by a newer code, or past its use after a restore — never sent;
# held: kept back after a restore until an operator releases it (`apexdir outbox retry`).
STATUSES: tuple[Status, ...] = ("queued", "sending", "sent", "failed", "dropped", "held")
MAX_ID = 2**63 - 1  # the largest INTEGER PRIMARY KEY SQLite holds
# What `list` shows: never the bodies, which may hold codes and single-use links.
LIST_KEYS = ("id", "kind", "to", "subject", "status", "attempts", "last_error", "created_at",
             "sent_at")  # fmt: skip
# Long SMTP transcripts would bloat the spool and the CLI table; the start says enough.
_ERROR_LIMIT = 500


class SpoolAdmin:
    db: sqlite_utils.Database
    clock: Clock

    def retry(self, id: int) -> None:
        """Queue a failed or held message again, due now, with its attempts counted from
        zero (and no expiry: the operator decided to send it)."""
        if not 0 < id <= MAX_ID:  # SQLite cannot even compare a larger int: no such row
            raise NotFound(f"no message {id} in the outbox")
        with guarded(self.db, "queue a message again"), immediate(self.db):
            row = self.db.execute("SELECT status FROM outbox WHERE id = ?", [id]).fetchone()
            if row is None:
                raise NotFound(f"no message {id} in the outbox")
            if row[0] not in ("failed", "queued", "held"):
                raise Conflict(
                    f"message {id} is {row[0]}: only a failed or held message can be retried"
                )
            self.db.execute(
                "UPDATE outbox SET status = 'queued', attempts = 0, last_error = NULL,"
                " next_attempt_at = ?, expires_at = NULL WHERE id = ?",
                [iso(self.clock()), id],
            )
        from apexdir.state import wake

        wake.notify(self.db)

    def triage_after_restore(self, validity: timedelta) -> dict[str, Any]:
        """A restored store's waiting messages (issue 23): the node that made the backup has
        probably sent them since. Codes and links past their use are `dropped`; so are the
        urgent messages without an expiry (kept by an older apexdir) queued longer ago than
        `validity`; everything else still waiting is `held` and listed, for an operator to
        release (`retry`) or leave. At least once, but not to someone who no longer waits."""
        now = self.clock()
        old = iso(now - validity)
        waiting = "status IN ('queued', 'sending')"
        with guarded(self.db, "sort the restored spool"), immediate(self.db):
            dropped = self.db.execute(
                "UPDATE outbox SET status = 'dropped', claimed_by = NULL, claimed_until = NULL,"
                " body_text = NULL, body_html = NULL, last_error = 'past its use at a restore'"
                f" WHERE {waiting} AND (expires_at <= ?"
                "      OR (expires_at IS NULL AND priority = 0 AND created_at <= ?))",
                [iso(now), old],
            ).rowcount
            held = [
                {**row, "to": json.loads(row.pop("recipients"))}
                for row in self.db.query(
                    "SELECT id, kind, recipients, subject, created_at FROM outbox"
                    f" WHERE {waiting} ORDER BY id"
                )
            ]
            self.db.execute(
                "UPDATE outbox SET status = 'held', claimed_by = NULL, claimed_until = NULL,"
                " last_error = 'held at a restore: the original node may have sent it'"
                f" WHERE {waiting}"
            )
        return {"dropped": dropped, "held": held}

    def release_held(self) -> builtins.list[int]:
        """Queue every held message (an operator decided they go); their ids."""
        with guarded(self.db, "release held messages"), immediate(self.db):
            ids = [r[0] for r in self.db.execute("SELECT id FROM outbox WHERE status = 'held'")]
            self.db.execute(
                "UPDATE outbox SET status = 'queued', attempts = 0, last_error = NULL,"
                " next_attempt_at = ?, expires_at = NULL WHERE status = 'held'",
                [iso(self.clock())],
            )
        return ids

    def list(self, status: str | None = None) -> builtins.list[dict[str, Any]]:
        """Messages without their bodies, oldest first."""
        if status is not None and status not in STATUSES:
            raise Invalid(f"unknown status {status!r} (one of {', '.join(STATUSES)})")
        where, params = ("WHERE status = ?", [status]) if status else ("", [])
        with guarded(self.db, "read the outbox"):
            rows = list(
                self.db.query(
                    "SELECT id, kind, recipients, subject, status, attempts, last_error,"
                    f" created_at, sent_at FROM outbox {where} ORDER BY id",
                    params,
                )
            )
        for row in rows:
            row["to"] = json.loads(row.pop("recipients"))
        return [{k: row[k] for k in LIST_KEYS} for row in rows]

    def pending_count(self) -> int:
        """Messages not yet sent nor given up: queued (due or not) or being sent."""
        with guarded(self.db, "read the outbox"):
            row = self.db.execute(
                "SELECT count(*) FROM outbox WHERE status IN ('queued', 'sending')"
            ).fetchone()
        return int(row[0])

    def purge(self, older_than: datetime) -> int:
        """Delete sent and failed messages finished before `older_than` (housekeeping)."""
        with guarded(self.db, "purge the outbox"):
            cursor = self.db.execute(
                "DELETE FROM outbox WHERE status IN ('sent', 'failed')"
                " AND coalesce(sent_at, created_at) < ?",
                [iso(older_than)],
            )
        return cursor.rowcount


def clip(text: str | None) -> str | None:
    if text is None:
        return None
    text = " ".join(text.split())
    return text if len(text) <= _ERROR_LIMIT else text[: _ERROR_LIMIT - 1] + "…"
