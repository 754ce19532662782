"""Development sinks: an SMTP server and an SMS HTTP gateway that keep what they receive.

`apexdir dev up` runs them as a process (`python -m apexdir.devsinks`), the tests in-process
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
import email
import email.errors
import email.header
import email.policy
import json
import os
import signal
import socket
import sqlite3
import sys
import threading
import weakref
from collections.abc import Iterator
from datetime import UTC, datetime
from email.message import EmailMessage, Message
from email.parser import BytesParser
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

DB_NAME = "sinks.db"
PORTS_FILE = "sinks.json"
# A file rather than an attribute, so that a test or an operator can make a sink running in
# another process refuse too.
REFUSING_FLAG = "refusing"
# Recipients whose local part ends so (e.g. `nobody-refused@example.org`) get a permanent
# 550, to exercise the refusal of one message among others.
REFUSED_SUFFIX = "-refused"
# A recipient ending so is refused for now (451): the tests of retries and ordering.
DEFERRED_SUFFIX = "-deferred"
# How often the write-ahead log is copied into the database (and fsynced), off the SMTP path.
CHECKPOINT_SECONDS = 1.0
# Accepted mails are committed in one transaction per FLUSH_EVERY mails, and at the latest
# FLUSH_SECONDS after the oldest of them was answered 250 (and when the sink stops).
FLUSH_EVERY = 100
FLUSH_SECONDS = 0.1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS mails (
    id INTEGER PRIMARY KEY,
    mail_from TEXT,
    recipients TEXT NOT NULL,
    subject TEXT,
    body TEXT,
    html TEXT,
    message_id TEXT,
    date TEXT NOT NULL,
    raw BLOB
);
CREATE TABLE IF NOT EXISTS sms (
    id INTEGER PRIMARY KEY,
    "to" TEXT NOT NULL,
    body TEXT NOT NULL,
    date TEXT NOT NULL
);
"""


def _prepare(conn: sqlite3.Connection) -> None:
    conn.executescript(_SCHEMA)
    columns = {row[1] for row in conn.execute("PRAGMA table_info(mails)")}
    if "raw" not in columns:  # a sinks.db of an earlier version (`apexdir dev up` keeps it)
        with contextlib.suppress(sqlite3.OperationalError):  # another process added it
            conn.execute("ALTER TABLE mails ADD COLUMN raw BLOB")


FOLDER_MODE = 0o700
FILE_MODE = 0o600


def private_folder(directory: Path) -> Path:
    """The sinks' folder, its owner's only: what it holds is what real mails and SMS hold
    (login codes, reset links) and the dev captcha's answer (like apexdir.state.db)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True, mode=FOLDER_MODE)
    directory.chmod(FOLDER_MODE)  # a folder made by an earlier version
    return directory


def _private_db(directory: Path) -> str:
    """sinks.db created 0600 before SQLite opens it (its -wal and -shm files take the
    database's mode); one of an earlier version is closed to others."""
    path = private_folder(directory) / DB_NAME
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))
    except FileExistsError:
        for name in (DB_NAME, DB_NAME + "-wal", DB_NAME + "-shm"):
            with contextlib.suppress(FileNotFoundError):
                (path.parent / name).chmod(FILE_MODE)
    return str(path)


