"""Node-local rate limits and failure counters: sliding windows in the state store.

The counters are per node, like the spool: with N nodes behind a load balancer the limits
are at worst N times looser, which is enough against a script hammering one address and
needs no shared store. Keys are hashed, so identifiers typed by anonymous people (often
junk, sometimes personal data) are not kept in clear.

Every statement reads an index range, never the table: counting walks (bucket, at) within
one window (a bucket holds at most its limit's count there, refused events are not
recorded), pruning walks `at` below the retention. The cost of a call does not grow with
the table (issue 23: a full-scan DELETE cost 61 ms at 1 M rows under the write lock).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlite_utils

from apexdir.state.db import guarded, immediate, iso

TABLE = "rate_events"
# Events older than the longest window are useless; dropped as new ones arrive.
RETENTION = timedelta(days=1)
# Rows pruned per call: enough to keep up with any arrival rate (each call adds at most a
# few), bounded so that one call never holds the write lock for a backlog.
PRUNE_BATCH = 200


@dataclass(frozen=True)
class Limit:
    """At most `count` events of `key` within `window`."""

    key: str
    count: int
    window: timedelta


@dataclass(frozen=True)
class Usage:
    """What a key used within a window: how many events, the latest at what time."""

    count: int
    last: datetime | None


def _bucket(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def _used(db: sqlite_utils.Database, key: str, since: datetime) -> int:
    (used,) = db.execute(
        f"SELECT COUNT(*) FROM {TABLE} WHERE bucket = ? AND at > ?", [_bucket(key), iso(since)]
    ).fetchone()
    return int(used)


def _prune(db: sqlite_utils.Database, now: datetime) -> None:
    db.execute(
        f"DELETE FROM {TABLE} WHERE rowid IN (SELECT rowid FROM {TABLE} WHERE at < ? LIMIT ?)",
        [iso(now - RETENTION), PRUNE_BATCH],
    )


def allow(db: sqlite_utils.Database, limits: list[Limit], now: datetime) -> bool:
    """Count one event against every limit, atomically; False (and nothing counted) when
    any limit is reached — a refused attempt does not extend the wait of the next one."""
    with guarded(db, "check the rate limits"), immediate(db):
        for limit in limits:
            if _used(db, limit.key, now - limit.window) >= limit.count:
                return False
        for limit in limits:
            db.execute(f"INSERT INTO {TABLE} (bucket, at) VALUES (?, ?)",
                       [_bucket(limit.key), iso(now)])  # fmt: skip
        _prune(db, now)
    return True


def reached(db: sqlite_utils.Database, limit: Limit, now: datetime) -> bool:
    """Whether `limit` is used up now, counting nothing."""
    with guarded(db, "read the rate limits"):
        return _used(db, limit.key, now - limit.window) >= limit.count


def record(db: sqlite_utils.Database, keys: list[str], now: datetime) -> None:
    """Count one event of each key, whatever the limits (failures are counted after the
    fact: the attempt has been made)."""
    with guarded(db, "count an event"), immediate(db):
        for key in keys:
            db.execute(f"INSERT INTO {TABLE} (bucket, at) VALUES (?, ?)", [_bucket(key), iso(now)])
        _prune(db, now)


def usage(db: sqlite_utils.Database, key: str, window: timedelta, now: datetime) -> Usage:
    """The events of `key` within `window` before `now`: their number and the latest."""
    with guarded(db, "read the rate limits"):
        count, last = db.execute(
            f"SELECT COUNT(*), MAX(at) FROM {TABLE} WHERE bucket = ? AND at > ?",
            [_bucket(key), iso(now - window)],
        ).fetchone()
    return Usage(int(count), datetime.fromisoformat(last) if last else None)


def forgive(db: sqlite_utils.Database, key: str) -> None:
    """Take back the latest event of `key` (a login code that was redeemed is no longer
    one that someone may be misusing)."""
    with guarded(db, "update the rate limits"), immediate(db):
        db.execute(
            f"DELETE FROM {TABLE} WHERE rowid = (SELECT rowid FROM {TABLE} WHERE bucket = ? "
            "ORDER BY at DESC LIMIT 1)",
            [_bucket(key)],
        )


def clear(db: sqlite_utils.Database, key: str) -> None:
    """Forget every event of `key` (a success ends a series of failures)."""
    with guarded(db, "update the rate limits"), immediate(db):
        db.execute(f"DELETE FROM {TABLE} WHERE bucket = ?", [_bucket(key)])
