"""`apexdir daemon run` as real processes: stopped, killed, SMTP down, two nodes.

Each daemon is a subprocess with its own configuration file pointing at the test slapd (for
the lease) and at a sink of its own (stopped and restarted here); intervals and the lease are
short (outbox every second, lease of 2 s) so the module stays quick.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from apexdir.config import Settings
from apexdir.dev.captured import captured_mails
from apexdir.dev.sinks import Sinks
from apexdir.dev.store import _connect, _flush_live
from apexdir.directory.server import SlapdInstance
from apexdir.state.db import open_store
from apexdir.state.outbox import Outbox
from tests.conftest import admin
from tests.helpers import wait_for

LEASE_SECONDS = 2
APEXDIR = Path(sys.executable).with_name("apexdir")


class Daemon:
    def __init__(self, config: Path, log: Path) -> None:
        self.log_path = log
        with log.open("wb") as stderr:
            self.process = subprocess.Popen(
                [str(APEXDIR), "--config", str(config), "daemon", "run"],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
            )

    @property
    def pid(self) -> int:
        return self.process.pid

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def stop(self, timeout: float = 20) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout)

    def kill(self) -> None:
        self.process.kill()
        self.process.wait(10)


@pytest.fixture
def sink(tmp_path: Path) -> Iterator[list[Sinks]]:
    """A sink of this test only (it is stopped and restarted); the last one is current."""
    sinks = [Sinks(tmp_path / "sink")]
    sinks[0].start()
    yield sinks
    for one in sinks:
        one.stop()


@pytest.fixture
def daemons(slapd: SlapdInstance) -> Iterator[list[Daemon]]:
    started: list[Daemon] = []
    with admin(slapd) as directory:
        directory.replace(slapd.layout.lease_dn, apexLease=None)
    yield started
    for daemon in started:
        if daemon.process.poll() is None:
            daemon.kill()
    with admin(slapd) as directory:
        directory.replace(slapd.layout.lease_dn, apexLease=None)


@pytest.fixture
def config(settings: Settings, sink: list[Sinks], tmp_path: Path) -> Path:
    ldap = settings.ldap
    path = tmp_path / "daemon.toml"
    path.write_text(
        f"""[ldap]
uris = {json.dumps(ldap.uris)}
base_dn = "{ldap.base_dn}"
bind_dn = "{ldap.bind_dn}"
bind_password_file = "{ldap.bind_password_file}"

[smtp]
host = "127.0.0.1"
port = {sink[0].smtp_port}
timeout = 5

[state]
path = "{settings.state.path}"

[outbox]
backoff_seconds = 0.5
max_attempts = 50

[daemon]
outbox_seconds = 1
changes_seconds = 3600
expiry_cron = "0 0 1 1 *"
pending_cron = "0 0 1 1 *"
review_cron = "0 0 1 1 *"
housekeeping_cron = "0 0 1 1 *"
lease_seconds = {LEASE_SECONDS}
""",
        encoding="utf-8",
    )
    return path


def start(config: Path, daemons: list[Daemon], name: str) -> Daemon:
    daemon = Daemon(config, config.parent / f"{name}.log")
    daemons.append(daemon)
    return daemon


def holder_pid(slapd: SlapdInstance) -> int | None:
    with admin(slapd) as directory:
        entry = directory.get(slapd.layout.lease_dn, ["apexLease"])
    value = entry.get("apexLease") if entry else None
    return int(str(value).split(":")[1]) if value else None


def queue(settings: Settings, count: int, recipients: list[str], start: int = 0) -> list[str]:
    """Queue numbered mails round-robin; returns their Message-IDs in order."""
    db = open_store(settings.state.path)
    outbox = Outbox(db)
    ids = []
    for n in range(start, start + count):
        row = outbox.enqueue_mail([recipients[n % len(recipients)]], f"Message {n:04d}", "x", None)
        ids.append(db["outbox"].get(row)["message_id"])
    db.close()
    return ids


def spool(settings: Settings) -> list[dict[str, Any]]:
    db = open_store(settings.state.path)
    try:
        return list(db.query("SELECT id, status, attempts, last_error FROM outbox ORDER BY id"))
    finally:
        db.close()


def delivered(sink: Sinks) -> list[dict[str, Any]]:
    return captured_mails(sink.directory)


def arrived(server: Sinks) -> int:
    """Mails the sink holds, counted without parsing them: what the waits poll (every 50 ms).
    Parsing every mail at each poll took the CPU the daemons deliver with, and slowed the
    sink (it runs in this process) and so the daemon's pace."""
    _flush_live(server.directory)
    with _connect(server.directory) as conn:
        return int(conn.execute("SELECT COUNT(*) FROM mails").fetchone()[0])


def all_arrived(server: Sinks, ids: list[str]) -> bool:
    """Every message of `ids` arrived: parsed only once there are as many mails."""
    return arrived(server) >= len(ids) and {m["message_id"] for m in delivered(server)} >= set(ids)


def assert_order_per_recipient(mails: list[dict[str, Any]]) -> None:
    """The first arrival of each message, per recipient, follows the queue order."""
    by_recipient: dict[str, list[str]] = {}
    for mail in mails:
        seen = by_recipient.setdefault(mail["to"][0], [])
        if mail["subject"] not in seen:
            seen.append(mail["subject"])
    for recipient, subjects in by_recipient.items():
        assert subjects == sorted(subjects), recipient


