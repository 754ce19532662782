"""A node's readiness, answered within a deadline whatever its dependencies do (issue 23).

Each dependency has a `Probe`: its check runs in a thread of its own, one at a time, and its
last result is kept for a moment. `Readiness.report` starts the checks that are not fresh,
waits for them until the deadline, and tells a check still running at the deadline as
failed ("no answer"): a hung directory makes `/sante` answer 503 in under a second instead
of hanging with it, and a load balancer polling it starts at most one check at a time.

The directory and the state store are required (without them nothing works: 503). The
SMTP relay and the SMS gateway are not: mails and texts wait in the spool, so the node
stays in service and reports itself `degraded`.
"""

from __future__ import annotations

import socket
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from apexdir.errors import ApexError, Unavailable

if TYPE_CHECKING:
    from apexdir.config import Settings

DEADLINE_SECONDS = 0.8


@dataclass
class Result:
    ok: bool
    reason: str | None = None
    ms: float | None = None
    at: float = 0.0  # time.monotonic() when it ended

    def public(self) -> dict[str, Any]:
        out: dict[str, Any] = {"ok": self.ok}
        if self.ms is not None:
            out["ms"] = self.ms
        if self.reason:
            out["reason"] = self.reason
        return out


class Probe:
    """One dependency's check: at most one run in flight, its result fresh for `fresh`
    seconds. `check` returns nothing or raises; the reason shown is `describe(exc)`, which
    must not carry secrets or names (a DN, a path): `/sante` is not authenticated."""

    def __init__(self, name: str, check: Callable[[], None], fresh: float) -> None:
        self.name = name
        self.check = check
        self.fresh = fresh
        self.last: Result | None = None
        self._running: threading.Event | None = None
        self._started = 0.0
        self._lock = threading.Lock()

    def start(self) -> None:
        with self._lock:
            if self._running is not None:
                return
            if self.last is not None and time.monotonic() - self.last.at < self.fresh:
                return
            self._running = threading.Event()
            self._started = time.monotonic()
            threading.Thread(target=self._run, name=f"probe-{self.name}", daemon=True).start()

    def _run(self) -> None:
        started = time.perf_counter()
        try:
            self.check()
            result = Result(True, ms=round((time.perf_counter() - started) * 1e3, 1))
        except Exception as exc:  # a failed check is a figure, never an error page
            result = Result(False, reason=describe(exc))
        result.at = time.monotonic()
        with self._lock:
            self.last, running, self._running = result, self._running, None
        if running is not None:
            running.set()

    def result(self, until: float) -> Result:
        """The result, waiting for a run in flight until `until` (time.monotonic())."""
        with self._lock:
            running, started = self._running, self._started
        if running is not None and not running.wait(max(0.0, until - time.monotonic())):
            return Result(False, reason=f"no answer for {time.monotonic() - started:.1f} s")
        assert self.last is not None
        return self.last


def describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError | socket.timeout):
        return "no answer in time"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, ApexError):
        return (
            "unreachable or not answering" if isinstance(exc, Unavailable) else type(exc).__name__
        )
    if isinstance(exc, OSError):
        return f"unreachable ({exc.strerror or type(exc).__name__})"
    return type(exc).__name__


@dataclass(frozen=True)
class Report:
    status: str  # ok | degraded | unavailable
    checks: dict[str, dict[str, Any]]

    @property
    def ready(self) -> bool:
        return self.status != "unavailable"


REQUIRED = ("directory", "state")


class Readiness:
    """The probes of one process (a portal worker), built from its settings."""

    def __init__(self, settings: Settings) -> None:
        from apexdir.directory.connection import Directory
        from apexdir.directory.layout import Layout

        self.settings = settings
        # A connection of its own, with the portal's short deadlines, kept between checks.
        self.directory = Directory(settings.ldap.interactive())
        people = Layout(settings.ldap.base_dn).people_dn

        def read_people() -> None:
            self.directory.get(people, ["1.1"])

        probes = [
            Probe("directory", read_people, fresh=1.0),
            Probe("state", lambda: _sqlite(settings), fresh=1.0),
            Probe("smtp", lambda: _smtp(settings), fresh=5.0),
        ]
        if settings.sms.url:
            probes.append(Probe("sms", lambda: _tcp(settings.sms.url or ""), fresh=5.0))
        self.probes = probes

    def report(self, deadline: float = DEADLINE_SECONDS) -> Report:
        until = time.monotonic() + deadline
        for probe in self.probes:
            probe.start()
        results = {probe.name: probe.result(until) for probe in self.probes}
        if not all(results[name].ok for name in REQUIRED):
            status = "unavailable"
        elif all(result.ok for result in results.values()):
            status = "ok"
        else:
            status = "degraded"
        return Report(status, {name: result.public() for name, result in results.items()})

    def close(self) -> None:
        self.directory.close()


def _sqlite(settings: Settings) -> None:
    conn = sqlite3.connect(str(settings.state.path), timeout=DEADLINE_SECONDS)
    try:
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    finally:
        conn.close()


def _smtp(settings: Settings) -> None:
    """The relay accepts a connection and greets (220): what the outbox needs first."""
    smtp = settings.smtp
    timeout = min(smtp.timeout, 2.0)
    with socket.create_connection((smtp.host, smtp.port), timeout=timeout) as sock:
        if smtp.security == "tls":
            return  # the greeting comes after the TLS handshake: the connection will do
        banner = sock.recv(512)
        if not banner.startswith(b"220"):
            raise ConnectionError(f"unexpected greeting {banner[:3]!r}")
        sock.sendall(b"QUIT\r\n")


def _tcp(url: str) -> None:
    """The SMS gateway accepts a connection (no request: a request could send a text)."""
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    with socket.create_connection((parts.hostname or "", port), timeout=2.0):
        pass
