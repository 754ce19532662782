"""The outbox job: send what the spool holds, mails over one SMTP connection, texts by HTTP.

Every claimed message ends the pass in exactly one state: sent, queued again with a counted
attempt and a backoff (the server refused it, or is unreachable), or released untouched
(held behind an older failed message to the same recipients, or the pass was interrupted).

Throughput (issue 13): messages are claimed `CLAIM_CHUNK` at a time, most urgent first (one
write transaction per chunk), all mails of a pass go over one SMTP connection, each mail is
written in its wire form directly (`message_bytes`, not the email package's header
machinery), and the "sent" marks are committed in batches: at the latest `FLUSH_SECONDS`
after the server's 250, every `FLUSH_EVERY` mails, at the end of a chunk and before any
release. The price: a crash (SIGKILL, power) right after a 250 may send again the mails
accepted within that last slice once their claim expires, with the same Message-ID —
at least once, never lost. A chunk's claim is renewed before it could run out while its
mails are still in hand (`Outbox.extend`), so that no other worker takes them meanwhile.

Codes and reset links (issue 23) go out as soon as they are due: they are never held behind
the person's older message that failed, a 5xx refusal fails any message at once (trying it
again would be refused again), and the codes past their validity are given up first.

Each pass first turns the anonymous forgotten-password requests waiting in the state store
(`apexdir.state.resetqueue`, issue 12) into their SMS or mail: looking the identifier up
here, not while the requester waits, is what keeps the answer's time equal for everyone.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import time
from typing import Any

import sqlite_utils

from apexdir.clock import Clock, system_clock
from apexdir.config import Settings
from apexdir.errors import Unavailable
from apexdir.livemetrics import DELIVERIES, ERRORS
from apexdir.mail.render import RenderedMail, build_message, envelope_sender, message_bytes
from apexdir.mail.transport import DeliveryRefused, SmtpSession
from apexdir.sms.gateway import SmsGateway, SmsRefused, gateway_from_settings
from apexdir.state import resetqueue
from apexdir.state.db import open_store
from apexdir.state.outbox import URGENT, Outbox, OutboxMessage

# Messages per claim (one write transaction each). Large enough that the claim's commit is
# lost in the sending; small enough that a stop or a failure releases little.
CLAIM_CHUNK = 100
# "Sent" marks are committed when this many wait, or this long after the oldest one.
FLUSH_EVERY = 50
FLUSH_SECONDS = 0.1


def _key(message: OutboxMessage) -> str:
    return json.dumps(message.recipients)


def worker_name(role: str) -> str:
    """Who holds a claim, as shown in the spool: role, host and process."""
    return f"{role}@{socket.gethostname()}:{os.getpid()}"


class _Pass:
    def __init__(self, settings: Settings, db: sqlite_utils.Database, clock: Clock, worker: str):
        self.settings = settings
        self.outbox = Outbox(db, clock)
        self.clock = clock
        self.worker = worker
        self.counts = {"sent": 0, "retried": 0, "failed": 0}
        # Recipients whose older message failed in this pass: their next ones wait for it.
        self.held: set[str] = set()
        # Why each kind's server was unreachable in this pass: later messages of that kind
        # are counted as failed attempts without a new connection attempt each.
        self.down: dict[str, str] = {}
        self.stop = False
        self._stack = contextlib.AsyncExitStack()
        self._smtp: SmtpSession | None = None
        self._gateway: SmsGateway | None = None
        self._gateway_loaded = False
        # Accepted by the server, not yet marked in the spool (see FLUSH_*).
        self._unmarked: list[tuple[int, str | None]] = []
        self._unmarked_since = 0.0
        # When the claim of the chunk in hand runs out (time.monotonic()).
        self._claim_deadline = 0.0

    # -- bookkeeping -------------------------------------------------------------------

    def _sent(self, message: OutboxMessage, note: str | None = None) -> None:
        if not self._unmarked:
            self._unmarked_since = time.monotonic()
        self._unmarked.append((message.id, note))
        self.counts["sent"] += 1
        DELIVERIES.labels(message.kind, "sent").inc()
        if (
            len(self._unmarked) >= FLUSH_EVERY
            or time.monotonic() - self._unmarked_since >= FLUSH_SECONDS
        ):
            self._flush()

    def _flush(self) -> None:
        marks, self._unmarked = self._unmarked, []
        self.outbox.mark_sent_many(marks)

    def _slowest(self) -> float:
        return max(self.settings.smtp.timeout, self.settings.sms.timeout)

    def _keep_claim(self, remaining: list[OutboxMessage]) -> None:
        """Renew the chunk's claim while one more send (and a margin) could outlast it."""
        if time.monotonic() + 2 * self._slowest() < self._claim_deadline:
            return
        self._flush()
        lease = self.settings.daemon.lease_seconds
        self.outbox.extend([m.id for m in remaining], self.worker, lease)
        self._claim_deadline = time.monotonic() + lease

    def _retry(self, message: OutboxMessage, error: str) -> None:
        box = self.settings.outbox
        status = self.outbox.mark_retry(
            message.id, error, box.max_attempts, box.backoff_seconds, box.urgent_retry_seconds
        )
        if status == "dropped":  # a newer code of the same topic was queued meanwhile
            self.counts["dropped"] = self.counts.get("dropped", 0) + 1
            return
        DELIVERIES.labels(message.kind, "failed" if status == "failed" else "retried").inc()
        if status == "failed":
            self.counts["failed"] += 1
        else:
            self.counts["retried"] += 1
            # Later messages to these recipients must not overtake this one. Once it is given
            # up there is nothing left to wait for; and nothing waits for a code.
            if message.priority != URGENT:
                self.held.add(_key(message))

    def _refused(self, message: OutboxMessage, error: str) -> None:
        self.outbox.mark_failed(message.id, error)
        self.counts["failed"] += 1
        DELIVERIES.labels(message.kind, "failed").inc()

    def _chunk_size(self) -> int:
        # The claim is renewed as the chunk goes (_keep_claim): its size no longer has to fit
        # a lease at the worst-case send time.
        return CLAIM_CHUNK

    # -- the pass ----------------------------------------------------------------------

    async def run(self, limit: int) -> None:
        if not self.stop and resetqueue.pending(self.outbox.db):
            # A thread: the directory calls block, and the scheduler must stay responsive.
            await asyncio.to_thread(handle_reset_requests, self.settings, self.clock)
        for kind, count in self.outbox.expire().items():
            self.counts["failed"] += count
            DELIVERIES.labels(kind, "expired").inc(count)
        seen: set[int] = set()
        async with self._stack:
            while limit > 0 and not self.stop:
                started = time.monotonic()
                chunk = self.outbox.claim_due(
                    min(self._chunk_size(), limit), self.worker, self.settings.daemon.lease_seconds
                )
                self._claim_deadline = started + self.settings.daemon.lease_seconds
                if not chunk:
                    break
                limit -= len(chunk)
                # A message due again within the same pass (zero backoff, or released
                # behind a failure) waits for the next pass instead of looping here.
                again = [m.id for m in chunk if m.id in seen]
                if again:
                    self.outbox.release(again)
                    chunk = [m for m in chunk if m.id not in seen]
                seen.update(m.id for m in chunk)
                await self._deliver(chunk)
                if again:
                    break  # the rest of this chunk went out; what is due again waits

    async def _deliver(self, chunk: list[OutboxMessage]) -> None:
        remaining = list(chunk)
        try:
            # A stop request ends the chunk after the message in hand: the rest is released
            # below, so a stopping daemon waits for one send at most.
            while remaining and not self.stop:
                self._keep_claim(remaining)
                await self._one(remaining[0])
                remaining.pop(0)
        finally:
            # The marks first: a message accepted by the server must never be released.
            try:
                self._flush()
            finally:
                # Interrupted (stop, signal, bug, configuration): give back what is left.
                self.outbox.release([m.id for m in remaining])

    async def _one(self, message: OutboxMessage) -> None:
        if _key(message) in self.held and message.priority != URGENT:
            self.outbox.release([message.id])
            return
        if message.kind in self.down:
            ERRORS.labels(message.kind, "unreachable").inc()
            self._retry(message, self.down[message.kind])
            return
        try:
            if message.kind == "mail":
                note = await self._send_mail(message)
            else:
                note = await self._send_sms(message)
        except DeliveryRefused as exc:
            self._failed_attempt(message, str(exc), for_good=exc.permanent)
        except SmsRefused as exc:
            # 4xx: the gateway said this request is wrong: it will stay so.
            self._failed_attempt(message, str(exc), for_good=exc.status >= 400)
        except Unavailable as exc:
            ERRORS.labels(message.kind, "unreachable").inc()
            self.down[message.kind] = str(exc)
            self._retry(message, str(exc))
        else:
            self._sent(message, note)

    def _failed_attempt(self, message: OutboxMessage, error: str, *, for_good: bool) -> None:
        ERRORS.labels(message.kind, "refused" if for_good else "deferred").inc()
        if for_good:
            self._refused(message, error)
        else:
            self._retry(message, error)

    async def _send_mail(self, message: OutboxMessage) -> str | None:
        if self._smtp is None:
            self._smtp = await self._stack.enter_async_context(SmtpSession(self.settings.smtp))
        sender = self.settings.smtp.sender
        rendered = RenderedMail(message.subject or "", message.body_text, message.body_html or "")
        ascii_only = sender.isascii() and all(a.isascii() for a in message.recipients)
        try:
            if ascii_only:
                data = message_bytes(rendered, message.recipients, sender, message.message_id,
                                     sent_at=self.clock())  # fmt: skip
            else:
                # An internationalized address needs SMTPUTF8, which send_message negotiates.
                msg = build_message(rendered, message.recipients, sender, message.message_id,
                                    sent_at=self.clock())  # fmt: skip
        except (ValueError, TypeError, UnicodeError) as exc:
            raise DeliveryRefused(f"cannot build the message: {exc}", reply_code=None) from exc
        try:
            if ascii_only:
                envelope = envelope_sender(sender)
                refused = await self._smtp.send_bytes(envelope, message.recipients, data)
            else:
                refused = await self._smtp.send(msg)
        except Unavailable:
            self._smtp = None
            raise
        if refused:
            return "accepted except for " + "; ".join(f"{a}: {r}" for a, r in refused.items())
        return None

    async def _send_sms(self, message: OutboxMessage) -> str | None:
        if not self._gateway_loaded:
            self._gateway = gateway_from_settings(self.settings.sms)
            self._gateway_loaded = True
        if self._gateway is None:
            raise SmsRefused("SMS disabled: sms.url is not set", status=0)
        # urllib blocks: a thread keeps the event loop (and the scheduler) responsive.
        await asyncio.to_thread(self._gateway.send, message.recipients[0], message.body_text)
        return None


