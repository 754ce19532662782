"""Development sinks: an SMTP server and an SMS HTTP gateway that keep what they receive.

`apexdir dev up` runs them as a process (`python -m apexdir.dev.sinks`), the tests in-process
(`Sinks(...).start()`). Both write to `DIR/sinks.db`, so `apexdir dev mails` / `dev sms` and the
tests read captured messages the same way, from any process. `set_refusing(True)` makes both
answer "try later" (SMTP 451, HTTP 503) to exercise the spool's retries; a recipient such as
`nobody-refused@example.org` is always refused (550).

The SMTP sink must not be the bottleneck of the outbox benchmark (issue 13): it keeps one
SQLite connection (WAL, `synchronous = NORMAL`: no fsync per commit) and stores each mail as
received (`raw`), parsed only when read (`captured_mails`, with the compat32 parser, an
order of magnitude cheaper than `email.policy.default`). Its writes are batched: a mail is
answered 250 at once and committed with the others in one transaction per `FLUSH_EVERY`
mails, at the latest `FLUSH_SECONDS` later, and when the sink stops. The decision, for a
development sink: a mail answered 250 is on disk within 100 ms; a crash of the sink process
inside that window loses those mails (a write error is printed, never silent), a power loss
may lose the commits since the last checkpoint. Readers in the sink's own process (the
tests) flush first and see every accepted mail; another process (`apexdir dev mails`) sees
it within 100 ms. Checkpoints (which fsync) run every `CHECKPOINT_SECONDS` in a thread of
their own, never on the SMTP thread.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import socket
import sqlite3
import sys
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from apexdir.dev.store import (  # noqa: F401 (re-exported for the tests)
    _LIVE,
    CHECKPOINT_SECONDS,
    DB_NAME,
    DEFERRED_SUFFIX,
    FILE_MODE,
    FLUSH_EVERY,
    FLUSH_SECONDS,
    FOLDER_MODE,
    PORTS_FILE,
    REFUSED_SUFFIX,
    REFUSING_FLAG,
    _connect,
    _now,
    _prepare,
    _private_db,
    _refusing,
    private_folder,
    set_refusing,
    write_private,
)


# -- SMTP ---------------------------------------------------------------------------------
class _SmtpHandler:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        # Checked at every RCPT and DATA: a plain string for os.path.exists, no Path objects.
        self._flag = str(Path(directory) / REFUSING_FLAG)
        # The sink's own connection; `_lock` serializes it between the SMTP thread, the flush
        # timer and readers of this process (captured_mails flushes first).
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.Lock()
        self._pending: list[list[Any]] = []
        self._timer: asyncio.TimerHandle | None = None
        _LIVE.add(self)

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            conn = sqlite3.connect(_private_db(self.directory), timeout=10, check_same_thread=False)
            _prepare(conn)
            conn.execute("PRAGMA synchronous = NORMAL")
            # No checkpoint (two fsyncs) inside a flush on the SMTP thread: Sinks runs them.
            conn.execute("PRAGMA wal_autocheckpoint = 0")
            self._conn = conn
        return self._conn

    def _store(self, row: list[Any]) -> None:
        """Queue `row` for the next flush: at once past FLUSH_EVERY rows, else within
        FLUSH_SECONDS (a timer on the SMTP loop)."""
        with self._lock:
            self._pending.append(row)
            full = len(self._pending) >= FLUSH_EVERY
        if full:
            self.flush()
        elif self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(FLUSH_SECONDS, self._timed)

    def _timed(self) -> None:
        self._timer = None
        self.flush()

    def flush(self) -> None:
        """Commit the accepted mails not yet in the database (one transaction)."""
        with self._lock:
            rows, self._pending = self._pending, []
            if not rows:
                return
            try:
                conn = self._connection()
                with conn:
                    conn.executemany(
                        "INSERT INTO mails (mail_from, recipients, date, raw) VALUES (?, ?, ?, ?)",
                        rows,
                    )
            except sqlite3.Error as exc:
                # Already answered 250: say loudly what was lost (a development sink only).
                print(f"devsinks: {len(rows)} accepted mail(s) not stored: {exc}",
                      file=sys.stderr, flush=True)  # fmt: skip

    def close(self) -> None:
        """Flush what is pending (the SMTP server is stopped), then close."""
        _LIVE.discard(self)
        self.flush()
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str,
        rcpt_options: list[str],
    ) -> str:  # fmt: skip
        if os.path.exists(self._flag):
            return "451 4.3.0 Temporary failure: the development sink is refusing"
        if address.partition("@")[0].lower().endswith(REFUSED_SUFFIX):
            return "550 5.1.1 Mailbox unavailable (development sink)"
        if address.partition("@")[0].lower().endswith(DEFERRED_SUFFIX):
            return "451 4.2.1 Mailbox busy, try again later (development sink)"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if os.path.exists(self._flag):
            return "451 4.3.0 Temporary failure: the development sink is refusing"
        raw = envelope.original_content or b""
        # Stored as received, parsed when read; committed within FLUSH_SECONDS (module doc).
        self._store([envelope.mail_from, json.dumps(envelope.rcpt_tos), _now(), raw])
        return "250 Message accepted for delivery"


# -- SMS ----------------------------------------------------------------------------------


def _sms_handler(directory: Path) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "apexdir-sms-sink"

        def _answer(self, status: HTTPStatus, payload: dict[str, str]) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _receive(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            if _refusing(directory):
                self._answer(HTTPStatus.SERVICE_UNAVAILABLE, {"status": "refused"})
                return
            try:
                body = json.loads(raw)
                to, text = body["to"], body["text"]
                if not isinstance(to, str) or not isinstance(text, str) or not to:
                    raise TypeError
            except (ValueError, KeyError, TypeError):
                error = 'expected {"to": str, "text": str}'
                self._answer(HTTPStatus.BAD_REQUEST, {"status": "error", "error": error})
                return
            with _connect(directory) as conn:
                conn.execute('INSERT INTO sms ("to", body, date) VALUES (?, ?, ?)',
                             [to, text, _now()])  # fmt: skip
            self._answer(HTTPStatus.OK, {"status": "accepted"})

        do_POST = _receive
        do_PUT = _receive

        def log_message(self, format: str, *args: Any) -> None:
            # Request lines would print every code sent; the sink's database is the record.
            pass

    return Handler


# -- the pair -----------------------------------------------------------------------------


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


class Sinks:
    """The SMTP sink and the SMS gateway sink, in threads of the current process."""

    def __init__(
        self, directory: Path, smtp_port: int = 0, sms_port: int = 0, host: str = "127.0.0.1"
    ) -> None:
        self.directory = Path(directory)
        self.host = host
        self.smtp_port = smtp_port
        self.sms_port = sms_port
        self._controller: Controller | None = None
        self._handler: _SmtpHandler | None = None
        self._http: ThreadingHTTPServer | None = None
        self._http_thread: threading.Thread | None = None
        self._checkpoints: threading.Thread | None = None
        self._stopping = threading.Event()

    def start(self) -> None:
        private_folder(self.directory)
        with _connect(self.directory) as conn:
            conn.execute("PRAGMA journal_mode = wal")
        set_refusing(self.directory, False)
        self._stopping.clear()
        self._checkpoints = threading.Thread(target=self._checkpoint_loop, name="sink-wal",
                                             daemon=True)  # fmt: skip
        self._checkpoints.start()
        self._start_smtp()
        try:
            self._http = ThreadingHTTPServer(
                (self.host, self.sms_port), _sms_handler(self.directory)
            )
        except OSError:
            self._stop_smtp()
            raise
        self.sms_port = int(self._http.server_address[1])
        # A short poll interval: `stop` waits for the loop to notice, and tests stop often.
        self._http_thread = threading.Thread(
            target=self._http.serve_forever, kwargs={"poll_interval": 0.05}, name="sms-sink",
            daemon=True,
        )  # fmt: skip
        self._http_thread.start()

    def _start_smtp(self) -> None:
        wanted = self.smtp_port
        # aiosmtpd cannot listen on port 0 (it probes the port it was given), so pick a free
        # one; another process may grab it in between, hence a few tries.
        for _ in range(5 if wanted == 0 else 1):
            port = wanted or _free_port(self.host)
            handler = _SmtpHandler(self.directory)
            controller = Controller(handler, hostname=self.host, port=port)
            try:
                controller.start()
            except OSError:
                if wanted:
                    raise
                continue
            self._controller, self._handler, self.smtp_port = controller, handler, port
            return
        raise OSError(f"no free port for the SMTP sink on {self.host}")

    def _stop_smtp(self) -> None:
        if self._controller is not None:
            # Every 250 was answered after its commit: nothing is left to flush, only to close.
            self._controller.stop()
            self._controller = None
        if self._handler is not None:
            self._handler.close()
            self._handler = None

    def _checkpoint_loop(self) -> None:
        path = str(self.directory / DB_NAME)
        while not self._stopping.wait(CHECKPOINT_SECONDS):
            with contextlib.suppress(sqlite3.Error):
                conn = sqlite3.connect(path, timeout=1)
                try:
                    # PASSIVE: never waits for, nor blocks, the SMTP thread's writes.
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
                finally:
                    conn.close()

    def stop(self) -> None:
        self._stop_smtp()
        self._stopping.set()
        if self._checkpoints is not None:
            self._checkpoints.join(timeout=5)
            self._checkpoints = None
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()
            self._http = None
        if self._http_thread is not None:
            self._http_thread.join(timeout=5)
            self._http_thread = None

    def set_refusing(self, refusing: bool) -> None:
        """Answer SMTP 451 and HTTP 503 to everything, until switched back."""
        set_refusing(self.directory, refusing)

    def __enter__(self) -> Sinks:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


# -- process entry point ------------------------------------------------------------------


def _write_atomically(path: Path, text: str) -> None:
    # `apexdir dev up` polls these files: it must never read half of one.
    write_private(path, text)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m apexdir.dev.sinks",
        description="Development SMTP sink and SMS gateway; runs until SIGTERM or SIGINT.",
    )
    parser.add_argument("--dir", required=True, type=Path, help="where sinks.db is written")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--smtp-port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--sms-port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--pidfile", type=Path, default=None)
    args = parser.parse_args(argv)

    stopping = threading.Event()

    def _stop(signum: int, frame: object) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)

    sinks = Sinks(args.dir, smtp_port=args.smtp_port, sms_port=args.sms_port, host=args.host)
    sinks.start()
    ports_file = sinks.directory / PORTS_FILE
    try:
        if args.pidfile:
            _write_atomically(args.pidfile, f"{os.getpid()}\n")
        _write_atomically(ports_file, json.dumps({"smtp_port": sinks.smtp_port,
                                                  "sms_port": sinks.sms_port}))  # fmt: skip
        print(f"devsinks: SMTP {args.host}:{sinks.smtp_port}, SMS http://{args.host}:"
              f"{sinks.sms_port}/, pid {os.getpid()}", flush=True)  # fmt: skip
        # A timed wait keeps the main thread responsive to signals on every platform.
        while not stopping.wait(0.5):
            pass
    finally:
        sinks.stop()
        ports_file.unlink(missing_ok=True)
        if args.pidfile:
            with contextlib.suppress(OSError, ValueError):
                if int(args.pidfile.read_text().strip()) == os.getpid():
                    args.pidfile.unlink()


if __name__ == "__main__":
    main()
