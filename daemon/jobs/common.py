"""What the directory jobs share: a runtime per pass, and the line each run logs.

A directory job runs in a thread of the daemon (its LDAP calls block) or in the CLI's
`daemon run-once`, with a runtime of its own: SQLite connections belong to one thread. The
work itself — marks, mails, journal rows — is the library's (`apexdir.workflows.notices`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from apexdir.clock import Clock
from apexdir.config import Settings
from apexdir.runtime import Runtime
from apexdir.workflows.notices import Stop, never

Job = Callable[..., dict[str, Any]]

__all__ = ["Job", "Stop", "never", "one_pass", "summary"]


def one_pass(
    settings: Settings, clock: Clock, job: Job, stop: Stop | None = None
) -> dict[str, Any]:
    """Run `job(rt, stop=…)` with a runtime opened for this pass and closed after it."""
    rt = Runtime(settings, clock=clock)
    try:
        return job(rt, stop=stop or never)
    finally:
        rt.close()


def summary(result: dict[str, Any]) -> str:
    return ", ".join(f"{key}={value}" for key, value in result.items()) or "nothing to do"