def write_private(path: Path, text: str) -> None:
    """Write `text` to `path` atomically (a reader never sees half of it), mode 0600."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)
    os.chmod(tmp, FILE_MODE)  # a .tmp left by an earlier version keeps its mode otherwise
    tmp.replace(path)


@contextlib.contextmanager
def _connect(directory: Path) -> Iterator[sqlite3.Connection]:
    conn = sqlite3.connect(_private_db(directory), timeout=10)
    try:
        _prepare(conn)
        with conn:
            yield conn
    finally:
        conn.close()


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _refusing(directory: Path) -> bool:
    return (Path(directory) / REFUSING_FLAG).exists()


def set_refusing(directory: Path, refusing: bool) -> None:
    flag = Path(directory) / REFUSING_FLAG
    if refusing:
        flag.touch()
    else:
        flag.unlink(missing_ok=True)


# -- SMTP ---------------------------------------------------------------------------------

# The SMTP handlers running in this process: a reader here (the tests, which run the sinks
# in-process) flushes them first, so that it sees every mail already answered 250.
_LIVE: weakref.WeakSet[_SmtpHandler] = weakref.WeakSet()


def _flush_live(directory: Path) -> None:
    wanted = Path(directory).resolve()
    for handler in list(_LIVE):
        if Path(handler.directory).resolve() == wanted:
            handler.flush()


_COMPAT32 = BytesParser(policy=email.policy.compat32)


def _parts(raw: bytes) -> dict[str, Any]:
    """Subject, plain and HTML bodies, Message-ID of a received mail (compat32: fast)."""
    try:
        msg = _COMPAT32.parsebytes(raw)
        subject = str(email.header.make_header(email.header.decode_header(msg["Subject"] or "")))
        bodies: dict[str, str] = {}
        for part in msg.walk():
            kind = part.get_content_type()
            if kind in ("text/plain", "text/html") and kind not in bodies:
                bodies[kind] = _decoded(part)
        return {
            "subject": subject,
            "body": bodies.get("text/plain", ""),
            "html": bodies.get("text/html"),
            "message_id": str(msg["Message-ID"] or "").strip() or None,
        }
    except (LookupError, ValueError, email.errors.MessageError):
        # An unusual charset or a malformed header: the full parser copes with more.
        return _parts_default(raw)


def _decoded(part: Message) -> str:
    payload = part.get_payload(decode=True)
    data = payload if isinstance(payload, bytes) else b""
    # Lines travel as CRLF on the wire; readers and tests compare with plain "\n" texts.
    return data.decode(part.get_content_charset() or "us-ascii", "replace").replace("\r\n", "\n")


def _parts_default(raw: bytes) -> dict[str, Any]:
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(msg, EmailMessage)
    text = msg.get_body(preferencelist=("plain",))
    html = msg.get_body(preferencelist=("html",))
    return {
        # policy.default decodes RFC 2047 encoded words.
        "subject": str(msg["Subject"] or ""),
        "body": _content(text) or "",
        "html": _content(html),
        "message_id": str(msg["Message-ID"] or "") or None,
    }


def _content(part: object) -> str | None:
    if not isinstance(part, EmailMessage):
        return None
    # Lines travel as CRLF on the wire; readers and tests compare with plain "\n" texts.
    return str(part.get_content()).replace("\r\n", "\n")


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


# -- reading what was captured ------------------------------------------------------------


def captured_mails(directory: Path, to: str | None = None) -> list[dict[str, Any]]:
    """Mails received, oldest first; `to` keeps those with that recipient (any case)."""
    _flush_live(directory)
    if not (Path(directory) / DB_NAME).exists():
        return []
    with _connect(directory) as conn:
        rows = conn.execute(
            "SELECT recipients, subject, body, date, message_id, raw FROM mails ORDER BY id"
        ).fetchall()
    found = []
    for recipients, subject, body, date, message_id, raw in rows:
        if raw is not None:
            parts = _parts(bytes(raw))
            subject, body, message_id = parts["subject"], parts["body"], parts["message_id"]
        found.append({"to": json.loads(recipients), "subject": subject, "body": body,
                      "date": date, "message_id": message_id})  # fmt: skip
    if to is not None:
        wanted = to.strip().lower()
        found = [m for m in found if wanted in (a.lower() for a in m["to"])]
    return found


def captured_sms(directory: Path, to: str | None = None) -> list[dict[str, Any]]:
    """Text messages received, oldest first; `to` keeps those sent to that number."""
    if not (Path(directory) / DB_NAME).exists():
        return []
    with _connect(directory) as conn:
        rows = conn.execute('SELECT "to", body, date FROM sms ORDER BY id').fetchall()
    found = [{"to": r[0], "body": r[1], "date": r[2]} for r in rows]
    if to is not None:
        found = [m for m in found if m["to"] == to.strip()]
    return found


def clear(directory: Path) -> None:
    """Forget every captured message (and stop refusing)."""
    set_refusing(directory, False)
    _flush_live(directory)
    if not (Path(directory) / DB_NAME).exists():
        return
    with _connect(directory) as conn:
        conn.execute("DELETE FROM mails")
        conn.execute("DELETE FROM sms")


# -- process entry point ------------------------------------------------------------------


def _write_atomically(path: Path, text: str) -> None:
    # `apexdir dev up` polls these files: it must never read half of one.
    write_private(path, text)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m apexdir.devsinks",
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
