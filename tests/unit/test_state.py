"""The state store: migrations, the spool's claims and retries, the journal, job cursors."""

from __future__ import annotations

import os
import stat
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlite_utils
from sqlite_utils.migrations import Migrations

from apexdir.clock import FrozenClock
from apexdir.errors import Conflict, Invalid, NotFound, Unavailable
from apexdir.state import resetqueue
from apexdir.state.db import migrations, open_store
from apexdir.state.jobs import get_cursor, set_cursor
from apexdir.state.journal import Journal, os_user
from apexdir.state.outbox import Outbox


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture
def db(tmp_path: Path) -> sqlite_utils.Database:
    store = open_store(tmp_path / "var" / "state.db")
    yield store
    store.close()


@pytest.fixture
def outbox(db: sqlite_utils.Database, clock: FrozenClock) -> Outbox:
    return Outbox(db, clock)


def _queue(outbox: Outbox, to: str = "marie.martin@example.org", subject: str = "S") -> int:
    return outbox.enqueue_mail([to], subject, "texte", "<p>html</p>")


# -- store ----------------------------------------------------------------------------------


def test_open_store_creates_folders_tables_and_wal(tmp_path: Path) -> None:
    """A fresh path gets its folders, the three tables and WAL mode."""
    db = open_store(tmp_path / "a" / "b" / "state.db")
    assert {"outbox", "journal", "job_state"} <= set(db.table_names())
    assert db.journal_mode == "wal"
    assert db.execute("PRAGMA busy_timeout").fetchone()[0] == 10000
    db.close()


def test_store_is_private_to_its_owner(tmp_path: Path) -> None:
    """Queued mails hold login codes and links: a folder apexdir creates is 0700, the
    database and its -wal/-shm files are 0600, whatever the umask."""
    previous = os.umask(0o022)
    try:
        path = tmp_path / "var" / "lib" / "state.db"
        db = open_store(path)
        Outbox(db).enqueue_sms("+33612345678", "x")  # a write: the -wal file exists now
        files = [path, path.with_name("state.db-wal"), path.with_name("state.db-shm")]
        modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in files}
        assert modes == {"state.db": 0o600, "state.db-wal": 0o600, "state.db-shm": 0o600}
        assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
        db.close()
        # A folder that already exists is the administrator's: left as it is.
        shared = tmp_path / "shared"
        shared.mkdir(mode=0o755)
        open_store(shared / "state.db").close()
        assert stat.S_IMODE(shared.stat().st_mode) == 0o755
        assert stat.S_IMODE((shared / "state.db").stat().st_mode) == 0o600
    finally:
        os.umask(previous)


def test_migrations_are_idempotent(tmp_path: Path) -> None:
    """Opening the store again applies nothing twice and keeps the data."""
    path = tmp_path / "state.db"
    first = open_store(path)
    Outbox(first).enqueue_sms("+33612345678", "x")
    first.close()
    again = open_store(path)
    applied = [m.name for m in migrations.applied(again)]
    assert applied == [m.name for m in migrations._migrations]
    assert len(applied) == len(set(applied))
    assert migrations.pending(again) == []
    assert again["outbox"].count == 1
    again.close()


# How versions before m009 made the reset requests' table, when first needed (and, before
# m005, the rate limits' one): outside the migrations.
OLD_AD_HOC_TABLES = [
    "CREATE TABLE IF NOT EXISTS reset_requests (id INTEGER PRIMARY KEY, identifier TEXT NOT"
    " NULL, created_at TEXT NOT NULL, claimed_until TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS rate_events (bucket TEXT NOT NULL, at TEXT NOT NULL)",
]


def test_a_store_made_by_the_old_code_keeps_its_ad_hoc_tables(tmp_path: Path) -> None:
    """A store of the version before m009 (its migrations, then the tables the state
    modules made themselves, with rows) opens: m009 applies over the existing table,
    the rows are kept and used."""
    path = tmp_path / "state.db"
    older = Migrations("apexdir.state")
    older._migrations = [m for m in migrations._migrations if m.name < "m009"]
    old = sqlite_utils.Database(path)
    old.execute("PRAGMA auto_vacuum = INCREMENTAL")
    older.apply(old)
    for statement in OLD_AD_HOC_TABLES:
        old.execute(statement)
    at = "2026-01-15T09:00:00+00:00"
    old.execute("INSERT INTO reset_requests (identifier, created_at, claimed_until)"
                " VALUES ('marie.martin-px', ?, ?)", [at, at])  # fmt: skip
    old.execute("INSERT INTO rate_events (bucket, at) VALUES ('b', ?)", [at])
    old.conn.commit()
    old.close()
    assert "m009_reset_requests" not in {m.name for m in older._migrations}

    store = open_store(path)
    assert migrations.pending(store) == []
    assert resetqueue.pending(store) == 1
    now = datetime(2026, 1, 15, 9, 1, tzinfo=UTC)
    (claimed,) = resetqueue.claim(store, now, timedelta(minutes=1), 10)
    assert claimed[1] == "marie.martin-px"
    assert store["rate_events"].count == 1
    store.close()


