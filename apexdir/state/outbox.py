"""The spool of outgoing mails and text messages.

Workflows enqueue (inside the command that decided to send), the daemon's outbox job claims,
sends and marks. A claim is a lease: a worker that dies mid-batch leaves rows in 'sending'
whose `claimed_until` passes, and the next claim takes them again — delivery is therefore at
least once, never lost. A row holds only what the message must carry (recipients, subject,
bodies) and the bodies are dropped once sent: they may hold codes and single-use links.

Each row has a priority (lowest first; `apexdir.mail.render.priority`): login codes and
reset links go before everyday mails, which go before mass mailings (expiry warnings,
migration invitations), so that 2,000 queued warnings never delay a code.

Codes and reset links (issue 23) are for now or never: queuing one wakes the node's daemon
(`wake.py`); it supersedes the older message of the same `topic` (an account and a purpose)
still waiting, which is `dropped` unsent; it is retried every few seconds while it is valid
(`expires_at`) and then `failed`; and it never waits behind the person's older messages.
"""

from __future__ import annotations

import builtins
import json
import uuid
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

import sqlite_utils

from apexdir.clock import Clock, system_clock
from apexdir.errors import Invalid, NotFound
from apexdir.state.db import guarded, immediate, iso
from apexdir.state.spool_admin import SpoolAdmin, Status, clip

Kind = Literal["mail", "sms"]

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
    priority: int = 1


# The due messages of `claim_due`, most urgent then oldest (the rules are in its docstring).
DUE_SQL = """
    SELECT * FROM outbox AS o
    WHERE o.status IN ('queued', 'sending')
      AND ((o.status = 'queued' AND o.next_attempt_at <= :now)
           OR (o.status = 'sending' AND o.claimed_until <= :now))
      AND (o.priority = 0 OR NOT EXISTS (
          SELECT 1 FROM outbox AS p
          WHERE p.recipients = o.recipients AND p.id < o.id AND p.priority > 0
            AND ((p.status = 'queued' AND p.next_attempt_at > :now)
                 OR (p.status = 'sending' AND p.claimed_until > :now))))
    ORDER BY o.priority, o.id
    LIMIT :limit
"""


def _message(row: dict[str, Any]) -> OutboxMessage:
    """The message a claimed outbox row carries."""
    return OutboxMessage(
        id=row["id"],
        kind=row["kind"],
        recipients=json.loads(row["recipients"]),
        subject=row["subject"],
        body_text=row["body_text"] or "",
        body_html=row["body_html"],
        message_id=row["message_id"],
        attempts=row["attempts"],
        priority=row["priority"],
    )


def new_message_id() -> str:
    return f"<{uuid.uuid4().hex}@apexdir>"


def _check_address(value: str) -> str:
    value = value.strip()
    # A line break in an address would let it inject headers or SMTP commands.
    if not value or any(c in value for c in "\r\n\0"):
        raise Invalid(f"invalid recipient {value!r}")
    return value


