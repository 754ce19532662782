"""Prometheus metrics of a node (issue 14): what an operations team watches.

Every figure is read when scraped, from where the truth already is: the journal's counts
(events: logins, codes, resets…, per action, kept by a trigger as they are journaled), the
spool (depth, oldest queued mail, failed
deliveries), the directory (pending creations by age, a timed read). So the portal's
workers, the daemon and the CLI need no shared counters, and a restart loses nothing. The
journal is node-local, as are its counts; trimming it leaves them as they are.

Each series is exported by one process of the node (issue 23, item 7), so that a sum over
a node's targets counts nothing twice:

- the daemon (`[metrics] daemon_bind`) exports the node's figures — events, spool, the
  directory's answer, the lease, open creations — and its deliveries and delivery errors
  (`livemetrics.DAEMON`): one process per node, running on every node (its outbox is
  node-local), owner of the spool and the lease; a scrape that waits for a hung directory
  holds one of its threads, never the gunicorn master;
- the portal (`[metrics] portal_bind`) exports what only it sees: HTTP requests by route,
  summed over its workers (`livemetrics.PORTAL`).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from apexdir.config import Settings
    from apexdir.runtime import Runtime

AGES = ((timedelta(days=1), "lt_1d"), (timedelta(days=3), "1d_3d"), (timedelta(days=7), "3d_7d"))


def _age_bucket(age: timedelta) -> str:
    for limit, label in AGES:
        if age < limit:
            return label
    return "ge_7d"


class Collector:
    """A custom collector: one directory read and three SQLite queries per scrape."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def describe(self) -> list[Any]:
        return []  # collected on demand only

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        from apexdir.runtime import Runtime

        # A runtime of the scrape's own: its SQLite handle belongs to the scraping thread.
        rt = Runtime(self.settings, operator="metrics")
        try:
            yield from self._state(rt, CounterMetricFamily, GaugeMetricFamily)
            yield from self._directory(rt, GaugeMetricFamily)
        finally:
            rt.close()

    def _state(self, rt: Runtime, counter: Any, gauge: Any) -> Iterator[Any]:
        up = gauge("apexdir_state_up", "Whether the node's state store answers.")
        try:
            # Kept as events are journaled (state/db.py m007): not a count of the journal.
            events = rt.db.execute("SELECT action, count FROM journal_counts").fetchall()
            spool = rt.db.execute(
                "SELECT kind, status, COUNT(*) FROM outbox GROUP BY kind, status"
            ).fetchall()
            (oldest,) = rt.db.execute(
                "SELECT MIN(created_at) FROM outbox WHERE status = 'queued'"
            ).fetchone()
        except Exception:  # a broken store is a figure, not a failed scrape
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        total = counter(
            "apexdir_events",
            "Journaled events by action (logins, codes, resets, creations, rights…), on this node.",
            labels=["action"],
        )
        for action, count in events:
            total.add_metric([action], count)
        yield total
        depth = gauge(
            "apexdir_outbox_messages",
            "Messages in the spool by kind and status (failed: given up after every retry).",
            labels=["kind", "status"],
        )
        for kind, status, count in spool:
            depth.add_metric([kind, status], count)
        yield depth
        age = gauge("apexdir_outbox_oldest_queued_seconds", "Age of the oldest queued message.")
        if oldest:
            created = datetime.fromisoformat(oldest)
            age.add_metric([], max(0.0, (rt.clock() - created).total_seconds()))
        else:
            age.add_metric([], 0)
        yield age

    def _directory(self, rt: Runtime, gauge: Any) -> Iterator[Any]:
        from apexdir.directory.repository import Repository
        from apexdir.errors import ApexError
        from apexdir.models import RequestStatus

        up = gauge("apexdir_directory_up", "Whether the directory answers apexdir's account.")
        latency = gauge("apexdir_directory_latency_seconds", "Time of one directory read.")
        start = time.perf_counter()
        try:
            rt.directory.get(rt.layout.people_dn, ["1.1"])
            requests = Repository(rt.directory, rt.layout).requests(
                status=[RequestStatus.INVITED, RequestStatus.SUBMITTED], with_services=False
            )
        except ApexError:
            up.add_metric([], 0)
            yield up
            return
        latency.add_metric([], time.perf_counter() - start)
        up.add_metric([], 1)
        yield up
        yield latency
        yield from _lease_metric(rt, gauge)
        pending = gauge(
            "apexdir_creations_pending",
            "Open account creations by status and age (since the invitation).",
            labels=["status", "age"],
        )
        counts: dict[tuple[str, str], int] = {}
        now = rt.clock()
        for req in requests:
            since = req.requested_at or now
            key = (req.status, _age_bucket(now - since))
            counts[key] = counts.get(key, 0) + 1
        for (status, bucket), count in sorted(counts.items()):
            pending.add_metric([status, bucket], count)
        yield pending


def _lease_metric(rt: Runtime, gauge: Any) -> Iterator[Any]:
    """Who holds the scheduler's lease (host:pid:…), and for how long still: a holder whose
    expiry goes negative, or none at all, means the directory jobs stopped."""
    from apexdir.directory import lease as leases
    from apexdir.errors import NotFound

    try:
        value = leases.read(rt.directory, rt.layout.lease_dn)
    except NotFound:
        value = None  # before `apexdir init`: nobody holds it
    lease = gauge(
        "apexdir_lease_expires_in_seconds",
        "Seconds until the scheduler's lease runs out, labelled with its holder.",
        labels=["holder"],
    )
    if value is not None:
        lease.add_metric([value.holder], (value.expires_at - rt.clock()).total_seconds())
    yield lease


ROLES = ("daemon", "portal")


def registry(settings: Settings, role: str, *extra: Any) -> Any:
    """The series `role` (daemon, portal) exports, and no other (see the module's note);
    `extra` collectors join the daemon's (its own figures: daemonmetrics.py)."""
    import os

    from prometheus_client import CollectorRegistry

    from apexdir.livemetrics import DAEMON, PORTAL

    if role not in ROLES:
        raise ValueError(f"unknown metrics role {role!r}")
    if role == "daemon":
        reg = CollectorRegistry(auto_describe=False)
        reg.register(Collector(settings))  # type: ignore[arg-type]
        reg.register(DAEMON)  # type: ignore[arg-type]
        for collector in extra:
            reg.register(collector)
        return reg
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # `apexdir serve`: the workers' counters, summed from their files (livemetrics.py).
        from prometheus_client import multiprocess

        reg = CollectorRegistry(auto_describe=False)
        multiprocess.MultiProcessCollector(reg)
        return reg
    return PORTAL


def text(settings: Settings, role: str) -> str:
    from prometheus_client import generate_latest

    return generate_latest(registry(settings, role)).decode()


def serve(settings: Settings, bind: str, role: str, *extra: Any) -> Any:
    """`/metrics` of `role` on HOST:PORT, in a thread of this process."""
    from prometheus_client import start_http_server

    host, _, port = bind.rpartition(":")
    server, _thread = start_http_server(
        int(port), addr=host or "127.0.0.1", registry=registry(settings, role, *extra)
    )
    return server
