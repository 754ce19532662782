"""Node-local rate limits (forgotten-password requests): sliding windows in the state store.

The counters are per node, like the spool: with N nodes behind a load balancer the limits
are at worst N times looser, which is enough against a script hammering one address and
needs no shared store. Keys are hashed, so identifiers typed by anonymous people (often
junk, sometimes personal data) are not kept in clear.

The table lives outside the versioned migrations of `apexdir.state.db` (owned elsewhere):
it is created when first needed, `CREATE TABLE IF NOT EXISTS` being idempotent.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlite_utils

from apexdir.state.db import guarded, immediate, iso

TABLE = "rate_events"
_SCHEMA = [
    f"CREATE TABLE IF NOT EXISTS {TABLE} (bucket TEXT NOT NULL, at TEXT NOT NULL)",
    f"CREATE INDEX IF NOT EXISTS {TABLE}_bucket_at ON {TABLE} (bucket, at)",
]
# Events older than the longest window are useless; dropped as new ones arrive.
RETENTION = timedelta(days=1)


@dataclass(frozen=True)
class Limit:
    """At most `count` events of `key` within `window`."""

    key: str
    count: int
    window: timedelta


def ensure_table(db: sqlite_utils.Database) -> None:
    with guarded(db, "create the rate-limit table"):
        for statement in _SCHEMA:
            db.execute(statement)


def _bucket(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def allow(db: sqlite_utils.Database, limits: list[Limit], now: datetime) -> bool:
    """Count one event against every limit, atomically; False (and nothing counted) when
    any limit is reached — a refused attempt does not extend the wait of the next one."""
    ensure_table(db)
    with guarded(db, "check the rate limits"), immediate(db):
        for limit in limits:
            (used,) = db.execute(
                f"SELECT COUNT(*) FROM {TABLE} WHERE bucket = ? AND at > ?",
                [_bucket(limit.key), iso(now - limit.window)],
            ).fetchone()
            if used >= limit.count:
                return False
        for limit in limits:
            db.execute(f"INSERT INTO {TABLE} (bucket, at) VALUES (?, ?)",
                       [_bucket(limit.key), iso(now)])  # fmt: skip
        db.execute(f"DELETE FROM {TABLE} WHERE at < ?", [iso(now - RETENTION)])
    return True


def reached(db: sqlite_utils.Database, limit: Limit, now: datetime) -> bool:
    """Whether `limit` is used up now, counting nothing."""
    ensure_table(db)
    with guarded(db, "read the rate limits"):
        (used,) = db.execute(
            f"SELECT COUNT(*) FROM {TABLE} WHERE bucket = ? AND at > ?",
            [_bucket(limit.key), iso(now - limit.window)],
        ).fetchone()
    return bool(used >= limit.count)
