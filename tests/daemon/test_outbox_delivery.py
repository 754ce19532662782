"""The outbox job against real SMTP and SMS sinks: delivered once, in order, nothing lost."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlite_utils

from apexdir.clock import FrozenClock
from apexdir.config import Settings, SmsSettings
from apexdir.daemon.jobs.outbox import deliver, run_once
from apexdir.dev.captured import captured_mails, captured_sms
from apexdir.dev.sinks import Sinks
from apexdir.errors import ConfigError, Unavailable
from apexdir.mail.render import render
from apexdir.sms.gateway import HttpSmsGateway, SmsRefused, gateway_from_settings
from apexdir.state.db import open_store
from apexdir.state.outbox import Outbox


@pytest.fixture
def sink(tmp_path: Path) -> Iterator[Sinks]:
    sinks = Sinks(tmp_path / "sinks")
    sinks.start()
    yield sinks
    sinks.stop()


def make_settings(tmp_path: Path, sink: Sinks, **sections: dict[str, Any]) -> Settings:
    data: dict[str, Any] = {
        "ldap": {"uris": ["ldap://127.0.0.1:1"], "base_dn": "dc=x", "bind_dn": "cn=x",
                 "bind_password": "x"},
        "smtp": {"host": "127.0.0.1", "port": sink.smtp_port, "timeout": 5},
        "sms": {"url": f"http://127.0.0.1:{sink.sms_port}/sms", "timeout": 5},
        "state": {"path": str(tmp_path / "state.db")},
        "outbox": {"max_attempts": 3, "backoff_seconds": 30},
    }  # fmt: skip
    for name, values in sections.items():
        data.setdefault(name, {}).update(values)
    return Settings.model_validate(data)


@pytest.fixture
def settings(tmp_path: Path, sink: Sinks) -> Settings:
    return make_settings(tmp_path, sink)


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture
def db(settings: Settings) -> Iterator[sqlite_utils.Database]:
    store = open_store(settings.state.path)
    yield store
    store.close()


@pytest.fixture
def outbox(db: sqlite_utils.Database, clock: FrozenClock) -> Outbox:
    return Outbox(db, clock)


def queue(outbox: Outbox, to: str, name: str = "code", **context: Any) -> int:
    rendered = render(name, **(context or {"code": "123456"}))
    return outbox.enqueue_mail([to], rendered.subject, rendered.text, rendered.html)


def run(settings: Settings, db: sqlite_utils.Database, clock: FrozenClock) -> dict[str, Any]:
    return asyncio.run(deliver(settings, db, clock, worker="test"))


def test_mails_reach_the_sink_exactly(
    settings: Settings, db: sqlite_utils.Database, outbox: Outbox, clock: FrozenClock, sink: Sinks
) -> None:
    """Three queued mails arrive with their exact subject, text and recipients."""
    queue(outbox, "marie.martin@example.org", "validation", identifiant="marie.martin-px")
    queue(outbox, "paul@example.org", "code", code="397110")
    outbox.enqueue_mail(
        ["a@example.org", "b@example.org"], *_parts("attribution", application="App")
    )
    assert run(settings, db, clock) == {"sent": 3, "retried": 0, "failed": 0, "remaining": 0}
    mails = captured_mails(sink.directory)
    assert [m["to"] for m in mails] == [
        ["marie.martin@example.org"], ["paul@example.org"], ["a@example.org", "b@example.org"],
    ]  # fmt: skip
    assert mails[0]["subject"] == "APEX Partenaires – Validation de création de votre compte"
    assert mails[0]["body"] == render("validation", identifiant="marie.martin-px").text
    assert mails[1]["body"] == render("code", code="397110").text
    assert mails[2]["subject"] == "APEX Partenaires – Attribution de profils applicatifs"
    spooled = {row["id"]: row["message_id"] for row in db["outbox"].rows}
    assert [m["message_id"] for m in mails] == [spooled[i] for i in sorted(spooled)]
    assert captured_mails(sink.directory, to="PAUL@example.org")[0]["body"] == mails[1]["body"]
    assert all(r["status"] == "sent" for r in outbox.list())
    assert run(settings, db, clock)["sent"] == 0, "nothing is sent twice"


def _parts(name: str, **context: Any) -> tuple[str, str, str]:
    rendered = render(name, **context)
    return rendered.subject, rendered.text, rendered.html


def test_refusing_server_loses_nothing_and_keeps_order(
    settings: Settings, db: sqlite_utils.Database, outbox: Outbox, clock: FrozenClock, sink: Sinks
) -> None:
    """451 everywhere: nothing lost; then all delivered once, in order per recipient.

    The first mail to each address counts an attempt; the later ones to that address wait
    behind it untried, so that a retry never lets them overtake it.
    """
    ids = [queue(outbox, "a@example.org", code=code) for code in ("111111", "222222", "333333")]
    other = queue(outbox, "b@example.org", code="444444")
    sink.set_refusing(True)
    assert run(settings, db, clock) == {"sent": 0, "retried": 2, "failed": 0, "remaining": 4}
    assert captured_mails(sink.directory) == []
    rows = {r["id"]: r for r in outbox.list()}
    assert {r["status"] for r in rows.values()} == {"queued"}
    assert [rows[i]["attempts"] for i in [*ids, other]] == [1, 0, 0, 1]
    assert "451" in rows[ids[0]]["last_error"] and "451" in rows[other]["last_error"]
    sink.set_refusing(False)
    assert run(settings, db, clock)["sent"] == 0, "not due before the backoff"
    clock.advance(seconds=30)
    assert run(settings, db, clock) == {"sent": 4, "retried": 0, "failed": 0, "remaining": 0}
    bodies = [m["body"] for m in captured_mails(sink.directory, to="a@example.org")]
    assert [c for b in bodies for c in ("111111", "222222", "333333") if c in b] == [
        "111111", "222222", "333333",
    ]  # fmt: skip
    assert len(captured_mails(sink.directory)) == 4
    clock.advance(hours=1)
    assert run(settings, db, clock)["sent"] == 0


def test_smtp_server_down(tmp_path: Path, sink: Sinks, clock: FrozenClock) -> None:
    """No SMTP server: every claimed mail goes back with a retry and the error."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    settings = make_settings(tmp_path, sink, smtp={"port": closed_port})
    db = open_store(settings.state.path)
    outbox = Outbox(db, clock)
    for i in range(3):
        queue(outbox, f"u{i}@example.org")
    outbox.enqueue_sms("+33612345678", "Code 123456")
    result = run(settings, db, clock)
    assert result == {"sent": 1, "retried": 3, "failed": 0, "remaining": 3}
    mails = outbox.list()[:3]
    assert {(r["status"], r["attempts"]) for r in mails} == {("queued", 1)}
    assert all(f"127.0.0.1:{closed_port}: cannot connect" in r["last_error"] for r in mails)
    assert len(captured_sms(sink.directory)) == 1, "texts do not wait for the mail server"
    db.close()