def test_a_fresh_store_has_the_reset_requests_table(tmp_path: Path) -> None:
    """A new store gets `reset_requests` from its migrations, before any request."""
    store = open_store(tmp_path / "state.db")
    assert {"reset_requests", "rate_events"} <= set(store.table_names())
    assert "m009_reset_requests" in {m.name for m in migrations.applied(store)}
    assert resetqueue.pending(store) == 0
    now = datetime(2026, 1, 15, 9, 0, tzinfo=UTC)
    resetqueue.enqueue(store, "marie.martin-px", now)
    assert resetqueue.pending(store) == 1
    store.close()


def test_unusable_path_is_unavailable_and_named(tmp_path: Path) -> None:
    """A store under a regular file cannot be opened: Unavailable, naming the file."""
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(Unavailable, match=r"state store .*file/state\.db"):
        open_store(blocker / "state.db")


def test_not_a_database_is_unavailable(tmp_path: Path) -> None:
    """A file that is not SQLite is reported, not a traceback."""
    path = tmp_path / "state.db"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(Unavailable, match=str(path)):
        open_store(path)


# -- outbox ---------------------------------------------------------------------------------


def test_enqueue_claim_and_sent(outbox: Outbox, db: sqlite_utils.Database) -> None:
    """A claimed message carries what it needs; once sent its bodies are dropped."""
    first = outbox.enqueue_mail(["a@example.org", "b@example.org"], "Sujet", "texte", "<p>h</p>")
    second = outbox.enqueue_sms("+33612345678", "Code 123456")
    claimed = outbox.claim_due(10, "w1", 60)
    assert [m.id for m in claimed] == [first, second]
    mail, sms = claimed
    assert mail.kind == "mail" and sms.kind == "sms"
    assert mail.recipients == ["a@example.org", "b@example.org"]
    assert (mail.subject, mail.body_text, mail.body_html) == ("Sujet", "texte", "<p>h</p>")
    assert mail.message_id.startswith("<") and mail.message_id.endswith("@apexdir>")
    assert sms.recipients == ["+33612345678"] and sms.body_text == "Code 123456"
    assert [r["status"] for r in outbox.list()] == ["sending", "sending"]
    outbox.mark_sent(first)
    row = db["outbox"].get(first)
    assert row["status"] == "sent" and row["sent_at"]
    assert row["body_text"] is None and row["body_html"] is None
    listed = outbox.list(status="sent")
    assert listed == [
        {
            "id": first, "kind": "mail", "to": ["a@example.org", "b@example.org"],
            "subject": "Sujet", "status": "sent", "attempts": 0, "last_error": None,
            "created_at": "2026-01-15T09:00:00+00:00", "sent_at": "2026-01-15T09:00:00+00:00",
        }
    ]  # fmt: skip
    assert "body_text" not in outbox.list()[1]


def test_message_ids_are_stable_and_unique(outbox: Outbox) -> None:
    """The Message-ID is fixed at enqueue, so a retry is recognisably the same message."""
    ids = {_queue(outbox, to=f"u{i}@example.org") for i in range(5)}
    first = {m.id: m.message_id for m in outbox.claim_due(None, "w", 60)}
    assert set(first) == ids and len(set(first.values())) == 5
    outbox.release(list(ids))
    again = {m.id: m.message_id for m in outbox.claim_due(None, "w", 60)}
    assert again == first


def test_claim_honours_limit_and_order(outbox: Outbox) -> None:
    """Oldest first, at most `limit`, and a claimed message is not claimed again."""
    ids = [_queue(outbox, to=f"u{i}@example.org") for i in range(5)]
    assert [m.id for m in outbox.claim_due(2, "w", 60)] == ids[:2]
    assert [m.id for m in outbox.claim_due(10, "w", 60)] == ids[2:]
    assert outbox.claim_due(10, "w", 60) == []


