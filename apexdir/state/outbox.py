"""The spool of outgoing mails and text messages.

Workflows enqueue (inside the command that decided to send), the daemon's outbox job claims,
sends and marks. A claim is a lease: a worker that dies mid-batch leaves rows in 'sending'
whose `claimed_until` passes, and the next claim takes them again — delivery is therefore at
least once, never lost. A row holds only what the message must carry (recipients, subject,
bodies) and the bodies are dropped once sent: they may hold codes and single-use links.

Each row has a priority (lowest first; `apexdir.mail.render.priority`): login codes and
reset links go before everyday mails, which go before mass mailings (expiry warnings,
migration invitations), so that 2,000 queued warnings never delay a code.
"""

from __future__ import annotations

import builtins
import json
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

import sqlite_utils

from apexdir.clock import Clock, system_clock
from apexdir.errors import Conflict, Invalid, NotFound
from apexdir.state.db import guarded, immediate, iso

Kind = Literal["mail", "sms"]
Status = Literal["queued", "sending", "sent", "failed"]
STATUSES: tuple[Status, ...] = ("queued", "sending", "sent", "failed")
MAX_ID = 2**63 - 1  # the largest INTEGER PRIMARY KEY SQLite holds
# What `list` shows: never the bodies, which may hold codes and single-use links.
LIST_KEYS = ("id", "kind", "to", "subject", "status", "attempts", "last_error", "created_at",
             "sent_at")  # fmt: skip

# Long SMTP transcripts would bloat the spool and the CLI table; the start says enough.
_ERROR_LIMIT = 500
# Priorities, lowest sent first (the values of apexdir.mail.render.URGENT/NORMAL/BULK).
URGENT, NORMAL, BULK = 0, 1, 2


@dataclass(frozen=True)
class OutboxMessage:
    id: int
    kind: Kind
    recipients: list[str]
    subject: str | None
    body_text: str
    body_html: str | None
    message_id: str
    attempts: int


def new_message_id() -> str:
    return f"<{uuid.uuid4().hex}@apexdir>"


def _check_address(value: str) -> str:
    value = value.strip()
    # A line break in an address would let it inject headers or SMTP commands.
    if not value or any(c in value for c in "\r\n\0"):
        raise Invalid(f"invalid recipient {value!r}")
    return value


