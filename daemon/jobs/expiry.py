"""The `expiry` job: one pass of the password expiry notices (`apexdir.workflows.expiry`;
the arithmetic of who owes what is `apexdir.rules.expiry`)."""

from __future__ import annotations

from typing import Any

from apexdir.clock import Clock, system_clock
from apexdir.config import Settings
from apexdir.daemon.jobs.common import Stop, never, one_pass
from apexdir.runtime import Runtime
from apexdir.workflows import expiry


def run(rt: Runtime, *, stop: Stop = never, full: bool = False) -> dict[str, Any]:
    """One pass: how many warnings and expiry mails were queued. `full` reads the whole
    window whatever the cursor says."""
    counts: dict[str, Any] = {"warned": 0, "expired": 0, "already_sent": 0}
    work = expiry.begin(rt, full=full)
    if work is None:
        return {**counts, "max_age_days": 0}  # passwords never expire: nothing to say
    for account in work.accounts:
        if stop():
            break
        outcome = expiry.notify(rt, work, account)
        if outcome is not None:
            counts[outcome] += 1
    else:
        expiry.finish(rt, work)
    counts["max_age_days"] = work.max_age_days
    return counts


def run_once(
    settings: Settings, clock: Clock = system_clock, *, stop: Stop | None = None
) -> dict[str, Any]:
    """`apexdir daemon run-once expiry`."""
    return one_pass(settings, clock, run, stop)