def test_bad_recipients_are_refused(outbox: Outbox) -> None:
    """No recipient, or a line break that could inject headers, is invalid."""
    with pytest.raises(Invalid):
        outbox.enqueue_mail([], "S", "t", None)
    with pytest.raises(Invalid):
        outbox.enqueue_mail(["a@example.org\r\nBcc: x@example.org"], "S", "t", None)


def test_retry_backs_off_exponentially(outbox: Outbox, clock: FrozenClock) -> None:
    """Each failure doubles the wait: 30 s, then 60 s, then 120 s."""
    message_id = _queue(outbox)
    for attempt, wait in enumerate([30, 60, 120], start=1):
        [claimed] = outbox.claim_due(10, "w", 60)
        assert outbox.mark_retry(claimed.id, "451 later", 10, 30) == "queued"
        [row] = outbox.list()
        assert (row["status"], row["attempts"], row["last_error"]) == (
            "queued",
            attempt,
            "451 later",
        )
        clock.advance(seconds=wait - 1)
        assert outbox.claim_due(10, "w", 60) == [], f"not due before {wait} s"
        clock.advance(seconds=1)
        [due] = outbox.claim_due(10, "w", 60)
        assert due.id == message_id
        outbox.release([due.id])


def test_failed_after_max_attempts(outbox: Outbox, clock: FrozenClock) -> None:
    """The N-th failure gives up: status failed, never claimed again."""
    _queue(outbox)
    statuses = []
    for _ in range(3):
        [claimed] = outbox.claim_due(10, "w", 60)
        statuses.append(outbox.mark_retry(claimed.id, "550 no", 3, 1))
        clock.advance(hours=1)
    assert statuses == ["queued", "queued", "failed"]
    assert outbox.list()[0]["status"] == "failed"
    assert outbox.claim_due(10, "w", 60) == []


def test_expired_claims_are_taken_again(outbox: Outbox, clock: FrozenClock) -> None:
    """A worker killed mid-batch loses nothing: its lease expires, another worker claims."""
    ids = [_queue(outbox, to=f"u{i}@example.org") for i in range(3)]
    assert len(outbox.claim_due(10, "dead", 60)) == 3
    clock.advance(seconds=59)
    assert outbox.claim_due(10, "other", 60) == []
    clock.advance(seconds=1)
    assert [m.id for m in outbox.claim_due(10, "other", 60)] == ids
    assert outbox.db.execute("SELECT DISTINCT claimed_by FROM outbox").fetchall() == [("other",)]


def test_release_gives_messages_back(outbox: Outbox) -> None:
    """Released messages are queued again, due now, attempts untouched."""
    ids = [_queue(outbox, to=f"u{i}@example.org") for i in range(2)]
    outbox.claim_due(10, "w", 60)
    outbox.release(ids)
    assert [(r["status"], r["attempts"]) for r in outbox.list()] == [("queued", 0)] * 2
    assert [m.id for m in outbox.claim_due(10, "w", 60)] == ids


def test_a_retried_message_holds_back_newer_ones_to_the_same_recipients(
    outbox: Outbox, clock: FrozenClock
) -> None:
    """Order per recipient: nothing overtakes an older message waiting for its retry."""
    older = _queue(outbox, to="a@example.org", subject="1")
    [claimed] = outbox.claim_due(1, "w", 60)
    newer = _queue(outbox, to="a@example.org", subject="2")
    other = _queue(outbox, to="b@example.org", subject="3")
    outbox.mark_retry(claimed.id, "451", 5, 30)
    assert [m.id for m in outbox.claim_due(10, "w", 60)] == [other]
    clock.advance(seconds=30)
    assert [m.id for m in outbox.claim_due(10, "w", 60)] == [older, newer]


def test_operator_retry(outbox: Outbox, db: sqlite_utils.Database) -> None:
    """retry: failed → queued with attempts reset; unknown id → NotFound; sent → Conflict."""
    failed = _queue(outbox)
    outbox.claim_due(10, "w", 60)
    outbox.mark_retry(failed, "550", 1, 1)
    outbox.retry(failed)
    [row] = outbox.list()
    assert (row["status"], row["attempts"], row["last_error"]) == ("queued", 0, None)
    with pytest.raises(NotFound):
        outbox.retry(999)
    outbox.claim_due(10, "w", 60)
    outbox.mark_sent(failed)
    with pytest.raises(Conflict):
        outbox.retry(failed)
    with pytest.raises(Invalid):
        outbox.list(status="lost")


