"""Wake the node's outbox at once when a code or a reset request is queued (issue 23).

The daemon's outbox job runs every `outbox_seconds`; a partner waiting for his login code
should not wait for the next slot. The daemon listens on a UNIX datagram socket next to the
state store (`state.db.wake`, in the store's folder: only its owner can reach it); whoever
queues something urgent sends one empty datagram after the commit. Nothing is carried but
"look now": the spool stays the only truth, a lost datagram only means the next scheduled
pass, and no daemon listening (the CLI on a node without one) costs one failed `sendto`.

Why a socket and not the portal sending the code itself: the spool is what gives retries,
ordering, the per-person rules and at-least-once delivery, and one sender per node keeps
one SMTP connection; a datagram costs microseconds and never blocks the request, while an
SMTP exchange on the request would hold a worker for as long as the relay takes.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import socket
from pathlib import Path

import sqlite_utils

from apexdir.state.db import store_path

SUFFIX = ".wake"
# sun_path holds 108 bytes; a longer path gets an abstract name derived from it (Linux).
_PATH_MAX = 100


def address(state_path: str | os.PathLike[str]) -> str:
    """The socket's address for the state store at `state_path`."""
    path = os.path.abspath(os.fspath(state_path)) + SUFFIX
    if len(os.fsencode(path)) <= _PATH_MAX:
        return path
    return "\0apexdir-wake-" + hashlib.sha256(os.fsencode(path)).hexdigest()[:32]


def notify(db: sqlite_utils.Database) -> None:
    """Tell the node's daemon that something urgent was queued; never fails."""
    path = store_path(db)
    if path in (":memory:", "state store"):
        return
    with (
        contextlib.suppress(OSError),
        socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock,
    ):
        sock.setblocking(False)  # a full queue means a wake-up is pending already
        sock.sendto(b"!", address(path))


class Listener:
    """The daemon's end: a non-blocking datagram socket; `drain()` empties it."""

    def __init__(self, state_path: str | os.PathLike[str]) -> None:
        self.address = address(state_path)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        if not self.address.startswith("\0"):
            # Left by a daemon that was killed: a socket file is never reused, only replaced.
            with contextlib.suppress(FileNotFoundError):
                if Path(self.address).is_socket():
                    os.unlink(self.address)
        sock.bind(self.address)
        self._inode: int | None = None
        if not self.address.startswith("\0"):
            os.chmod(self.address, 0o600)
            self._inode = os.stat(self.address).st_ino
        sock.setblocking(False)
        self.sock = sock

    def fileno(self) -> int:
        return self.sock.fileno()

    def drain(self) -> int:
        """Read every pending datagram; how many there were (several wake-ups are one)."""
        count = 0
        while True:
            try:
                self.sock.recv(16)
            except (BlockingIOError, InterruptedError):
                return count
            count += 1

    def close(self) -> None:
        self.sock.close()
        if self._inode is not None:
            with contextlib.suppress(OSError):
                # Only our own file: another daemon on this store may have replaced it.
                if os.stat(self.address).st_ino == self._inode:
                    os.unlink(self.address)
