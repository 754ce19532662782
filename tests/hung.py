"""A hung directory for the tests: slapd stopped by SIGSTOP (it accepts the request and never
answers), for a block or for the next compare-and-swap only; nothing of LDAP is mocked."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from apexdir.directory import servers
from apexdir.directory.connection import Changes, Directory
from apexdir.directory.server import SlapdInstance


def stopped(pid: int) -> None:
    """Wait until every thread of `pid` is stopped: kill() only queues the signal, and on a
    busy machine a slapd thread still running could answer the request sent right after
    (seen once in a full run: the swap succeeded)."""
    tasks = Path(f"/proc/{pid}/task")
    for _ in range(400):
        states = []
        for task in tasks.iterdir():
            with contextlib.suppress(OSError):
                states.append((task / "stat").read_text().rsplit(")", 1)[-1].split()[0])
        if states and all(state in ("T", "t") for state in states):
            return
        time.sleep(0.005)
    raise AssertionError(f"slapd {pid} did not stop")


@contextlib.contextmanager
def hung(instance: SlapdInstance) -> Iterator[None]:
    """slapd stopped (not killed) while the block runs; always continued afterwards."""
    pid = instance.pid()
    assert pid is not None
    os.kill(pid, signal.SIGSTOP)
    stopped(pid)
    try:
        yield
    finally:
        os.kill(pid, signal.SIGCONT)
        servers.forget()


@dataclass
class SwapHang:
    """Once armed, the next `Directory.swap` meets a hung slapd (the reads before it do
    not); `hung_at` is the DN it was asked for."""

    armed: bool = False
    hung_at: list[str] = field(default_factory=list)


def hang_swaps(monkeypatch: pytest.MonkeyPatch, slapd: SlapdInstance) -> SwapHang:
    """`Directory.swap` replaced for the test: each arming hangs the next swap once."""
    real = Directory.swap
    hang = SwapHang()

    def swap(self: Directory, dn: str, changes: Changes) -> bool:
        if not hang.armed:
            return real(self, dn, changes)
        hang.armed = False
        hang.hung_at.append(dn)
        with hung(slapd):
            return real(self, dn, changes)

    monkeypatch.setattr(Directory, "swap", swap)
    return hang
