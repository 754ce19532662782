"""The `pending` job: pre-creations that wait — invitations expired or reminded, validators
reminded, old requests purged; the steps are `apexdir.workflows.pending`."""

from __future__ import annotations

from typing import Any

from apexdir.clock import Clock, system_clock
from apexdir.config import Settings
from apexdir.daemon.jobs.common import Stop, never, one_pass
from apexdir.runtime import Runtime
from apexdir.workflows import pending


def run(rt: Runtime, *, stop: Stop = never) -> dict[str, Any]:
    now = rt.clock()
    return {name: step(rt, now, stop) for name, step in pending.STEPS}


def run_once(
    settings: Settings, clock: Clock = system_clock, *, stop: Stop | None = None
) -> dict[str, Any]:
    """`apexdir daemon run-once pending`."""
    return one_pass(settings, clock, run, stop)
