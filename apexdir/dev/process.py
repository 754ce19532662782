"""Stopping the development environment's processes, and telling when the portal serves."""

from __future__ import annotations

import http.client
import os
import signal
import socket
import time

from apexdir.directory.server import pid_alive


def terminate(pid: int | None, grace: float = 15.0) -> None:
    """SIGTERM (a graceful stop), then SIGKILL past the grace period."""
    terminate_all([pid], grace)


def terminate_all(pids: list[int | None], grace: float = 15.0) -> None:
    """`terminate` for several processes at once: they stop side by side, not in turn."""
    signalled = []
    for pid in pids:
        if pid and _signal(pid, signal.SIGTERM):
            signalled.append(pid)
    deadline = time.monotonic() + grace
    while any(pid_alive(pid) for pid in signalled) and time.monotonic() < deadline:
        time.sleep(0.05)
    for pid in signalled:
        if pid_alive(pid):
            _signal(pid, signal.SIGKILL)


def _signal(pid: int, sig: signal.Signals) -> bool:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        return False
    return True


def http_answers(host: str, port: int, timeout: float) -> bool:
    """Whether an HTTP server answers there, whatever the status: gunicorn's master listens
    before its workers have loaded the application, and a connection then waits for them."""
    connection = http.client.HTTPConnection(host, port, timeout=max(timeout, 0.1))
    try:
        # Kept alive, so that this side closes first: the TIME_WAIT is on this side's
        # ephemeral port, not on the portal's (which a bind without SO_REUSEADDR would meet).
        connection.request("HEAD", "/")
        connection.getresponse().read()
    except (OSError, http.client.HTTPException):
        return False
    finally:
        connection.close()
    return True


def bindable(host: str, port: int) -> bool:
    """Whether a server could listen there now (as gunicorn binds: SO_REUSEADDR). A port
    bound by another process without listening — a client's source port — is not, though
    nothing answers on it; gunicorn would retry it for 5 s before giving up."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True
