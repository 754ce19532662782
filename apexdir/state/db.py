"""Open the state store: one SQLite file shared by the CLI and the daemon.

Both may write at the same moment, so the file runs in WAL mode (readers never block the
writer), every connection waits up to `BUSY_TIMEOUT_MS` for the write lock instead of failing
at once, and writers keep their transactions short. The schema is versioned with
sqlite-utils' `Migrations`: add a new migration function, never edit an applied one.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import sqlite_utils
from sqlite_utils.migrations import Migrations

from apexdir.errors import Unavailable

BUSY_TIMEOUT_MS = 10_000
FOLDER_MODE = 0o700
FILE_MODE = 0o600

migrations = Migrations("apexdir.state")


@migrations()
def m001_outbox(db: sqlite_utils.Database) -> None:
    db.execute(
        """
        CREATE TABLE outbox (
            id INTEGER PRIMARY KEY,
            kind TEXT NOT NULL CHECK (kind IN ('mail', 'sms')),
            recipients TEXT NOT NULL,
            subject TEXT,
            body_text TEXT,
            body_html TEXT,
            message_id TEXT NOT NULL UNIQUE,
            status TEXT NOT NULL DEFAULT 'queued'
                CHECK (status IN ('queued', 'sending', 'sent', 'failed')),
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at TEXT NOT NULL,
            last_error TEXT,
            created_at TEXT NOT NULL,
            sent_at TEXT,
            claimed_by TEXT,
            claimed_until TEXT
        )
        """
    )
    db.execute("CREATE INDEX outbox_due ON outbox (status, next_attempt_at)")
    # The claim checks for older pending messages to the same recipients (ordering).
    db.execute("CREATE INDEX outbox_recipients ON outbox (recipients, id)")


@migrations()
def m002_journal(db: sqlite_utils.Database) -> None:
    db.execute(
        """
        CREATE TABLE journal (
            id INTEGER PRIMARY KEY,
            at TEXT NOT NULL,
            operator TEXT,
            actor TEXT,
            action TEXT NOT NULL,
            target TEXT,
            details TEXT
        )
        """
    )
    db.execute("CREATE INDEX journal_at ON journal (at)")


@migrations()
def m003_job_state(db: sqlite_utils.Database) -> None:
    db.execute(
        """
        CREATE TABLE job_state (
            name TEXT PRIMARY KEY,
            cursor TEXT,
            updated_at TEXT NOT NULL
        )
        """
    )


@migrations()
def m004_outbox_priority(db: sqlite_utils.Database) -> None:
    # Lowest first (apexdir.mail.render.priority): login and reset codes before mass mails.
    # Existing rows take the middle value, as new mails of no particular urgency do.
    db.execute("ALTER TABLE outbox ADD COLUMN priority INTEGER NOT NULL DEFAULT 1")
    # The claim walks pending rows in (priority, id) order; sent rows, kept for weeks, are
    # outside this partial index and cost the claim nothing.
    db.execute(
        "CREATE INDEX outbox_pending ON outbox (priority, id) WHERE status IN ('queued', 'sending')"
    )


@migrations()
def m005_rate_events(db: sqlite_utils.Database) -> None:
    # The rate-limit table was created outside the migrations by earlier versions: IF NOT
    # EXISTS keeps their rows. Counting reads (bucket, at); pruning reads `at` alone, and
    # without its own index every pruning DELETE scanned the whole table (61 ms at 1 M
    # rows, under the write lock: issue 23).
    db.execute("CREATE TABLE IF NOT EXISTS rate_events (bucket TEXT NOT NULL, at TEXT NOT NULL)")
    db.execute("CREATE INDEX IF NOT EXISTS rate_events_bucket_at ON rate_events (bucket, at)")
    db.execute("CREATE INDEX IF NOT EXISTS rate_events_at ON rate_events (at)")


@migrations()
def m006_outbox_topics(db: sqlite_utils.Database) -> None:
    """Issue 23: a code supersedes the older code of its account and purpose (`topic`), a
    code or link is not sent past its use (`expires_at`), and two more states: `dropped`
    (superseded or expired, never sent) and `held` (kept back for an operator after a
    restore). SQLite cannot change a CHECK constraint in place: the table is rebuilt."""
    db.execute(
        """
        CREATE TABLE outbox_new (
            id INTEGER PRIMARY KEY,
            kind TEXT NOT NULL CHECK (kind IN ('mail', 'sms')),
            recipients TEXT NOT NULL,
            subject TEXT,
            body_text TEXT,
            body_html TEXT,
            message_id TEXT NOT NULL UNIQUE,
            status TEXT NOT NULL DEFAULT 'queued'
                CHECK (status IN ('queued', 'sending', 'sent', 'failed', 'dropped', 'held')),
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at TEXT NOT NULL,
            last_error TEXT,
            created_at TEXT NOT NULL,
            sent_at TEXT,
            claimed_by TEXT,
            claimed_until TEXT,
            priority INTEGER NOT NULL DEFAULT 1,
            topic TEXT,
            expires_at TEXT
        )
        """
    )
    columns = ("id, kind, recipients, subject, body_text, body_html, message_id, status,"
               " attempts, next_attempt_at, last_error, created_at, sent_at, claimed_by,"
               " claimed_until, priority")  # fmt: skip
    db.execute(f"INSERT INTO outbox_new ({columns}) SELECT {columns} FROM outbox")
    db.execute("DROP TABLE outbox")
    db.execute("ALTER TABLE outbox_new RENAME TO outbox")
    db.execute("CREATE INDEX outbox_due ON outbox (status, next_attempt_at)")
    db.execute("CREATE INDEX outbox_recipients ON outbox (recipients, id)")
    db.execute(
        "CREATE INDEX outbox_pending ON outbox (priority, id) WHERE status IN ('queued', 'sending')"
    )
    db.execute("CREATE INDEX outbox_topic ON outbox (topic) WHERE status IN ('queued', 'sending')")


@migrations()
def m007_journal_counts(db: sqlite_utils.Database) -> None:
    """Issue 23: a metrics scrape counted 400 days of journal (1.5 s at 5 M rows). The
    counts are kept as events are journaled, by a trigger in the same transaction as the
    insert, so every writer (portal, daemon, CLI) keeps them without knowing; trimming the
    journal leaves them as they are (they are counters: they only grow)."""
    db.execute("CREATE TABLE journal_counts (action TEXT PRIMARY KEY, count INTEGER NOT NULL)")
    db.execute(
        "INSERT INTO journal_counts (action, count) SELECT action, COUNT(*) FROM journal"
        " GROUP BY action"
    )
    db.execute(
        """
        CREATE TRIGGER journal_counted AFTER INSERT ON journal BEGIN
            INSERT INTO journal_counts (action, count) VALUES (NEW.action, 1)
            ON CONFLICT (action) DO UPDATE SET count = count + 1;
        END
        """
    )


@migrations()
def m008_history_backlog(db: sqlite_utils.Database) -> None:
    """Issue 21 item 8: an event of a structure's history is written to the directory as it
    is journaled; one the directory did not take (a provider down) waits here, as JSON,
    and is written again at the next event or by the nightly housekeeping."""
    db.execute(
        "CREATE TABLE history_backlog (id INTEGER PRIMARY KEY, event TEXT NOT NULL,"
        " created_at TEXT NOT NULL)"
    )


@migrations()
def m009_reset_requests(db: sqlite_utils.Database) -> None:
    """The forgotten-password requests waiting for the outbox job (`resetqueue`). Earlier
    versions created the table outside the migrations, when first needed: IF NOT EXISTS
    keeps their table and its rows (the same columns)."""
    db.execute(
        "CREATE TABLE IF NOT EXISTS reset_requests (id INTEGER PRIMARY KEY,"
        " identifier TEXT NOT NULL, created_at TEXT NOT NULL, claimed_until TEXT NOT NULL)"
    )


@migrations()
def m010_outbox_topic_order(db: sqlite_utils.Database) -> None:
    """Whether a message of a topic has a newer one, whatever their statuses: a code
    superseded under a claim that ended unsent is dropped at the next claim."""
    db.execute("CREATE INDEX outbox_topic_order ON outbox (topic, id) WHERE topic IS NOT NULL")


def iso(moment: datetime) -> str:
    """The one text form of a moment in the store: UTC, to the second.

    One fixed-width form is what makes `ORDER BY` and `<=` on these columns correct.
    """
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def store_path(db: sqlite_utils.Database) -> str:
    try:
        for row in db.conn.execute("PRAGMA database_list"):
            if row[1] == "main":
                return str(row[2]) or ":memory:"
    except sqlite3.Error:
        pass
    return "state store"


@contextmanager
def guarded(db: sqlite_utils.Database, doing: str) -> Iterator[None]:
    """Turn SQLite failures (locked too long, disk full, read-only…) into `Unavailable`."""
    try:
        yield
    except sqlite3.Error as exc:
        raise Unavailable(f"state store {store_path(db)}: cannot {doing}: {exc}") from exc


@contextmanager
def immediate(db: sqlite_utils.Database) -> Iterator[sqlite_utils.Database]:
    """A write transaction that takes the write lock up front.

    A deferred transaction that reads then writes can hit SQLITE_BUSY without waiting when
    another process wrote in between; BEGIN IMMEDIATE waits (busy_timeout) and then sees a
    stable state, which is what makes a claim atomic between the CLI and the daemon.
    """
    db.conn.execute("BEGIN IMMEDIATE")
    try:
        yield db
    except BaseException:
        db.rollback()
        raise
    else:
        try:
            db.conn.execute("COMMIT")
        except BaseException:
            db.rollback()
            raise


def open_store(path: Path) -> sqlite_utils.Database:
    """Open (creating if needed) the state store at `path` and bring its schema up to date."""
    path = Path(path)
    try:
        # Queued mails hold login codes and links: the folder apexdir creates for the store
        # is its owner's only (an existing folder is the administrator's choice).
        path.parent.mkdir(parents=True, exist_ok=True, mode=FOLDER_MODE)
        _create_private(path)
    except OSError as exc:
        raise Unavailable(
            f"state store {path}: cannot create {path.parent}: {exc.strerror}"
        ) from exc
    try:
        conn = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_MS / 1000)
    except sqlite3.Error as exc:
        raise Unavailable(f"state store {path}: cannot open: {exc}") from exc
    # No sqlite-utils plugins: apexdir uses none, and looking for them read the entry points
    # of every installed distribution (≈ 20 ms of CPU at every process's first store).
    db = sqlite_utils.Database(conn, execute_plugins=False)
    try:
        db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        # A new store frees pages a little at a time (housekeeping's incremental vacuum)
        # instead of a VACUUM that holds the write lock for seconds; set before the first
        # table, where it needs no rebuild. An older store is converted once by housekeeping.
        if not db.execute("PRAGMA page_count").fetchone()[0]:
            db.execute("PRAGMA auto_vacuum = INCREMENTAL")
        db.enable_wal()
        # Without foreign keys there is nothing else to switch on; synchronous
        # NORMAL is durable enough in WAL mode and avoids an fsync per spool write.
        db.execute("PRAGMA synchronous = NORMAL")
        _migrate(db)
    except sqlite3.Error as exc:
        db.close()
        raise Unavailable(f"state store {path}: cannot open: {exc}") from exc
    return db


def _create_private(path: Path) -> None:
    """Create the database file 0600 before SQLite opens it, when it does not exist yet.

    SQLite creates the -wal and -shm files with the permissions of the database file, so
    they are 0600 too; no process-wide umask is changed (the daemon runs threads).
    """
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except FileExistsError:
        return  # another process made it first, or it exists: it is opened as it is
    os.close(fd)


def _migrate(db: sqlite_utils.Database) -> None:
    if not migrations.pending(db):
        return
    # Two processes may open a fresh file at once: holding the write lock while applying
    # makes the second one wait, then find nothing left to apply.
    with immediate(db):
        migrations.apply(db)
