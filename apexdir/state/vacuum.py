"""Giving the state store's free pages back without blocking its writers (issue 23)."""

from __future__ import annotations

import sqlite_utils

from apexdir.state.db import guarded

# Pages given back per step: each step is a short write transaction, so writers (the
# portal's rate limits, the outbox) wait milliseconds, not the seconds a whole VACUUM of a
# large store held the write lock for (5.5 s at 1.2 GB: issue 23).
VACUUM_STEP_PAGES = 2_000


def free_pages(db: sqlite_utils.Database) -> int:
    """Give the free pages back to the file system a step at a time, then truncate the
    write-ahead log. A store made before incremental vacuum is converted once (one full
    VACUUM, at this nightly job, never on a request)."""
    freed = 0
    with guarded(db, "vacuum the state store"):
        if db.execute("PRAGMA auto_vacuum").fetchone()[0] != 2:
            (freed,) = db.execute("PRAGMA freelist_count").fetchone()
            db.execute("PRAGMA auto_vacuum = INCREMENTAL")
            db.execute("VACUUM")
        (free,) = db.execute("PRAGMA freelist_count").fetchone()
        while free:
            # The pragma frees a page per step of its statement: read it to the end.
            db.execute(f"PRAGMA incremental_vacuum({VACUUM_STEP_PAGES})").fetchall()
            (left,) = db.execute("PRAGMA freelist_count").fetchone()
            if left >= free:
                break  # nothing more can be given back now
            freed, free = freed + free - left, left
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return freed
