"""Where each daemon job left off (e.g. the change feed's last accesslog entry)."""

from __future__ import annotations

import sqlite_utils

from apexdir.clock import Clock, system_clock
from apexdir.state.db import guarded, iso


def get_cursor(db: sqlite_utils.Database, name: str) -> str | None:
    with guarded(db, f"read the cursor of job {name}"):
        row = db.execute("SELECT cursor FROM job_state WHERE name = ?", [name]).fetchone()
    return None if row is None else row[0]


def set_cursor(
    db: sqlite_utils.Database, name: str, value: str | None, *, clock: Clock = system_clock
) -> None:
    with guarded(db, f"save the cursor of job {name}"):
        db.execute(
            "INSERT INTO job_state (name, cursor, updated_at) VALUES (?, ?, ?)"
            " ON CONFLICT (name) DO UPDATE SET cursor = excluded.cursor,"
            " updated_at = excluded.updated_at",
            [name, value, iso(clock())],
        )