RECIPIENTS = ["a@example.org", "b@example.org", "c@example.org"]


def test_stopped_then_killed_mid_batch_nothing_lost(
    settings: Settings, config: Path, sink: list[Sinks], daemons: list[Daemon],
    slapd: SlapdInstance,
) -> None:  # fmt: skip
    """SIGTERM mid-batch: the chunk in hand finishes, the rest stays queued, nothing is
    half-marked. SIGKILL mid-batch: after a restart every message arrives, at most the one
    in flight twice, in order per recipient."""
    total = 300
    ids = queue(settings, total, RECIPIENTS)
    first = start(config, daemons, "first")
    wait_for(lambda: arrived(sink[0]) >= 20, 20, "the first mails")
    assert first.stop() == 0
    rows = spool(settings)
    assert {r["status"] for r in rows} <= {"sent", "queued"}, "nothing left claimed"
    sent = [r for r in rows if r["status"] == "sent"]
    assert 20 <= len(sent) < total, "stopped mid-batch"
    assert all(r["attempts"] == 0 for r in rows if r["status"] == "queued")
    assert len(delivered(sink[0])) == len(sent), "each sent message once, each one marked"
    assert holder_pid(slapd) is None, "the lease is released on a clean stop"
    log = first.log()
    assert "lease taken" in log and "SIGTERM" in log and "stopped" in log
    assert "job outbox: sent=" in log

    second = start(config, daemons, "second")
    wait_for(lambda: arrived(sink[0]) >= len(sent) + 20, 20, "the second daemon")
    second.kill()
    third = start(config, daemons, "third")
    wait_for(lambda: all_arrived(sink[0], ids), 30, "every message")
    assert third.stop() == 0
    mails = delivered(sink[0])
    assert {m["message_id"] for m in mails} == set(ids)
    assert len(mails) - total <= 1, "only the message in flight at the kill may come twice"
    assert {r["status"] for r in spool(settings)} == {"sent"}
    assert_order_per_recipient(mails)


def test_smtp_server_down_then_back(
    settings: Settings, config: Path, sink: list[Sinks], daemons: list[Daemon]
) -> None:
    """The SMTP sink stops: mails stay queued with their error; it restarts: all arrive,
    once, in order per recipient."""
    daemon = start(config, daemons, "daemon")
    wait_for(lambda: "lease taken" in daemon.log(), 15, "the lease")
    port = sink[0].smtp_port
    sink[0].stop()
    ids = queue(settings, 12, RECIPIENTS[:2])
    # Generous bounds: they only cap a wait that ends as soon as the condition holds, and a
    # loaded machine (CI on 2 cores) makes the daemon's passes late.
    wait_for(lambda: all(r["attempts"] >= 2 for r in spool(settings)[:2]), 60, "failed attempts")
    rows = spool(settings)
    # Nothing sent, nothing given up; a pass may be trying one of them right now.
    assert {r["status"] for r in rows} <= {"queued", "sending"}
    assert "cannot connect" in rows[0]["last_error"]
    assert all(r["attempts"] == 0 for r in rows[2:]), "later mails wait behind the first"
    back = Sinks(sink[0].directory, smtp_port=port)
    back.start()
    sink.append(back)
    wait_for(lambda: arrived(back) >= len(ids), 90, "delivery after the restart")
    mails = delivered(back)
    assert [m["message_id"] for m in mails] and sorted(m["message_id"] for m in mails) == sorted(
        ids
    )
    assert_order_per_recipient(mails)
    assert daemon.stop() == 0


def test_second_daemon_waits_then_takes_over(
    settings: Settings, config: Path, sink: list[Sinks], daemons: list[Daemon],
    slapd: SlapdInstance,
) -> None:  # fmt: skip
    """Two nodes: one runs the directory jobs, the other waits (delivering only its own spool);
    killed, the first is replaced once its lease lapses."""
    first = start(config, daemons, "first")
    wait_for(lambda: holder_pid(slapd) == first.pid, 15, "the first daemon's lease")
    second = start(config, daemons, "second")
    wait_for(lambda: "waiting" in second.log(), 15, "the second daemon to wait")
    queue(settings, 1, ["a@example.org"])
    wait_for(lambda: arrived(sink[0]) == 1, 10, "delivery")
    time.sleep(LEASE_SECONDS)  # more than a lease period: renewals keep it with the first
    assert holder_pid(slapd) == first.pid
    assert "job changes:" in first.log()
    for job in ("changes", "expiry", "pending", "review", "housekeeping"):
        assert f"job {job}" not in second.log(), "the waiting daemon runs no directory job"

    first.kill()
    # The lease period bounds the takeover; how fast it happens is a figure for benchmarks,
    # not a timing assert (the wait's own limit only keeps a broken takeover from hanging).
    wait_for(lambda: holder_pid(slapd) == second.pid, 10, "the takeover")
    queue(settings, 1, ["b@example.org"], start=1)
    wait_for(lambda: arrived(sink[0]) == 2, 10, "delivery after the takeover")
    wait_for(lambda: "job changes:" in second.log(), 10, "the change feed on the new holder")
    assert second.stop() == 0
    assert holder_pid(slapd) is None