def handle_reset_requests(settings: Settings, clock: Clock, limit: int = 200) -> int:
    """Send the codes and links of waiting forgotten-password requests; the number handled.

    A request older than the reset validity is dropped (the requester has given up); the
    directory being unavailable leaves the rest for the next pass (their claim expires).
    """
    from datetime import timedelta

    from apexdir.runtime import Runtime
    from apexdir.workflows.auth import process_reset_request

    rt = Runtime(settings, clock=clock, operator="daemon")
    handled = 0
    try:
        now = clock()
        lease = timedelta(seconds=settings.daemon.lease_seconds)
        too_old = timedelta(minutes=settings.policy.reset_validity_minutes)
        for request_id, identifier, created in resetqueue.claim(rt.db, now, lease, limit):
            if created + too_old > now:
                try:
                    process_reset_request(rt, identifier, created)
                except Unavailable:
                    break  # the directory is down: the claim expires, the next pass retries
            resetqueue.done(rt.db, request_id)
            handled += 1
    finally:
        rt.close()
    return handled


async def deliver(
    settings: Settings,
    db: sqlite_utils.Database,
    clock: Clock = system_clock,
    *,
    worker: str = "cli",
    limit: int | None = None,
) -> dict[str, Any]:
    """One delivery pass over due messages (at most `limit`, default `outbox.batch_size`).

    Returns counts: `sent`, `retried` (queued again), `failed` (gave up after
    `outbox.max_attempts`), `remaining` (still queued or being sent, due or not).
    """
    run = _Pass(settings, db, clock, worker)
    await run.run(limit if limit is not None else settings.outbox.batch_size)
    return {**run.counts, "remaining": run.outbox.pending_count()}


def run_once(settings: Settings, clock: Clock = system_clock) -> dict[str, Any]:
    """`apexdir daemon run-once outbox`: one pass with a store of its own."""
    db = open_store(settings.state.path)
    try:
        return asyncio.run(deliver(settings, db, clock, worker=worker_name("cli")))
    finally:
        db.close()