def test_temporary_refusal_holds_back_later_mails_to_the_same_address(
    settings: Settings, db: sqlite_utils.Database, outbox: Outbox, clock: FrozenClock, sink: Sinks
) -> None:
    """A mail refused for now is retried; the next one to that address waits behind it,
    others go."""
    first = queue(outbox, "nobody-deferred@example.org", code="111111")
    second = queue(outbox, "nobody-deferred@example.org", code="222222")
    queue(outbox, "c@example.org", code="333333")
    assert run(settings, db, clock) == {"sent": 1, "retried": 1, "failed": 0, "remaining": 2}
    rows = {r["id"]: r for r in outbox.list()}
    assert rows[first]["attempts"] == 1 and "451" in rows[first]["last_error"]
    assert (rows[second]["status"], rows[second]["attempts"]) == ("queued", 0)
    for _ in range(2):
        clock.advance(hours=1)
        run(settings, db, clock)
    rows = {r["id"]: r for r in outbox.list()}
    assert rows[first]["status"] == "failed"
    assert rows[second]["attempts"] >= 1, "once the first is given up, the second is tried"


def test_max_attempts_then_operator_retry(
    settings: Settings, db: sqlite_utils.Database, outbox: Outbox, clock: FrozenClock, sink: Sinks
) -> None:
    """After `max_attempts` the message is failed; `retry` queues it and it goes out once."""
    message = queue(outbox, "a@example.org")
    sink.set_refusing(True)
    results = []
    for _ in range(3):
        results.append(run(settings, db, clock))
        clock.advance(hours=1)
    assert [r["failed"] for r in results] == [0, 0, 1]
    [row] = outbox.list()
    assert (row["status"], row["attempts"]) == ("failed", 3)
    assert run(settings, db, clock) == {"sent": 0, "retried": 0, "failed": 0, "remaining": 0}
    sink.set_refusing(False)
    outbox.retry(message)
    assert run(settings, db, clock)["sent"] == 1
    assert len(captured_mails(sink.directory)) == 1


