"""What an operator pages on when mail or texts do not leave (issue 23, item 7): the
daemon's metrics count delivery errors by kind and cause, the retries and failures, and the
age of the oldest queued message — read on the daemon's metrics, against real SMTP and SMS
sinks that refuse, reject or are stopped."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from apexdir import metrics
from apexdir.clock import FrozenClock
from apexdir.config import Settings
from apexdir.daemon.jobs.outbox import deliver
from apexdir.dev.sinks import Sinks
from apexdir.state.db import open_store
from apexdir.state.outbox import Outbox


@pytest.fixture
def sink(tmp_path: Path) -> Iterator[Sinks]:
    sinks = Sinks(tmp_path / "sinks")
    sinks.start()
    yield sinks
    sinks.stop()


@pytest.fixture
def node(settings: Settings, sink: Sinks) -> Settings:
    """The test directory, and this test's own sinks (it stops them)."""
    return settings.model_copy(
        update={
            "smtp": settings.smtp.model_copy(update={"port": sink.smtp_port, "timeout": 5}),
            "sms": settings.sms.model_copy(
                update={"url": f"http://127.0.0.1:{sink.sms_port}/sms", "timeout": 5}
            ),
        }
    )


def scrape(settings: Settings) -> str:
    return metrics.text(settings, "daemon")


def value(text: str, name: str, **labels: str) -> float:
    for line in text.splitlines():
        sample, _, number = line.rpartition(" ")
        if line.startswith("#") or sample.split("{")[0] != name:
            continue
        if dict(re.findall(r'(\w+)="([^"]*)"', sample)) == labels:
            return float(number)
    return 0.0


def moved(before: str, after: str, name: str, **labels: str) -> float:
    return value(after, name, **labels) - value(before, name, **labels)


def one_pass(settings: Settings) -> dict[str, int]:
    db = open_store(settings.state.path)
    try:
        return asyncio.run(deliver(settings, db, worker="test"))
    finally:
        db.close()


def queue(settings: Settings, minutes_ago: int, mails: list[str], texts: list[str]) -> None:
    """Mails and texts queued `minutes_ago` (the spool's own clock, moved back)."""
    db = open_store(settings.state.path)
    then = datetime.now(UTC) - timedelta(minutes=minutes_ago)
    outbox = Outbox(db, FrozenClock(then))
    for to in mails:
        outbox.enqueue_mail([to], "Avis", "corps", None)
    for number in texts:
        outbox.enqueue_sms(number, "Votre code : 123456")
    db.close()


ERRORS = "apexdir_outbox_delivery_errors_total"
DELIVERIES = "apexdir_outbox_deliveries_total"
OLDEST = "apexdir_outbox_oldest_queued_seconds"


def test_refusals_for_now_and_for_good_are_counted_apart(node: Settings, sink: Sinks) -> None:
    """SMTP 451: deferred, retried; the gateway's 503: unreachable (as a time-out), retried;
    SMTP 550: refused, failed at once. The oldest queued message's age shows the wait."""
    before = scrape(node)
    sink.set_refusing(True)
    queue(node, 10, ["a@example.org"], ["+33612345678"])
    counts = one_pass(node)
    assert (counts["retried"], counts["failed"]) == (2, 0)
    deferred = scrape(node)
    assert moved(before, deferred, ERRORS, kind="mail", error="deferred") == 1
    assert moved(before, deferred, ERRORS, kind="sms", error="unreachable") == 1
    for kind in ("mail", "sms"):
        assert moved(before, deferred, DELIVERIES, kind=kind, outcome="retried") == 1
    assert value(deferred, OLDEST) >= 600, "queued ten minutes ago, still there"

    sink.set_refusing(False)
    queue(node, 0, ["nobody-refused@example.org"], [])
    before = scrape(node)
    # The retried pair waits for its backoff; the refused address fails on its one try.
    counts = one_pass(node)
    after = scrape(node)
    assert counts["failed"] == 1
    assert moved(before, after, ERRORS, kind="mail", error="refused") == 1
    assert moved(before, after, DELIVERIES, kind="mail", outcome="failed") == 1
    assert moved(before, after, ERRORS, kind="mail", error="deferred") == 0
    assert value(after, "apexdir_outbox_messages", kind="mail", status="failed") == 1


def test_servers_unreachable_then_back(node: Settings, sink: Sinks) -> None:
    """SMTP and the gateway stopped: every attempt is an `unreachable` error and a retry; back,
    the messages leave and the spool's oldest age falls to 0."""
    sink.stop()
    queue(node, 5, ["a@example.org", "b@example.org"], ["+33612345678"])
    before = scrape(node)
    counts = one_pass(node)
    down = scrape(node)
    assert counts["retried"] == 3 and counts["sent"] == 0
    assert moved(before, down, ERRORS, kind="mail", error="unreachable") == 2
    assert moved(before, down, ERRORS, kind="sms", error="unreachable") == 1
    assert moved(before, down, DELIVERIES, kind="mail", outcome="retried") == 2
    assert value(down, OLDEST) >= 300

    back = Sinks(sink.directory, smtp_port=sink.smtp_port, sms_port=sink.sms_port)
    back.start()
    try:
        db = open_store(node.state.path)
        db.execute("UPDATE outbox SET next_attempt_at = created_at")  # the backoff, skipped
        db.conn.commit()
        db.close()
        counts = one_pass(node)
        after = scrape(node)
    finally:
        back.stop()
    assert counts["sent"] == 3
    assert moved(down, after, DELIVERIES, kind="mail", outcome="sent") == 2
    assert moved(down, after, DELIVERIES, kind="sms", outcome="sent") == 1
    assert value(after, OLDEST) == 0
