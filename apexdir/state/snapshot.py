"""A copy of the state store that stands alone: what a backup keeps and a restore puts back.

SQLite's online backup API copies a consistent state while the CLI and the daemon keep
writing; the copy leaves WAL mode, so that it is one self-contained file (mode 600: it holds
queued mails with codes and links).
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Any

from apexdir.errors import Unavailable


def copy(source: Path, destination: Path) -> None:
    """`source` copied into `destination` (replaced), with SQLite's online backup."""
    destination.unlink(missing_ok=True)
    os.close(os.open(destination, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600))
    try:
        src = sqlite3.connect(str(source), timeout=10)
        dst = sqlite3.connect(str(destination))
        try:
            with dst:
                src.backup(dst)
            # One self-contained file: a copy in WAL mode would need its -wal beside it.
            dst.execute("PRAGMA journal_mode = DELETE")
        finally:
            src.close()
            dst.close()
    except sqlite3.Error as exc:
        raise Unavailable(f"state store {source}: cannot copy to {destination}: {exc}") from exc


def _tables(conn: sqlite3.Connection) -> list[str]:
    """The store's tables but SQLite's and the migrations' own bookkeeping."""
    rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
    return [r[0] for r in rows if not r[0].startswith(("sqlite_", "_sqlite_migrations"))]


def counts(path: Path) -> dict[str, Any]:
    """{"tables": rows per table, "outbox_queued": mails and SMS waiting} of a copy."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        names = _tables(conn)
        # Names come from the store's own catalogue, quoted: nothing user-given reaches SQL.
        tables = {t: conn.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in names}
        queued = 0
        if "outbox" in names:
            sql = "SELECT count(*) FROM outbox WHERE status = 'queued'"
            queued = conn.execute(sql).fetchone()[0]
    finally:
        conn.close()
    return {"tables": tables, "outbox_queued": queued}


def in_use(path: Path) -> bool:
    """Whether the store at `path` holds any row (or is something else than a store)."""
    if not path.exists() or path.stat().st_size == 0:
        return False
    try:
        conn = sqlite3.connect(str(path), timeout=10)
        try:
            return any(
                conn.execute(f'SELECT 1 FROM "{t}" LIMIT 1').fetchone() for t in _tables(conn)
            )
        finally:
            conn.close()
    except sqlite3.Error:
        return True  # something that is not an empty store: never overwrite it silently