def test_claims_of_a_dead_worker_are_delivered_after_the_lease(
    settings: Settings, db: sqlite_utils.Database, outbox: Outbox, clock: FrozenClock, sink: Sinks
) -> None:
    """A daemon killed mid-batch: its claimed messages go out once its lease expires."""
    queue(outbox, "a@example.org")
    queue(outbox, "b@example.org")
    assert len(outbox.claim_due(10, "killed", settings.daemon.lease_seconds)) == 2
    assert run(settings, db, clock)["sent"] == 0
    clock.advance(seconds=settings.daemon.lease_seconds)
    assert run(settings, db, clock)["sent"] == 2
    assert len(captured_mails(sink.directory)) == 2


def test_sms_through_the_http_gateway(
    settings: Settings, db: sqlite_utils.Database, outbox: Outbox, clock: FrozenClock, sink: Sinks
) -> None:
    """Queued texts reach the SMS sink; a refusing gateway means a retry."""
    outbox.enqueue_sms("+33612345678", "Votre code de sécurité APEX Partenaires : 123456")
    assert run(settings, db, clock)["sent"] == 1
    assert [(s["to"], s["body"]) for s in captured_sms(sink.directory)] == [
        ("+33612345678", "Votre code de sécurité APEX Partenaires : 123456"),
    ]
    assert captured_sms(sink.directory, to="+33600000000") == []
    sink.set_refusing(True)
    outbox.enqueue_sms("+33612345678", "again")
    assert run(settings, db, clock)["retried"] == 1
    assert "HTTP 503" in outbox.list()[-1]["last_error"]


def test_http_gateway_auth_template_and_refusal(tmp_path: Path, sink: Sinks) -> None:
    """Basic auth and a custom body go through; a body the gateway rejects is SmsRefused."""
    secret = tmp_path / "sms.secret"
    secret.write_text("s3cret\n")
    url = f"http://127.0.0.1:{sink.sms_port}/api/send"
    template = '{"to": {{ to|tojson }}, "text": {{ (text ~ "!")|tojson }}}'
    custom = SmsSettings(
        url=url, method="PUT", username="apex", password_file=secret, body_template=template
    )
    gateway = gateway_from_settings(custom)
    assert isinstance(gateway, HttpSmsGateway)
    assert gateway._headers()["Authorization"] == "Basic YXBleDpzM2NyZXQ="
    gateway.send("+33612345678", "salut")
    assert captured_sms(sink.directory)[-1]["body"] == "salut!"
    broken = HttpSmsGateway(SmsSettings(url=url, body_template="{{ to }}"))
    with pytest.raises(SmsRefused, match="HTTP 400"):
        broken.send("+33612345678", "x")
    assert gateway_from_settings(SmsSettings()) is None
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    with pytest.raises(Unavailable, match="cannot connect"):
        HttpSmsGateway(SmsSettings(url=f"http://127.0.0.1:{closed}/", timeout=2)).send("1", "x")


def test_run_once_opens_its_own_store(settings: Settings, sink: Sinks) -> None:
    """`apexdir daemon run-once outbox`: the store comes from the settings."""
    db = open_store(settings.state.path)
    queue(Outbox(db), "a@example.org")
    db.close()
    assert run_once(settings) == {"sent": 1, "retried": 0, "failed": 0, "remaining": 0}
    assert captured_mails(sink.directory)[0]["to"] == ["a@example.org"]


