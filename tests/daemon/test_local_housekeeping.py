"""Housekeeping of node-local state on every node, lease or not (issue 13, item 7)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from apexdir.clock import FrozenClock
from apexdir.config import Settings
from apexdir.daemon import app
from apexdir.daemon.jobs import housekeeping
from apexdir.state.db import open_store
from apexdir.state.journal import Journal
from apexdir.state.outbox import Outbox

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """A node whose directory cannot be reached: the local part must not need it."""
    return Settings.model_validate(
        {
            "ldap": {"uris": ["ldap://127.0.0.1:1"], "base_dn": "dc=x", "bind_dn": "cn=x",
                     "bind_password": "x"},
            "state": {"path": str(tmp_path / "state.db")},
            "daemon": {"housekeeping_cron": "0 3 * * *"},
        }
    )  # fmt: skip


def fill(settings: Settings) -> None:
    """One old and one recent row in the journal and in the sent spool, one queued old mail."""
    db = open_store(settings.state.path)
    old = FrozenClock(NOW - timedelta(days=settings.policy.journal_retention_days + 1))
    recent = FrozenClock(NOW - timedelta(days=1))
    for clock in (old, recent):
        Journal(db, clock).record("some.action", None, actor=None)
        box = Outbox(db, clock)
        box.mark_sent(box.enqueue_mail(["x@example.org"], "s", "t", None))
    Outbox(db, old).enqueue_mail(["y@example.org"], "s", "t", None)
    db.close()


def remaining(settings: Settings) -> tuple[int, list[str]]:
    db = open_store(settings.state.path)
    try:
        journal = db.execute("SELECT count(*) FROM journal").fetchone()[0]
        statuses = [r[0] for r in db.execute("SELECT status FROM outbox ORDER BY id")]
    finally:
        db.close()
    return int(journal), statuses


def test_local_part_trims_without_the_directory(settings: Settings) -> None:
    """run_local_once trims the journal and the sent spool, keeps what is recent or pending."""
    fill(settings)
    counts = housekeeping.run_local_once(settings, FrozenClock(NOW))
    assert counts == {
        "journal_trimmed": 1,
        "outbox_purged": 1,
        "pages_freed": counts["pages_freed"],
    }
    assert remaining(settings) == (1, ["sent", "queued"])


def test_every_node_schedules_the_local_part(settings: Settings) -> None:
    """The daemon schedules local_housekeeping outside the lease's jobs, on housekeeping_cron,
    and running it on a node without the lease (nor any directory) trims that node's store."""
    fill(settings)
    daemon = app.Daemon(settings, FrozenClock(NOW))
    scheduler = daemon._scheduler()
    jobs = {job.id: job for job in scheduler.get_jobs()}
    assert "local_housekeeping" in jobs and "local_housekeeping" in app.LOCAL_JOBS
    assert "local_housekeeping" not in app.DIRECTORY_JOBS
    assert str(jobs["local_housekeeping"].trigger) == str(jobs["housekeeping"].trigger)
    # Only the directory jobs are paused while the lease is not held (Daemon.run).
    assert set(jobs) - set(app.DIRECTORY_JOBS) == set(app.LOCAL_JOBS)
    asyncio.run(daemon._job("local_housekeeping")())
    assert remaining(settings) == (1, ["sent", "queued"])


def test_directory_part_is_what_the_lease_holder_runs() -> None:
    """The lease holder's housekeeping job runs the directory part only."""
    assert app.RUNNERS["housekeeping"] == ("housekeeping", "run_directory_once")
    assert callable(housekeeping.run_directory_once)


def test_event_counts_are_kept_as_events_happen(tmp_path: Path) -> None:
    """Issue 23 item 4: metrics read counters kept by the journal's trigger, not a count of
    400 days of journal; trimming the journal does not take them back."""
    from apexdir.state.db import open_store
    from apexdir.state.journal import Journal

    db = open_store(tmp_path / "state.db")
    journal = Journal(db)
    for action in ("auth.login", "auth.login", "auth.verified"):
        journal.record(action, "x", actor=None, operator="t")
    counts = dict(db.execute("SELECT action, count FROM journal_counts").fetchall())
    assert counts == {"auth.login": 2, "auth.verified": 1}
    db.execute("DELETE FROM journal")
    assert dict(db.execute("SELECT action, count FROM journal_counts").fetchall()) == counts


def test_free_pages_gives_space_back_in_steps(tmp_path: Path) -> None:
    """The state store frees pages incrementally (no whole VACUUM holding the write lock),
    and a store made before that is converted once."""
    import sqlite3

    from apexdir.state.db import open_store
    from apexdir.state.vacuum import free_pages

    old = tmp_path / "old.db"
    sqlite3.connect(old).execute("CREATE TABLE t (x)").connection.close()  # auto_vacuum NONE
    db = open_store(old)
    db.execute("CREATE TABLE filler (x TEXT)")
    with db.conn:
        db.conn.executemany("INSERT INTO filler VALUES (?)", (("x" * 500,) for _ in range(5000)))
    db.execute("DELETE FROM filler")
    before = old.stat().st_size
    assert free_pages(db) > 0
    assert db.execute("PRAGMA auto_vacuum").fetchone()[0] == 2
    assert db.execute("PRAGMA freelist_count").fetchone()[0] == 0
    assert old.stat().st_size < before
