"""The daemon killed mid-delivery (issue 23, item 8): at least once, and the re-sent mails
are the only duplicates, bounded by what the outbox holds unmarked.

The bound, from `daemon/jobs/outbox.py`: a mail the SMTP server accepted is marked sent in
the spool in batches — when `FLUSH_EVERY` (50) wait, or at the next acceptance once
`FLUSH_SECONDS` have passed. At a SIGKILL at most `FLUSH_EVERY - 1` accepted mails are
unmarked, plus the one the server has just accepted (its 250 not yet read): `FLUSH_EVERY`
at most. Their claims expire after `lease_seconds`; the next daemon sends them again, with
the same Message-ID. Every other mail is sent exactly once.

The takeover of the directory jobs by another daemon when the lease holder is killed:
`test_daemon_process.py::test_second_daemon_waits_then_takes_over` (two daemon processes).
"""

from __future__ import annotations

import signal
from collections import Counter
from pathlib import Path

import pytest

from apexdir.config import Settings
from apexdir.daemon.jobs.outbox import FLUSH_EVERY
from apexdir.dev.sinks import Sinks
from tests.daemon.test_daemon_process import (  # noqa: F401 (fixtures)
    RECIPIENTS,
    Daemon,
    all_arrived,
    arrived,
    config,
    daemons,
    delivered,
    queue,
    sink,
    spool,
    start,
)
from tests.helpers import wait_for

TOTAL = 200
# The claims' renewal (`_Pass._keep_claim`) flushes the marks whenever one more send could
# outlast the claim: with test_daemon_process's lease of 2 s and SMTP time-out of 5 s, that is
# before every mail, which would hide the batching. Here, as in production (lease 60 s,
# time-outs 10 s), a pass of 200 mails fits in a claim: time-outs of 0.5 s, a lease of 4 s.
PRODUCTION_LIKE = {"timeout = 5\n": "timeout = 0.5\n", "lease_seconds = 2\n": "lease_seconds = 4\n"}


@pytest.fixture
def production_like(config: Path) -> Path:  # noqa: F811
    text = config.read_text(encoding="utf-8")
    for old, new in PRODUCTION_LIKE.items():
        assert old in text
        text = text.replace(old, new)
    config.write_text(text + "\n[sms]\ntimeout = 0.5\n", encoding="utf-8")
    return config


def test_killed_mid_delivery_resends_only_the_unmarked_tail(
    settings: Settings, production_like: Path, sink: list[Sinks], daemons: list[Daemon],  # noqa: F811
) -> None:  # fmt: skip
    """200 mails; SIGKILL once some have arrived; a new daemon drains the spool. Every mail
    arrives; the duplicates are the mails that had arrived before the kill without being
    marked sent, each twice, and there are at most FLUSH_EVERY of them."""
    ids = queue(settings, TOTAL, RECIPIENTS)
    first = start(production_like, daemons, "first")
    wait_for(lambda: arrived(sink[0]) >= 20, 30, "the first mails")
    first.process.send_signal(signal.SIGKILL)
    first.process.wait(10)
    before_kill = Counter(m["message_id"] for m in delivered(sink[0]))
    rows = spool(settings)
    marked = sum(1 for r in rows if r["status"] == "sent")
    assert len(before_kill) < TOTAL, "killed mid-delivery"
    assert max(before_kill.values()) == 1, "nothing twice before the kill"
    unmarked = len(before_kill) - marked
    assert 0 <= unmarked <= FLUSH_EVERY, "accepted but not yet marked sent"

    second = start(production_like, daemons, "second")
    wait_for(lambda: all_arrived(sink[0], ids), 60, "every mail")
    assert second.stop() == 0
    arrivals = Counter(m["message_id"] for m in delivered(sink[0]))
    assert set(arrivals) == set(ids), "every mail arrived, none other"
    assert {r["status"] for r in spool(settings)} == {"sent"}
    duplicates = {mid: n for mid, n in arrivals.items() if n > 1}
    assert set(duplicates) <= set(before_kill), "only mails sent before the kill come again"
    assert set(duplicates.values()) <= {2}, "each at most twice"
    # Exactly the mails accepted but not marked before the kill come again: no other.
    assert len(duplicates) == unmarked <= FLUSH_EVERY
    print(
        f"\nat-least-once: {len(duplicates)} duplicate(s) out of {TOTAL} after a SIGKILL "
        f"({len(before_kill)} arrived before the kill, {marked} marked sent, "
        f"{unmarked} accepted but unmarked)"
    )
