"""Stopping the development environment's processes."""

from __future__ import annotations

import os
import signal
import time

from apexdir.directory.server import pid_alive


def terminate(pid: int | None, grace: float = 15.0) -> None:
    """SIGTERM (a graceful stop), then SIGKILL past the grace period."""
    if not pid:
        return
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    if pid_alive(pid):
        os.kill(pid, signal.SIGKILL)