class Outbox:
    def __init__(self, db: sqlite_utils.Database, clock: Clock = system_clock) -> None:
        self.db = db
        self.clock = clock

    # -- enqueue -----------------------------------------------------------------------

    def enqueue_mail(
        self,
        to: builtins.list[str],
        subject: str,
        text: str,
        html: str | None,
        priority: int = NORMAL,
    ) -> int:
        recipients = [_check_address(a) for a in to]
        if not recipients:
            raise Invalid("a mail needs at least one recipient")
        return self._enqueue("mail", recipients, subject, text, html, priority)

    def enqueue_sms(self, to: str, text: str, priority: int = NORMAL) -> int:
        return self._enqueue("sms", [_check_address(to)], None, text, None, priority)

    def _enqueue(
        self,
        kind: Kind,
        to: builtins.list[str],
        subject: str | None,
        text: str,
        html: str | None,
        priority: int,
    ) -> int:
        now = iso(self.clock())
        with guarded(self.db, "queue a message"):
            cursor = self.db.execute(
                "INSERT INTO outbox (kind, recipients, subject, body_text, body_html, message_id,"
                " status, attempts, next_attempt_at, created_at, priority)"
                " VALUES (?, ?, ?, ?, ?, ?, 'queued', 0, ?, ?, ?)",
                [kind, json.dumps(to), subject, text, html, new_message_id(), now, now,
                 int(priority)],
            )  # fmt: skip
        assert cursor.lastrowid is not None
        return cursor.lastrowid

    # -- delivery ----------------------------------------------------------------------

    def claim_due(
        self, limit: int | None, worker: str, lease_seconds: float
    ) -> builtins.list[OutboxMessage]:
        """Atomically take up to `limit` due messages for `worker`: most urgent, then oldest.

        Due: queued and past `next_attempt_at`, or 'sending' under an expired lease. A message
        waits while an older message to the same recipients is still pending and not due, so
        that retries never reorder what one person receives (a code after its login, a
        validation after its invitation). Among due messages, priority wins over age — a
        code overtakes the mass mailing queued before it — but never within one person's
        mails: an urgent message brings along the older due messages to the same recipients
        (beyond `limit` if need be), and the claim lists them just before it. So a new
        partner's validation mail still precedes the login code that follows it.
        """
        now = self.clock()
        params: dict[str, Any] = {
            "now": iso(now),
            "until": iso(now + timedelta(seconds=lease_seconds)),
            "worker": worker,
            "limit": -1 if limit is None else limit,
        }
        with guarded(self.db, "claim messages"), immediate(self.db):
            rows = list(
                self.db.query(
                    """
                    SELECT * FROM outbox AS o
                    WHERE o.status IN ('queued', 'sending')
                      AND ((o.status = 'queued' AND o.next_attempt_at <= :now)
                           OR (o.status = 'sending' AND o.claimed_until <= :now))
                      AND NOT EXISTS (
                          SELECT 1 FROM outbox AS p
                          WHERE p.recipients = o.recipients AND p.id < o.id
                            AND ((p.status = 'queued' AND p.next_attempt_at > :now)
                                 OR (p.status = 'sending' AND p.claimed_until > :now)))
                    ORDER BY o.priority, o.id
                    LIMIT :limit
                    """,
                    params,
                )
            )
            rows = self._with_predecessors(rows, params)
            if rows:
                ids = [row["id"] for row in rows]
                self.db.execute(
                    "UPDATE outbox SET status = 'sending', claimed_by = ?, claimed_until = ?"
                    f" WHERE id IN ({', '.join('?' * len(ids))})",
                    [worker, params["until"], *ids],
                )
        return [
            OutboxMessage(
                id=row["id"],
                kind=row["kind"],
                recipients=json.loads(row["recipients"]),
                subject=row["subject"],
                body_text=row["body_text"] or "",
                body_html=row["body_html"],
                message_id=row["message_id"],
                attempts=row["attempts"],
            )
            for row in rows
        ]

    def _with_predecessors(
        self, rows: builtins.list[dict[str, Any]], params: dict[str, Any]
    ) -> builtins.list[dict[str, Any]]:
        """`rows` plus the older due messages to the same recipients that priority skipped,
        ordered by the most urgent priority of each recipient group, then by age."""
        if not rows:
            return rows
        newest: dict[str, int] = {}
        for row in rows:
            newest[row["recipients"]] = max(newest.get(row["recipients"], 0), row["id"])
        ids = {row["id"] for row in rows}
        keys = builtins.list(newest)
        older = self.db.query(
            "SELECT * FROM outbox WHERE status IN ('queued', 'sending')"
            " AND ((status = 'queued' AND next_attempt_at <= ?)"
            "      OR (status = 'sending' AND claimed_until <= ?))"
            f" AND recipients IN ({', '.join('?' * len(keys))}) AND id < ?",
            [params["now"], params["now"], *keys, max(newest.values())],
        )
        rows = rows + [r for r in older if r["id"] not in ids and r["id"] < newest[r["recipients"]]]
        rank: dict[str, int] = {}
        for row in rows:
            rank[row["recipients"]] = min(rank.get(row["recipients"], row["priority"]),
                                          row["priority"])  # fmt: skip
        return sorted(rows, key=lambda r: (rank[r["recipients"]], r["id"]))

    def mark_sent(self, id: int, note: str | None = None) -> None:
        """The server accepted the message; `note` records a partial refusal, if any."""
        with guarded(self.db, "mark a message sent"):
            self.db.execute(
                "UPDATE outbox SET status = 'sent', sent_at = ?, last_error = ?,"
                " body_text = NULL, body_html = NULL, claimed_by = NULL, claimed_until = NULL"
                " WHERE id = ?",
                [iso(self.clock()), _clip(note), id],
            )

    def mark_sent_many(self, sent: builtins.list[tuple[int, str | None]]) -> None:
        """`mark_sent` for several messages (id, note) in one transaction: a delivery pass
        marks in batches rather than paying a commit per mail."""
        if not sent:
            return
        now = iso(self.clock())
        with guarded(self.db, "mark messages sent"), immediate(self.db):
            self.db.conn.executemany(
                "UPDATE outbox SET status = 'sent', sent_at = ?, last_error = ?,"
                " body_text = NULL, body_html = NULL, claimed_by = NULL, claimed_until = NULL"
                " WHERE id = ?",
                [(now, _clip(note), id) for id, note in sent],
            )

    def extend(self, ids: builtins.list[int], worker: str, lease_seconds: float) -> int:
        """Renew `worker`'s claim on `ids` for another lease; the number still held.

        A pass working through a large claim renews it before it could run out, so that no
        other worker takes (and sends again) a message still in hand.
        """
        if not ids:
            return 0
        until = iso(self.clock() + timedelta(seconds=lease_seconds))
        marks = ", ".join("?" * len(ids))
        with guarded(self.db, "renew claims"):
            cursor = self.db.execute(
                "UPDATE outbox SET claimed_until = ?"
                f" WHERE status = 'sending' AND claimed_by = ? AND id IN ({marks})",
                [until, worker, *ids],
            )
        return cursor.rowcount

    def mark_retry(self, id: int, error: str, max_attempts: int, backoff_seconds: float) -> Status:
        """Count a failed attempt: queued again after an exponential backoff, or 'failed'.

        Returns the new status.
        """
        now = self.clock()
        with guarded(self.db, "record a failed delivery"), immediate(self.db):
            row = self.db.execute("SELECT attempts FROM outbox WHERE id = ?", [id]).fetchone()
            if row is None:
                raise NotFound(f"no message {id} in the outbox")
            attempts = int(row[0]) + 1
            status: Status = "failed" if attempts >= max_attempts else "queued"
            delay = timedelta(seconds=backoff_seconds * 2 ** (attempts - 1))
            self.db.execute(
                "UPDATE outbox SET status = ?, attempts = ?, last_error = ?, next_attempt_at = ?,"
                " claimed_by = NULL, claimed_until = NULL WHERE id = ?",
                [status, attempts, _clip(error), iso(now + delay), id],
            )
        return status

    def release(self, ids: builtins.list[int]) -> None:
        """Give claimed messages back untouched (graceful stop, or held back for ordering)."""
        if not ids:
            return
        with guarded(self.db, "release messages"):
            self.db.execute(
                "UPDATE outbox SET status = 'queued', claimed_by = NULL, claimed_until = NULL"
                f" WHERE status = 'sending' AND id IN ({', '.join('?' * len(ids))})",
                ids,
            )

    # -- operators ---------------------------------------------------------------------

    def retry(self, id: int) -> None:
        """Queue a failed message again, due now, with its attempts counted from zero."""
        if not 0 < id <= MAX_ID:  # SQLite cannot even compare a larger int: no such row
            raise NotFound(f"no message {id} in the outbox")
        with guarded(self.db, "queue a message again"), immediate(self.db):
            row = self.db.execute("SELECT status FROM outbox WHERE id = ?", [id]).fetchone()
            if row is None:
                raise NotFound(f"no message {id} in the outbox")
            if row[0] not in ("failed", "queued"):
                raise Conflict(f"message {id} is {row[0]}: only a failed message can be retried")
            self.db.execute(
                "UPDATE outbox SET status = 'queued', attempts = 0, last_error = NULL,"
                " next_attempt_at = ? WHERE id = ?",
                [iso(self.clock()), id],
            )

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


def _clip(text: str | None) -> str | None:
    if text is None:
        return None
    text = " ".join(text.split())
    return text if len(text) <= _ERROR_LIMIT else text[: _ERROR_LIMIT - 1] + "…"
