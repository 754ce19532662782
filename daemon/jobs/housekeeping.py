"""The housekeeping job: forget what has expired, trim what is kept, compact the store.

- in the shared directory: what `apexdir.workflows.housekeeping` forgets (expired one-time
  secrets, former passwords' notices, OIDC codes past their replay window, history past
  `policy.journal_retention_days`);
- the journal keeps `policy.journal_retention_days`; sent and failed spool rows (which no
  longer hold their bodies) are kept as long, then purged; history events the directory
  did not take when they happened (a provider down) are written to it again;
- the state store gives its free pages back a step at a time (incremental vacuum) and its
  write-ahead log is truncated.

The directory part runs on the node holding the lease
(`run_directory`, whose work is `apexdir.workflows.housekeeping`); the last two act on the
node's own state store, so every node runs them (`run_local`, the daemon's
`local_housekeeping` job, issue 13): a waiting node's journal and sent spool would
otherwise grow for ever. `run` (and `apexdir daemon run-once housekeeping`)
does both.

Invitation links are voided by the pending job when they expire (it also tells the creator).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import sqlite_utils

from apexdir.clock import Clock, system_clock
from apexdir.config import Settings
from apexdir.daemon.jobs.common import Stop, never, one_pass
from apexdir.runtime import Runtime
from apexdir.state.db import open_store
from apexdir.state.journal import Journal
from apexdir.state.outbox import Outbox
from apexdir.state.vacuum import free_pages
from apexdir.workflows import housekeeping


def run_directory(rt: Runtime, *, stop: Stop = never) -> dict[str, Any]:
    """The directory's part: one-time secrets, stale notices, OpenID Connect leftovers."""
    return housekeeping.run_directory(rt, stop=stop)


def run_local(db: sqlite_utils.Database, settings: Settings, clock: Clock) -> dict[str, Any]:
    """The node's part: trim the journal and the sent spool, vacuum the state store."""
    now = clock()
    keep = timedelta(days=settings.policy.journal_retention_days)
    counts = {
        "journal_trimmed": Journal(db, clock).trim(now - keep),
        "outbox_purged": Outbox(db, clock).purge(now - keep),
    }
    counts["pages_freed"] = free_pages(db)
    return counts


def run(rt: Runtime, *, stop: Stop = never) -> dict[str, Any]:
    """Both parts, on one node (`apexdir daemon run-once housekeeping`)."""
    counts = run_directory(rt, stop=stop)
    counts.update(run_local(rt.db, rt.settings, rt.clock))
    return counts


def run_once(
    settings: Settings, clock: Clock = system_clock, *, stop: Stop | None = None
) -> dict[str, Any]:
    """`apexdir daemon run-once housekeeping`."""
    return one_pass(settings, clock, run, stop)


def run_directory_once(
    settings: Settings, clock: Clock = system_clock, *, stop: Stop | None = None
) -> dict[str, Any]:
    """The daemon's `housekeeping` job, on the lease holder only."""
    return one_pass(settings, clock, run_directory, stop)


def run_local_once(
    settings: Settings, clock: Clock = system_clock, *, stop: Stop | None = None
) -> dict[str, Any]:
    """The daemon's `local_housekeeping` job, on every node: no directory connection."""
    db = open_store(settings.state.path)
    try:
        counts = run_local(db, settings, clock)
        waiting = Journal(db, clock).waiting_events()
    finally:
        db.close()
    if waiting:
        # Only then a directory connection: this job must run while the directory is away.
        rt = Runtime(settings, clock=clock)
        try:
            counts["history_sent"] = rt.journal.flush()
        finally:
            rt.close()
    return counts
