"""`apexdir daemon run`: the scheduler, a thin shell over the jobs in `jobs/`.

- APScheduler 3.x `AsyncIOScheduler` on one event loop. The outbox job is asynchronous
  (aiosmtplib) and runs on the loop; the directory jobs (expiry, pending, review, changes,
  housekeeping, dormancy) block on LDAP and run in threads (`asyncio.to_thread`), each pass
  with a runtime of its own. Schedules come from `[daemon]`: `outbox_seconds` and
  `changes_seconds` are intervals, `expiry_cron`, `pending_cron`, `review_cron`,
  `housekeeping_cron`, `dormancy_cron` are crontab lines in the host's local time. A job
  never overlaps itself; missed runs are coalesced into one.
- One active scheduler across nodes (`apexdir.workflows.lease`): the directory jobs
  (changes, expiry, pending, review, dormancy, housekeeping's directory part) run only while
  this daemon holds the lease; a waiting daemon polls and takes over when the holder stops
  renewing. On taking the lease, the change feed runs at once. The node-local jobs run on
  every node from the start: the outbox (each node's spool is its own, SPEC §9) and
  `local_housekeeping` (trims the node's journal and sent spool and vacuums its state
  store, on the `housekeeping_cron` schedule).
- Codes at once (issue 23): the daemon listens on the state store's wake socket
  (`apexdir.state.wake`); a datagram runs the outbox now, or once more right after the pass
  in hand. After a pass, a code waiting for its next try (every `urgent_retry_seconds`)
  gets a timer of its own, so it does not wait for the next `outbox_seconds` slot.
- SIGTERM / SIGINT: no new job starts; the outbox pass finishes the message in hand, marks
  what was sent and releases the rest of its claim (see jobs/outbox.py), the directory jobs
  stop between two items, then the lease is released so a waiting daemon takes over at
  once. Whatever a job did not reach stays queued or due: nothing is half-marked. A second
  signal interrupts the outbox pass at once (its unsent claims are released).
- Logging to stderr: one line per job run (what it did, how long it took), one per lease
  change. APScheduler's own chatter is silenced below warnings.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import signal
import threading
import time
from datetime import UTC, datetime
from typing import Any

from apexdir.clock import Clock, system_clock
from apexdir.config import Settings
from apexdir.daemon.jobs.common import summary
from apexdir.errors import ApexError, ConfigError
from apexdir.workflows.lease import Lease, open_lease

log = logging.getLogger("apexdir.daemon")

# Jobs that act on the shared directory: they run only on the node holding the lease.
DIRECTORY_JOBS = ("changes", "expiry", "pending", "review", "housekeeping", "dormancy")
# Jobs that act on this node's state store only: every node runs them, lease or not.
LOCAL_JOBS = ("outbox", "local_housekeeping")
# The function of a job's module that the daemon runs, where it is not `run_once` (which
# `apexdir daemon run-once` runs): the daemon splits housekeeping between the lease holder
# (the directory's part) and every node (the state store's part).
RUNNERS = {
    "housekeeping": ("housekeeping", "run_directory_once"),
    "local_housekeeping": ("housekeeping", "run_local_once"),
}
# Interval jobs run as soon as the lease is taken; cron jobs keep to their schedule.
KICKED = ("outbox", "changes")
# A cron run delayed by a busy loop or a lease hand-over still runs within this delay.
CRON_GRACE_SECONDS = 3600


class Daemon:
    def __init__(self, settings: Settings, clock: Clock = system_clock) -> None:
        self.settings = settings
        self.clock = clock
        self.tasks: set[asyncio.Task[Any]] = set()
        self.thread_stop = threading.Event()
        self._stopping: asyncio.Event | None = None
        self._outbox_pass: Any = None
        self._outbox_task: asyncio.Task[Any] | None = None
        self._db: Any = None
        self.lease: Lease | None = None
        self._scheduler_ref: Any = None
        self._outbox_again = False  # woken while a pass was running: one more pass after it
        self._retry_timer: asyncio.TimerHandle | None = None
        self._listener: Any = None

    # -------------------------------------------------------------------- signals
    def request_stop(self, signame: str = "stop") -> None:
        assert self._stopping is not None
        if self._outbox_pass is not None:
            self._outbox_pass.stop = True
        self.thread_stop.set()
        if self._stopping.is_set():
            log.warning("%s again: interrupting the jobs in hand", signame)
            for task in list(self.tasks):
                task.cancel()
            return
        log.info("%s: finishing the jobs in hand, then stopping", signame)
        self._stopping.set()

    # -------------------------------------------------------------------- jobs
    async def _outbox(self) -> dict[str, Any]:
        from apexdir.daemon.jobs.outbox import _Pass, worker_name

        # deliver() without its wrapper, to reach the pass's stop flag on SIGTERM.
        run = _Pass(self.settings, self._db, self.clock, worker_name("daemon"))
        self._outbox_pass = run
        try:
            if not self.thread_stop.is_set():
                await run.run(self.settings.outbox.batch_size)
        finally:
            self._outbox_pass = None
        return {**run.counts, "remaining": run.outbox.pending_count()}

    async def _outbox_passes(self) -> dict[str, Any]:
        """One pass, and another as long as a wake-up came during the last one."""
        totals: dict[str, Any] = {}
        while True:
            self._outbox_again = False  # the pass's claim sees whatever was queued before
            result = await self._outbox()
            for key, value in result.items():
                totals[key] = value if key == "remaining" else totals.get(key, 0) + value
            if not self._outbox_again or self.thread_stop.is_set():
                break
        self._time_next_retry()
        return totals

    def wake_outbox(self) -> None:
        """Run the outbox now (a code was queued, or a code's next try is due)."""
        if self.thread_stop.is_set() or self._scheduler_ref is None:
            return
        if self._outbox_task is not None and not self._outbox_task.done():
            self._outbox_again = True
            return
        with contextlib.suppress(Exception):  # stopping: the job may be gone already
            self._scheduler_ref.modify_job("outbox", next_run_time=datetime.now(UTC))

    def _time_next_retry(self) -> None:
        """A timer for the next try of a code, when it comes before the next slot."""
        from apexdir.state.outbox import URGENT, Outbox

        if self._retry_timer is not None:
            self._retry_timer.cancel()
            self._retry_timer = None
        due = Outbox(self._db, self.clock).next_due(priority=URGENT)
        if due is None:
            return
        delay = (due - self.clock()).total_seconds()
        if delay < self.settings.daemon.outbox_seconds:
            # Never a busy loop: a code due now but not claimable waits a moment.
            loop = asyncio.get_running_loop()
            self._retry_timer = loop.call_later(max(delay, 0.2), self.wake_outbox)

    def _woken(self) -> None:
        assert self._listener is not None
        if self._listener.drain():
            self.wake_outbox()

    async def _thread_job(self, name: str) -> dict[str, Any]:
        module_name, function = RUNNERS.get(name, (name, "run_once"))
        module = importlib.import_module(f"apexdir.daemon.jobs.{module_name}")
        # A thread: these jobs block (LDAP, VACUUM) and the scheduler must stay responsive.
        result: dict[str, Any] = await asyncio.to_thread(
            getattr(module, function), self.settings, self.clock, stop=self.thread_stop.is_set
        )
        return result

    def _job(self, name: str) -> Any:
        async def job() -> None:
            if self.thread_stop.is_set():
                return  # started in the instant between the stop signal and the pause
            task = asyncio.current_task()
            assert task is not None
            self.tasks.add(task)
            if name == "outbox":
                self._outbox_task = task
            started = time.monotonic()
            try:
                if name == "outbox":
                    result = await self._outbox_passes()
                else:
                    result = await self._thread_job(name)
            except asyncio.CancelledError:
                log.warning("job %s: interrupted after %.2f s", name, time.monotonic() - started)
                raise
            except ApexError as exc:
                log.error("job %s: failed after %.2f s: %s", name, time.monotonic() - started, exc)
            except Exception:
                log.exception("job %s: crashed after %.2f s", name, time.monotonic() - started)
            else:
                log.info("job %s: %s (%.2f s)", name, summary(result), time.monotonic() - started)
            finally:
                self.tasks.discard(task)

        job.__name__ = f"job_{name}"
        return job

    def _scheduler(self) -> Any:
        from apscheduler.schedulers.asyncio import AsyncIOScheduler
        from apscheduler.triggers.cron import CronTrigger
        from apscheduler.triggers.interval import IntervalTrigger

        d = self.settings.daemon
        scheduler = AsyncIOScheduler()
        common = {"max_instances": 1, "coalesce": True, "replace_existing": True}
        for name, seconds in (("outbox", d.outbox_seconds), ("changes", d.changes_seconds)):
            if seconds <= 0:
                raise ConfigError(f"daemon.{name}_seconds: must be positive")
            scheduler.add_job(
                self._job(name), IntervalTrigger(seconds=seconds), id=name, name=name,
                misfire_grace_time=max(1, seconds), **common,
            )  # fmt: skip
        for name, expression in (
            ("expiry", d.expiry_cron),
            ("pending", d.pending_cron),
            ("review", d.review_cron),
            ("housekeeping", d.housekeeping_cron),
            ("local_housekeeping", d.housekeeping_cron),
            ("dormancy", d.dormancy_cron),
        ):
            try:
                trigger = CronTrigger.from_crontab(expression)
            except ValueError as exc:
                raise ConfigError(f"daemon.{name}_cron: {expression!r}: {exc}") from None
            scheduler.add_job(
                self._job(name), trigger, id=name, name=name,
                misfire_grace_time=CRON_GRACE_SECONDS, **common,
            )  # fmt: skip
        return scheduler

    def holds_lease(self) -> bool:
        """Whether this daemon runs the directory jobs now (read by the metrics thread)."""
        return self.lease is not None and self.lease.held()

    # -------------------------------------------------------------------- the loop
    async def run(self) -> None:
        from apexdir.state.db import open_store

        loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.request_stop, sig.name)
        scheduler = self._scheduler()
        self._db = open_store(self.settings.state.path)
        self._scheduler_ref = scheduler
        self._listen(loop)
        lease = self.lease = open_lease(self.settings)
        log.info("daemon %s starting (lease of %s s)", lease.holder, lease.seconds)
        # The spool is node-local (SPEC §9): every node delivers its own and keeps its own
        # state store trimmed (LOCAL_JOBS), lease or not. Only the directory jobs wait.
        for name in DIRECTORY_JOBS:
            scheduler.pause_job(name)
        scheduler.start()
        active = False
        last_seen = None
        try:
            while not self._stopping.is_set():
                try:
                    held = await asyncio.to_thread(lease.acquire)
                except ApexError as exc:
                    log.error("lease: %s", exc)
                    held = False
                active = self._follow(scheduler, held, active)
                if not held and lease.seen and lease.seen.holder != last_seen:
                    last_seen = lease.seen.holder
                    log.info("lease held by %s until %s: waiting", lease.seen.holder,
                             lease.seen.expires_at.isoformat())  # fmt: skip
                wait = lease.renew_seconds if held else lease.poll_seconds
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), wait)
        finally:
            with contextlib.suppress(Exception):
                scheduler.pause()
            await self._drain()
            with contextlib.suppress(Exception):
                scheduler.shutdown(wait=False)
            await asyncio.sleep(0)
            if active or lease.valid_until is not None:
                await asyncio.to_thread(lease.release)
            lease.close()
            if self._listener is not None:
                loop.remove_reader(self._listener.fileno())
                self._listener.close()
            if self._retry_timer is not None:
                self._retry_timer.cancel()
            self._db.close()
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(sig)
            log.info("daemon %s stopped", lease.holder)

    def _follow(self, scheduler: Any, held: bool, active: bool) -> bool:
        """Run or pause the directory jobs as the lease comes and goes; whether they run."""
        if held and not active:
            log.info("lease taken: running the directory jobs")
            for name in DIRECTORY_JOBS:
                scheduler.resume_job(name)
            self._kick(scheduler)
        elif not held and active:
            log.warning("lease lost: directory jobs paused")
            for name in DIRECTORY_JOBS:
                scheduler.pause_job(name)
        return held

    def _listen(self, loop: asyncio.AbstractEventLoop) -> None:
        from apexdir.state.wake import Listener

        try:
            self._listener = Listener(self.settings.state.path)
        except OSError as exc:
            # Codes then wait for the next scheduled pass: slower, not broken.
            log.warning("outbox wake-ups unavailable (%s): every %s s only",
                        exc, self.settings.daemon.outbox_seconds)  # fmt: skip
            return
        loop.add_reader(self._listener.fileno(), self._woken)

    def _kick(self, scheduler: Any) -> None:
        now = datetime.now(scheduler.timezone)
        for name in KICKED:
            scheduler.modify_job(name, next_run_time=now)

    def _grace_seconds(self) -> float:
        # An outbox chunk is sized to end within half a lease (jobs/outbox.py).
        return self.settings.daemon.lease_seconds / 2 + self.settings.smtp.timeout

    async def _drain(self) -> None:
        """Wait for the jobs in hand; interrupt the outbox pass only past the grace delay."""
        if not self.tasks:
            return
        log.info("waiting for %d job(s) in hand", len(self.tasks))
        _, late = await asyncio.wait(set(self.tasks), timeout=self._grace_seconds())
        if self._outbox_task in late:
            # Its unsent claims are released by the pass itself (jobs/outbox.py).
            self._outbox_task.cancel()
        if late:
            # A directory job stops at its next item; its LDAP call is bounded by a timeout.
            await asyncio.wait(late)


def run_forever(settings: Settings, clock: Clock = system_clock) -> None:
    """Run the scheduler until SIGTERM or SIGINT."""
    from apexdir import logs, metrics

    logs.setup(settings.logging.format, settings.logging.level)
    daemon = Daemon(settings, clock)
    if settings.metrics.daemon_bind:
        # The daemon's own figures (change-feed lag, the providers' mdb usage) beside the
        # node's: daemonmetrics.py.
        from apexdir.daemonmetrics import DaemonCollector

        extra = DaemonCollector(settings, daemon.holds_lease)
        metrics.serve(settings, settings.metrics.daemon_bind, "daemon", extra)
    asyncio.run(daemon.run())
