"""Where the development sinks keep what they capture: `DIR/sinks.db` (owner-only), the
ports file, the « refusing » flag, and the in-process SMTP handlers to flush before a read."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import weakref
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

DB_NAME = "sinks.db"
PORTS_FILE = "sinks.json"
# A file rather than an attribute, so that a test or an operator can make a sink running in
# another process refuse too.
REFUSING_FLAG = "refusing"
# Recipients whose local part ends so (e.g. `nobody-refused@example.org`) get a permanent
# 550, to exercise the refusal of one message among others.
REFUSED_SUFFIX = "-refused"
# A recipient ending so is refused for now (451): the tests of retries and ordering.
DEFERRED_SUFFIX = "-deferred"
# How often the write-ahead log is copied into the database (and fsynced), off the SMTP path.
CHECKPOINT_SECONDS = 1.0
# Accepted mails are committed in one transaction per FLUSH_EVERY mails, and at the latest
# FLUSH_SECONDS after the oldest of them was answered 250 (and when the sink stops).
FLUSH_EVERY = 100
FLUSH_SECONDS = 0.1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS mails (
    id INTEGER PRIMARY KEY,
    mail_from TEXT,
    recipients TEXT NOT NULL,
    subject TEXT,
    body TEXT,
    html TEXT,
    message_id TEXT,
    date TEXT NOT NULL,
    raw BLOB
);
CREATE TABLE IF NOT EXISTS sms (
    id INTEGER PRIMARY KEY,
    "to" TEXT NOT NULL,
    body TEXT NOT NULL,
    date TEXT NOT NULL
);
"""


def _prepare(conn: sqlite3.Connection) -> None:
    conn.executescript(_SCHEMA)
    columns = {row[1] for row in conn.execute("PRAGMA table_info(mails)")}
    if "raw" not in columns:  # a sinks.db of an earlier version (`apexdir dev up` keeps it)
        with contextlib.suppress(sqlite3.OperationalError):  # another process added it
            conn.execute("ALTER TABLE mails ADD COLUMN raw BLOB")


FOLDER_MODE = 0o700
FILE_MODE = 0o600


def private_folder(directory: Path) -> Path:
    """The sinks' folder, its owner's only: what it holds is what real mails and SMS hold
    (login codes, reset links) and the dev captcha's answer (like apexdir.state.db)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True, mode=FOLDER_MODE)
    directory.chmod(FOLDER_MODE)  # a folder made by an earlier version
    return directory


def _private_db(directory: Path) -> str:
    """sinks.db created 0600 before SQLite opens it (its -wal and -shm files take the
    database's mode); one of an earlier version is closed to others."""
    path = private_folder(directory) / DB_NAME
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))
    except FileExistsError:
        for name in (DB_NAME, DB_NAME + "-wal", DB_NAME + "-shm"):
            with contextlib.suppress(FileNotFoundError):
                (path.parent / name).chmod(FILE_MODE)
    return str(path)


def write_private(path: Path, text: str) -> None:
    """Write `text` to `path` atomically (a reader never sees half of it), mode 0600."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)
    os.chmod(tmp, FILE_MODE)  # a .tmp left by an earlier version keeps its mode otherwise
    tmp.replace(path)


@contextlib.contextmanager
def _connect(directory: Path) -> Iterator[sqlite3.Connection]:
    conn = sqlite3.connect(_private_db(directory), timeout=10)
    try:
        _prepare(conn)
        with conn:
            yield conn
    finally:
        conn.close()


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _refusing(directory: Path) -> bool:
    return (Path(directory) / REFUSING_FLAG).exists()


def set_refusing(directory: Path, refusing: bool) -> None:
    flag = Path(directory) / REFUSING_FLAG
    if refusing:
        flag.touch()
    else:
        flag.unlink(missing_ok=True)


# The SMTP handlers running in this process: a reader here (the tests, which run the sinks
# in-process) flushes them first, so that it sees every mail already answered 250.
_LIVE: weakref.WeakSet[Any] = weakref.WeakSet()  # the SMTP handlers (apexdir.dev.sinks)


def _flush_live(directory: Path) -> None:
    wanted = Path(directory).resolve()
    for handler in list(_LIVE):
        if Path(handler.directory).resolve() == wanted:
            handler.flush()