def test_purge_and_pending_count(outbox: Outbox, clock: FrozenClock) -> None:
    """Housekeeping deletes finished messages only."""
    sent = _queue(outbox, to="a@example.org")
    _queue(outbox, to="b@example.org")
    outbox.claim_due(1, "w", 60)
    outbox.mark_sent(sent)
    assert outbox.pending_count() == 1
    clock.advance(days=40)
    assert outbox.purge(clock() - timedelta(days=30)) == 1
    assert [r["to"] for r in outbox.list()] == [["b@example.org"]]


def test_two_connections_write_and_claim_concurrently(tmp_path: Path) -> None:
    """CLI and daemon at once: every message is stored, and claimed by exactly one worker."""
    path = tmp_path / "state.db"
    open_store(path).close()
    per_writer, writers = 60, 2
    claimed: list[list[int]] = [[], []]
    errors: list[BaseException] = []
    done_writing = threading.Event()

    def write(n: int) -> None:
        db = open_store(path)
        try:
            box = Outbox(db)
            for i in range(per_writer):
                box.enqueue_mail([f"w{n}-{i}@example.org"], "S", "t", None)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            db.close()

    def claim(n: int) -> None:
        db = open_store(path)
        try:
            box = Outbox(db)
            while True:
                got = box.claim_due(7, f"worker{n}", 60)
                claimed[n] += [m.id for m in got]
                for m in got:
                    box.mark_sent(m.id)
                if not got and done_writing.is_set() and box.pending_count() == 0:
                    return
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            db.close()

    writer_threads = [threading.Thread(target=write, args=(n,)) for n in range(writers)]
    claimer_threads = [threading.Thread(target=claim, args=(n,)) for n in range(2)]
    for t in writer_threads + claimer_threads:
        t.start()
    for t in writer_threads:
        t.join(30)
    done_writing.set()
    for t in claimer_threads:
        t.join(30)
    assert not errors, errors
    everything = claimed[0] + claimed[1]
    assert len(everything) == len(set(everything)) == per_writer * writers
    db = open_store(path)
    assert db.execute("SELECT count(*) FROM outbox WHERE status = 'sent'").fetchone()[0] == 120
    db.close()


# -- journal and cursors --------------------------------------------------------------------


def test_journal_records_and_filters(db: sqlite_utils.Database, clock: FrozenClock) -> None:
    """Entries carry operator and actor; `since` and `trim` cut by time."""
    journal = Journal(db, clock)
    journal.record("structure.create", "73282932000074", actor=None, operator="agent1")
    clock.advance(hours=1)
    journal.record("grant", "marie.martin-px", actor="paul.admin-px",
                   details={"profile": "APP/LECTEUR", "note": "é"})  # fmt: skip
    entries = journal.entries()
    assert entries == [
        {"at": "2026-01-15T09:00:00+00:00", "operator": "agent1", "actor": None,
         "action": "structure.create", "target": "73282932000074", "details": None},
        {"at": "2026-01-15T10:00:00+00:00", "operator": os_user(), "actor": "paul.admin-px",
         "action": "grant", "target": "marie.martin-px",
         "details": {"profile": "APP/LECTEUR", "note": "é"}},
    ]  # fmt: skip
    since = datetime(2026, 1, 15, 9, 30, tzinfo=UTC)
    assert [e["action"] for e in journal.entries(since=since)] == ["grant"]
    assert [e["action"] for e in journal.entries(since=since.replace(tzinfo=None))] == ["grant"]
    assert journal.trim(since) == 1
    assert [e["action"] for e in journal.entries()] == ["grant"]


def test_job_cursors(db: sqlite_utils.Database) -> None:
    """A cursor is absent, then set, then replaced."""
    assert get_cursor(db, "changes") is None
    set_cursor(db, "changes", "20260115090000.000001Z#000000#000#000000")
    set_cursor(db, "changes", "20260115100000.000001Z#000000#000#000000")
    assert get_cursor(db, "changes") == "20260115100000.000001Z#000000#000#000000"
    assert get_cursor(db, "other") is None


