"""Forgotten-password requests waiting for the outbox job (issue 12, item 4).

An anonymous `forgot` answers at once after one row here, whatever the identifier: whether
it names an account, has a mobile or nothing at all is decided by the outbox job, which
looks the identifier up and queues the SMS or the mail (`auth.process_reset_request`). So
the answer's time tells nothing about who exists. A row holds only the identifier typed,
and is deleted once handled; a directory outage leaves it for the next pass (a lease, like
the spool's claims), and a request older than the reset validity is dropped unanswered.

The table is made by the store's migrations (`apexdir.state.db.m009_reset_requests`).
"""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlite_utils

from apexdir.state.db import guarded, immediate, iso

TABLE = "reset_requests"


def enqueue(db: sqlite_utils.Database, identifier: str, now: datetime) -> None:
    with guarded(db, "queue a reset request"):
        db.execute(
            f"INSERT INTO {TABLE} (identifier, created_at, claimed_until) VALUES (?, ?, ?)",
            [identifier, iso(now), iso(now)],
        )
    from apexdir.state import wake

    wake.notify(db)  # the requester waits for his code or link: the daemon looks now


def pending(db: sqlite_utils.Database) -> int:
    with guarded(db, "count the reset requests"):
        (count,) = db.execute(f"SELECT COUNT(*) FROM {TABLE}").fetchone()
    return int(count)


def claim(
    db: sqlite_utils.Database, now: datetime, lease: timedelta, limit: int
) -> list[tuple[int, str, datetime]]:
    """Take up to `limit` due requests (unclaimed, or under an expired lease), oldest first:
    (id, identifier, created_at)."""
    with guarded(db, "claim reset requests"), immediate(db):
        rows = db.execute(
            f"SELECT id, identifier, created_at FROM {TABLE} WHERE claimed_until <= ?"
            " ORDER BY id LIMIT ?",
            [iso(now), limit],
        ).fetchall()
        if rows:
            ids = [row[0] for row in rows]
            db.execute(
                f"UPDATE {TABLE} SET claimed_until = ? WHERE id IN ({', '.join('?' * len(ids))})",
                [iso(now + lease), *ids],
            )
    return [(int(i), str(who), datetime.fromisoformat(at)) for i, who, at in rows]


def done(db: sqlite_utils.Database, request_id: int) -> None:
    """Handled (or given up): the typed identifier is not kept."""
    with guarded(db, "remove a reset request"):
        db.execute(f"DELETE FROM {TABLE} WHERE id = ?", [request_id])
