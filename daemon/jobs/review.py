"""The review job (issue 21 item 10): the yearly review of each structure's habilitations.

Each pass (under the lease, `review_cron`, 06:45 by default): opens the reviews that are due
(`policy.review_interval_days` after the previous one, or after the structure's creation),
mails the administrateurs on days 0, 14 and 25, and when `policy.review_days` have passed
reports the review to the agents (`daemon.agents_mail`, the journal, `apexdir review
overdue`) and, with `policy.review_auto_revoke`, withdraws what is left unconfirmed. A loop
over `workflows.review_jobs`: each step is marked in the directory before its mail, so a
second pass, or a second node, does nothing twice.
"""

from __future__ import annotations

from typing import Any

from apexdir.clock import Clock, system_clock
from apexdir.config import Settings
from apexdir.daemon.jobs.common import Stop, never, one_pass
from apexdir.runtime import Runtime
from apexdir.workflows import review_jobs


def run(rt: Runtime, *, stop: Stop = never) -> dict[str, Any]:
    return dict(review_jobs.run(rt, stop))


def run_once(
    settings: Settings, clock: Clock = system_clock, *, stop: Stop | None = None
) -> dict[str, Any]:
    """`apexdir daemon run-once review`."""
    return one_pass(settings, clock, run, stop)