def test_claim_takes_the_most_urgent_first(db: sqlite_utils.Database, clock: FrozenClock) -> None:
    """Priority before age: a code queued after a mass mailing is claimed first."""
    outbox = Outbox(db, clock)
    bulk = [outbox.enqueue_mail([f"p{i}@example.org"], "s", "t", None, 2) for i in range(5)]
    usual = outbox.enqueue_mail(["q@example.org"], "s", "t", None)
    code = outbox.enqueue_mail(["r@example.org"], "s", "t", None, 0)
    text = outbox.enqueue_sms("+33612345678", "code", 0)
    assert [m.id for m in outbox.claim_due(3, "w", 60)] == [code, text, usual]
    assert [m.id for m in outbox.claim_due(10, "w", 60)] == bulk


def test_mark_sent_many_and_extend(db: sqlite_utils.Database, clock: FrozenClock) -> None:
    """Marks in one transaction; a renewed claim is not taken by another worker."""
    outbox = Outbox(db, clock)
    ids = [outbox.enqueue_mail([f"u{i}@example.org"], "s", "t", "<p>h</p>") for i in range(4)]
    assert [m.id for m in outbox.claim_due(10, "w", 60)] == ids
    outbox.mark_sent_many([(ids[0], None), (ids[1], "accepted except for x")])
    rows = {r["id"]: r for r in outbox.list()}
    assert [rows[i]["status"] for i in ids] == ["sent", "sent", "sending", "sending"]
    assert rows[ids[1]]["last_error"] == "accepted except for x"
    assert db.execute("SELECT body_text FROM outbox WHERE id = ?", [ids[0]]).fetchone()[0] is None
    clock.advance(seconds=50)
    assert outbox.extend(ids, "w", 60) == 2, "only the two still being sent"
    assert outbox.extend(ids[2:], "other", 60) == 0, "another worker's claim is not renewed"
    clock.advance(seconds=20)  # past the first lease, within the renewed one
    assert outbox.claim_due(10, "other", 60) == []
    clock.advance(seconds=40)
    assert [m.id for m in outbox.claim_due(10, "other", 60)] == ids[2:]


def test_an_urgent_message_brings_along_the_older_ones_to_its_recipient(
    db: sqlite_utils.Database, clock: FrozenClock
) -> None:
    """Codes first, but one person's mails keep their order: validation, then the code."""
    outbox = Outbox(db, clock)
    bulk = [outbox.enqueue_mail([f"p{i}@example.org"], "s", "t", None, 2) for i in range(3)]
    validation = outbox.enqueue_mail(["marie@example.org"], "validation", "t", None, 1)
    code = outbox.enqueue_mail(["marie@example.org"], "code", "t", None, 0)
    other_code = outbox.enqueue_mail(["paul@example.org"], "code", "t", None, 0)
    assert [m.id for m in outbox.claim_due(2, "w", 60)] == [validation, code, other_code]
    assert [m.id for m in outbox.claim_due(10, "w", 60)] == bulk


def test_a_restored_spool_drops_what_is_past_its_use_and_holds_the_rest(
    outbox: Outbox, clock: FrozenClock
) -> None:
    """After a restore: a code past its validity (or an old code of a store without
    expiries) is dropped; a live code and an everyday mail are held, listed, never claimed
    until released."""
    ten = timedelta(minutes=10)
    expired = outbox.enqueue_mail(["a@example.org"], "Code", "1", None, 0, expires_at=clock() + ten)
    legacy = outbox.enqueue_mail(["b@example.org"], "Code", "222222", None, 0)
    clock.advance(minutes=11)
    live = outbox.enqueue_mail(["c@example.org"], "Code", "3", None, 0, expires_at=clock() + ten)
    mail = outbox.enqueue_mail(["d@example.org"], "Validation", "x", None)
    sorted_out = outbox.triage_after_restore(timedelta(minutes=10))
    assert sorted_out["dropped"] == 2
    assert [(m["id"], m["to"]) for m in sorted_out["held"]] == [
        (live, ["c@example.org"]),
        (mail, ["d@example.org"]),
    ]
    status = {m["id"]: m["status"] for m in outbox.list()}
    assert status == {expired: "dropped", legacy: "dropped", live: "held", mail: "held"}
    assert outbox.claim_due(None, "w", 60) == []
    assert outbox.release_held() == [live, mail]
    assert [m.id for m in outbox.claim_due(None, "w", 60)] == [live, mail]