def test_configuration_error_gives_the_claims_back(
    tmp_path: Path, sink: Sinks, clock: FrozenClock
) -> None:
    """An unreadable SMTP password file stops the pass loudly, and nothing stays claimed."""
    settings = make_settings(
        tmp_path, sink, smtp={"username": "apex", "password_file": str(tmp_path / "missing")}
    )
    db = open_store(settings.state.path)
    outbox = Outbox(db, clock)
    queue(outbox, "a@example.org")
    with pytest.raises(ConfigError, match=r"smtp\.password_file"):
        run(settings, db, clock)
    assert [(r["status"], r["attempts"]) for r in outbox.list()] == [("queued", 0)]
    db.close()


def test_a_login_code_goes_before_a_mass_mailing(
    settings: Settings, clock: FrozenClock, sink: Sinks
) -> None:
    """2,000 queued expiry warnings, then one login code: the code is in the first batch."""
    from apexdir.runtime import Runtime
    from apexdir.workflows.notices import commit
    from apexdir.workflows.notify import Mail, queue_mail

    rt = Runtime(settings, clock=clock, operator="test")
    context = {"identifiant": "x-px", "jours": 7, "date_expiration": clock()}
    warnings = [Mail("password_expiry_warning", [f"p{i}@example.org"], context)
                for i in range(2000)]  # fmt: skip
    commit(rt, warnings, [])
    code = queue_mail(rt, "code", ["marie@example.org"], code="397110")
    first = asyncio.run(deliver(settings, rt.db, clock, worker="test", limit=100))
    assert first["sent"] == 100 and first["remaining"] == 1901
    mails = captured_mails(sink.directory)
    assert mails[0]["to"] == ["marie@example.org"] and "397110" in mails[0]["body"]
    spooled = rt.db.execute("SELECT message_id FROM outbox WHERE id = ?", [code]).fetchone()[0]
    assert mails[0]["message_id"] == spooled
    rt.close()