class Outbox(SpoolAdmin):
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
        *,
        topic: str | None = None,
        expires_at: datetime | None = None,
    ) -> int:
        """Queue a mail. `topic` (e.g. `login:<identifier>`): the older messages of the same
        topic still waiting are dropped; `expires_at`: not sent after that moment."""
        recipients = [_check_address(a) for a in to]
        if not recipients:
            raise Invalid("a mail needs at least one recipient")
        return self._enqueue("mail", recipients, subject, text, html, priority, topic, expires_at)

    def enqueue_sms(
        self,
        to: str,
        text: str,
        priority: int = NORMAL,
        *,
        topic: str | None = None,
        expires_at: datetime | None = None,
    ) -> int:
        return self._enqueue(
            "sms", [_check_address(to)], None, text, None, priority, topic, expires_at
        )

    def _enqueue(
        self,
        kind: Kind,
        to: builtins.list[str],
        subject: str | None,
        text: str,
        html: str | None,
        priority: int,
        topic: str | None = None,
        expires_at: datetime | None = None,
    ) -> int:
        now = iso(self.clock())
        expires = iso(expires_at) if expires_at is not None else None
        # One transaction with the drop of the superseded; inside the caller's, if one is open
        # (the change feed journals and queues in one).
        own = topic is not None and not self.db.conn.in_transaction
        with guarded(self.db, "queue a message"), immediate(self.db) if own else nullcontext():
            cursor = self.db.execute(
                "INSERT INTO outbox (kind, recipients, subject, body_text, body_html, message_id,"
                " status, attempts, next_attempt_at, created_at, priority, topic, expires_at)"
                " VALUES (?, ?, ?, ?, ?, ?, 'queued', 0, ?, ?, ?, ?, ?)",
                [kind, json.dumps(to), subject, text, html, new_message_id(), now, now,
                 int(priority), topic, expires],
            )  # fmt: skip
            assert cursor.lastrowid is not None
            if topic is not None:
                self._drop_superseded(now, "topic = ?", topic)
        if priority == URGENT:
            from apexdir.state import wake

            wake.notify(self.db)  # after the commit: the daemon must find the row
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
        partner's validation mail still precedes the login code that follows it. Codes and
        links (priority 0) are outside that rule: they never wait for an older message in
        its backoff, and no message waits for them.
        """
        now = self.clock()
        params: dict[str, Any] = {
            "now": iso(now),
            "until": iso(now + timedelta(seconds=lease_seconds)),
            "worker": worker,
            "limit": -1 if limit is None else limit,
        }
        with guarded(self.db, "claim messages"), immediate(self.db):
            self._drop_superseded(params["now"])  # released or left to expire since
            rows = self._with_predecessors(list(self.db.query(DUE_SQL, params)), params)
            if rows:
                ids = [row["id"] for row in rows]
                self.db.execute(
                    "UPDATE outbox SET status = 'sending', claimed_by = ?, claimed_until = ?"
                    f" WHERE id IN ({', '.join('?' * len(ids))})",
                    [worker, params["until"], *ids],
                )
        return [_message(row) for row in rows]

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
                [iso(self.clock()), clip(note), id],
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
                [(now, clip(note), id) for id, note in sent],
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

    def expire(self) -> dict[str, int]:
        """Give up the codes and links past their use: `failed`, never sent late (a partner
        asks for a new one). How many of each kind were given up."""
        now = iso(self.clock())
        where = (" WHERE expires_at <= :now AND (status = 'queued'"
                 "      OR (status = 'sending' AND claimed_until <= :now))")  # fmt: skip
        with guarded(self.db, "give up expired messages"), immediate(self.db):
            counts = dict(
                self.db.execute(
                    f"SELECT kind, COUNT(*) FROM outbox {where} GROUP BY kind", {"now": now}
                ).fetchall()
            )
            if counts:
                self.db.execute(
                    "UPDATE outbox SET status = 'failed', claimed_by = NULL, claimed_until = NULL,"
                    " last_error = 'not delivered within its validity'"
                    f"     || coalesce(': ' || last_error, '') {where}",
                    {"now": now},
                )
        return counts

    def mark_retry(
        self,
        id: int,
        error: str,
        max_attempts: int,
        backoff_seconds: float,
        brief_seconds: float = 1.0,
    ) -> Status:
        """Count a failed attempt: queued again after a delay, or 'failed'.

        A message with an expiry (a code, a link) is tried again every `brief_seconds` while
        it is valid; the others after an exponential backoff, `max_attempts` times. A code
        superseded while it was being sent (the newer one could not drop it under its claim)
        is dropped now: only the newest code may go out. Returns the new status.
        """
        now = self.clock()
        with guarded(self.db, "record a failed delivery"), immediate(self.db):
            row = self.db.execute(
                "SELECT attempts, expires_at, topic FROM outbox WHERE id = ?", [id]
            ).fetchone()
            if row is None:
                raise NotFound(f"no message {id} in the outbox")
            attempts = int(row[0]) + 1
            if row[1] is not None:
                delay = timedelta(seconds=brief_seconds)
                failed = iso(now + delay) >= row[1]
            else:
                delay = timedelta(seconds=backoff_seconds * 2 ** (attempts - 1))
                failed = attempts >= max_attempts
            status: Status = "failed" if failed else "queued"
            self.db.execute(
                "UPDATE outbox SET status = ?, attempts = ?, last_error = ?, next_attempt_at = ?,"
                " claimed_by = NULL, claimed_until = NULL WHERE id = ?",
                [status, attempts, clip(error), iso(now + delay), id],
            )
            # Superseded while it was being sent (its claim kept the newer from dropping it):
            # dropped now rather than when a claim next comes.
            superseded = status == "queued" and row[2] is not None
            if superseded and self._drop_superseded(iso(now), "id = ?", id):
                return "dropped"
        return status

    def _drop_superseded(self, now: str, where: str = "1", *params: Any) -> int:
        """The rule of topics, in one place: a message of a topic with a newer message never
        goes out (a newer code voids the older one in the directory). Dropped when waiting,
        or claimed under an expired lease; one under a live claim is being sent and cannot
        be stopped — its claim ends sent, failed (`mark_retry`), released or expired, and
        this runs at each of those (enqueue, retry, claim). `where` narrows it."""
        return self.db.execute(
            "UPDATE outbox SET status = 'dropped', body_text = NULL, body_html = NULL,"
            " claimed_by = NULL, claimed_until = NULL, last_error = 'superseded by message '"
            " || (SELECT MIN(n.id) FROM outbox AS n WHERE n.topic = outbox.topic"
            "     AND n.id > outbox.id)"
            " WHERE topic IS NOT NULL"
            " AND (status = 'queued' OR (status = 'sending' AND claimed_until <= ?))"
            " AND EXISTS (SELECT 1 FROM outbox AS n WHERE n.topic = outbox.topic"
            "     AND n.id > outbox.id)"
            f" AND {where}",
            [now, *params],
        ).rowcount

    def mark_failed(self, id: int, error: str) -> None:
        """The server refused the message for good (a 5xx): `failed` after this one try."""
        with guarded(self.db, "record a refused delivery"):
            self.db.execute(
                "UPDATE outbox SET status = 'failed', attempts = attempts + 1, last_error = ?,"
                " claimed_by = NULL, claimed_until = NULL WHERE id = ?",
                [clip(error), id],
            )

    def cancel(self, id: int, why: str) -> None:
        """A queued message that must not go out (the write it announced failed): dropped,
        with the reason, unless a delivery already took it."""
        with guarded(self.db, "cancel a message"):
            self.db.execute(
                "UPDATE outbox SET status = 'dropped', last_error = ?, body_text = NULL,"
                " body_html = NULL WHERE id = ? AND status = 'queued'",
                [clip(why), id],
            )

    def next_due(self, priority: int | None = None) -> datetime | None:
        """When the next queued message (of `priority`) is due: a daemon times its next
        pass by it."""
        where, params = ("AND priority = ?", [priority]) if priority is not None else ("", [])
        with guarded(self.db, "read the outbox"):
            (moment,) = self.db.execute(
                f"SELECT MIN(next_attempt_at) FROM outbox WHERE status = 'queued' {where}",
                params,
            ).fetchone()
        return datetime.fromisoformat(moment) if moment else None

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
