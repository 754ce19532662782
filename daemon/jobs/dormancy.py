"""The dormancy job: warn the accounts unused for `policy.dormant_days` less the warning's
lead (30 days), suspend them at the deadline told, forget the warning after a login.

A loop over `apexdir.workflows.dormancy`: one search finds what is owed, each account's
step is a compare-and-swap on its `apexDormancy` mark in the directory, so the job runs
under the lease (one node) and is idempotent: a pass run again, or by the node that takes
the lease over, finds every mark already moved and sends nothing twice. No cursor: the
search is selective enough to run whole each day (docs/daemon.md).
"""

from __future__ import annotations

from typing import Any

from apexdir.clock import Clock, system_clock
from apexdir.config import Settings
from apexdir.daemon.jobs.common import Stop, never, one_pass
from apexdir.runtime import Runtime
from apexdir.workflows import dormancy

JOB = "dormancy"


def run(rt: Runtime, *, stop: Stop = never) -> dict[str, Any]:
    """One pass: how many accounts were warned, suspended, had their warning cancelled by a
    login, were found already done, or kept as their structure's last administrateur."""
    counts: dict[str, Any] = dict.fromkeys(dormancy.OUTCOMES, 0)
    counts["dormant_days"] = rt.settings.policy.dormant_days
    for step in dormancy.owed(rt):
        if stop():
            break
        counts[dormancy.apply(rt, step)] += 1
    return counts


def run_once(
    settings: Settings, clock: Clock = system_clock, *, stop: Stop | None = None
) -> dict[str, Any]:
    """`apexdir daemon run-once dormancy`."""
    return one_pass(settings, clock, run, stop)