def test_marks_are_batched_and_nothing_is_lost(
    settings: Settings, db: sqlite_utils.Database, outbox: Outbox, clock: FrozenClock, sink: Sinks,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    """A pass over more than a chunk marks in few transactions; every mail arrives once."""
    calls: list[int] = []
    original = Outbox.mark_sent_many

    def spy(self: Outbox, sent: list[tuple[int, str | None]]) -> None:
        calls.append(len(sent))
        original(self, sent)

    monkeypatch.setattr(Outbox, "mark_sent_many", spy)
    for i in range(230):
        queue(outbox, f"u{i}@example.org", code=f"{i:06d}")
    assert run(settings, db, clock) == {"sent": 200, "retried": 0, "failed": 0, "remaining": 30}
    assert run(settings, db, clock)["sent"] == 30
    assert sum(calls) == 230 and len(calls) < 230 / 5
    assert max(calls) <= 50
    mails = captured_mails(sink.directory)
    assert sorted(m["message_id"] for m in mails) == sorted(
        r["message_id"] for r in db["outbox"].rows
    )
    assert {r["status"] for r in outbox.list()} == {"sent"}


def test_a_stopped_pass_marks_what_was_sent_and_releases_the_rest(
    settings: Settings, db: sqlite_utils.Database, outbox: Outbox, clock: FrozenClock, sink: Sinks,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    """Stop requested mid-chunk: sent ones are marked, the others queued again untouched."""
    from apexdir.daemon.jobs import outbox as job

    for i in range(10):
        queue(outbox, f"u{i}@example.org")
    run_ = job._Pass(settings, db, clock, "test")
    original = job._Pass._sent

    def sent_then_stop(self: job._Pass, message: Any, note: str | None = None) -> None:
        original(self, message, note)
        if self.counts["sent"] == 3:
            self.stop = True

    monkeypatch.setattr(job._Pass, "_sent", sent_then_stop)
    asyncio.run(run_.run(100))
    statuses = [r["status"] for r in outbox.list()]
    assert statuses == ["sent"] * 3 + ["queued"] * 7
    assert len(captured_mails(sink.directory)) == 3


def test_dev_sink_keeps_every_mail_of_concurrent_sessions(sink: Sinks) -> None:
    """Several SMTP connections at once: every mail answered 250 is read back."""
    import aiosmtplib

    async def session(n: int) -> None:
        async with aiosmtplib.SMTP(hostname="127.0.0.1", port=sink.smtp_port) as smtp:
            for i in range(20):
                data = f"Subject: m{n}-{i}\r\nMessage-ID: <{n}.{i}@t>\r\n\r\nbody\r\n"
                await smtp.sendmail("s@example.org", [f"r{n}@example.org"], data.encode())

    async def main() -> None:
        await asyncio.gather(*(session(n) for n in range(4)))

    asyncio.run(main())
    mails = captured_mails(sink.directory)
    assert len(mails) == 80 and len({m["message_id"] for m in mails}) == 80
    assert {m["subject"] for m in mails} == {f"m{n}-{i}" for n in range(4) for i in range(20)}


def test_a_message_due_again_in_the_pass_does_not_stop_its_chunk(
    settings: Settings, db: sqlite_utils.Database, outbox: Outbox, clock: FrozenClock, sink: Sinks,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    """Zero backoff: the refused mail waits for the next pass; the new ones claimed with it
    are still sent, and the pass ends after that chunk."""
    from apexdir.daemon.jobs import outbox as job

    monkeypatch.setattr(job, "CLAIM_CHUNK", 2)
    zero = make_settings(Path(str(settings.state.path)).parent, sink,
                         outbox={"backoff_seconds": 0, "max_attempts": 5})  # fmt: skip
    refused = queue(outbox, "nobody-deferred@example.org")
    others = [queue(outbox, f"u{i}@example.org") for i in range(3)]
    # Chunks: [refused, u0], then [refused again (released), u1]: u1 goes, the pass ends.
    assert run(zero, db, clock) == {"sent": 2, "retried": 1, "failed": 0, "remaining": 2}
    rows = {r["id"]: r for r in outbox.list()}
    assert [rows[i]["status"] for i in others] == ["sent", "sent", "queued"]
    assert (rows[refused]["status"], rows[refused]["attempts"]) == ("queued", 1)


def test_dev_sink_commits_within_its_flush_delay_and_at_stop(tmp_path: Path) -> None:
    """Another process's reader sees an accepted mail within FLUSH_SECONDS; stopping the sink
    commits what is pending."""
    import sqlite3
    import time

    import aiosmtplib

    from apexdir.dev import sinks as devsinks

    sinks = Sinks(tmp_path / "s")
    sinks.start()

    def stored() -> int:  # as another process reads: no flush of this process's handlers
        conn = sqlite3.connect(str(tmp_path / "s" / devsinks.DB_NAME))
        try:
            return int(conn.execute("SELECT count(*) FROM mails").fetchone()[0])
        finally:
            conn.close()

    async def send(count: int) -> None:
        async with aiosmtplib.SMTP(hostname="127.0.0.1", port=sinks.smtp_port) as smtp:
            for _ in range(count):
                await smtp.sendmail("s@example.org", ["r@example.org"], b"Subject: x\r\n\r\nb\r\n")

    try:
        asyncio.run(send(1))
        time.sleep(devsinks.FLUSH_SECONDS + 0.4)
        assert stored() == 1
        asyncio.run(send(3))
    finally:
        sinks.stop()
    assert stored() == 4


def urgent(outbox: Outbox, to: str, code: str, topic: str = "login:marie.martin-px",
           minutes: int = 10) -> int:  # fmt: skip
    rendered = render("code", code=code)
    return outbox.enqueue_mail(
        [to], rendered.subject, rendered.text, rendered.html, 0, topic=topic,
        expires_at=outbox.clock() + timedelta(minutes=minutes),
    )  # fmt: skip


def test_a_permanent_refusal_fails_after_one_try(
    settings: Settings, db: sqlite_utils.Database, outbox: Outbox, clock: FrozenClock, sink: Sinks
) -> None:
    """A 5xx refusal: `failed` at once, with the server's answer; no retry."""
    message = urgent(outbox, "nobody-refused@example.org", "111111")
    assert run(settings, db, clock)["failed"] == 1
    [row] = outbox.list()
    assert (row["id"], row["status"], row["attempts"]) == (message, "failed", 1)
    assert "550" in row["last_error"]


def test_a_code_does_not_wait_behind_an_older_failed_mail(
    settings: Settings, db: sqlite_utils.Database, outbox: Outbox, clock: FrozenClock, sink: Sinks
) -> None:
    """The person's older mail is in its backoff: the new code goes now, the mail later."""
    older = queue(outbox, "marie@example.org", "validation", identifiant="marie.martin-px")
    sink.set_refusing(True)
    run(settings, db, clock)
    sink.set_refusing(False)
    code = urgent(outbox, "marie@example.org", "222222")
    assert run(settings, db, clock)["sent"] == 1
    rows = {r["id"]: r for r in outbox.list()}
    assert rows[code]["status"] == "sent" and rows[older]["status"] == "queued"
    assert "222222" in captured_mails(sink.directory)[-1]["body"]


def test_a_newer_code_drops_the_older_and_codes_past_their_validity_fail(
    settings: Settings, db: sqlite_utils.Database, outbox: Outbox, clock: FrozenClock, sink: Sinks
) -> None:
    """Two codes for one login: only the newer is sent. A code that cannot leave is tried
    again every second while it is valid, then `failed` (never sent late)."""
    first = urgent(outbox, "marie@example.org", "111111")
    other = urgent(outbox, "paul@example.org", "333333", topic="login:paul.durand-px")
    second = urgent(outbox, "marie@example.org", "222222")
    sink.set_refusing(True)
    run(settings, db, clock)
    rows = {r["id"]: r for r in outbox.list()}
    assert rows[first]["status"] == "dropped" and "superseded" in rows[first]["last_error"]
    assert rows[second]["status"] == rows[other]["status"] == "queued"
    assert outbox.next_due(priority=0) == clock() + timedelta(seconds=1)
    clock.advance(minutes=11)
    assert run(settings, db, clock)["failed"] == 2
    rows = {r["id"]: r for r in outbox.list()}
    assert rows[second]["status"] == "failed" and "validity" in rows[second]["last_error"]
    sink.set_refusing(False)
    run(settings, db, clock)
    assert captured_mails(sink.directory) == []


@pytest.mark.parametrize("ending", ["failed", "released", "claim expired"])
def test_a_code_superseded_under_a_claim_is_never_sent(
    settings: Settings,
    db: sqlite_utils.Database,
    outbox: Outbox,
    clock: FrozenClock,
    sink: Sinks,
    ending: str,
) -> None:
    """The first code is claimed, the second login queues a newer one (the claim is live:
    the first cannot be dropped then), and the claim ends without a send: the send failed
    (found by a loaded full run: the first code stayed queued behind it), the claim was
    given back at a graceful stop, or left to expire by a daemon that died. Only the newer
    code arrives; a failed first is dropped at its failure, not retried."""
    first = urgent(outbox, "marie@example.org", "111111")
    [claimed] = outbox.claim_due(None, "worker-a", 60)
    second = urgent(outbox, "marie@example.org", "222222")
    assert {r["id"]: r["status"] for r in outbox.list()}[first] == "sending"
    if ending == "failed":
        assert outbox.mark_retry(claimed.id, "cannot connect", 5, 1.0) == "dropped"
        rows = {r["id"]: r for r in outbox.list()}
        assert rows[first]["status"] == "dropped" and rows[second]["status"] == "queued"
        clock.advance(seconds=2)
    elif ending == "released":
        outbox.release([claimed.id])
    else:
        clock.advance(seconds=61)
    assert run(settings, db, clock)["sent"] == 1
    rows = {r["id"]: r for r in outbox.list()}
    assert rows[first]["status"] == "dropped" and f"message {second}" in rows[first]["last_error"]
    bodies = [m["body"] for m in captured_mails(sink.directory)]
    assert len(bodies) == 1 and "222222" in bodies[0] and "111111" not in bodies[0]
