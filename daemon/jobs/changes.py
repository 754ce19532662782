"""The `changes` job: one pass of the change feed over every provider's log.

What the feed reads and decides is the library's: `apexdir.workflows.changefeed` (cursors,
providers, copies of replicated writes), `apexdir.workflows.changenotices` (what a change
means, whom it mails); the log's records are read by the directory layer, behind them.
"""

from __future__ import annotations

from typing import Any

from apexdir.clock import Clock, system_clock
from apexdir.config import Settings
from apexdir.daemon.jobs.common import Stop, never, one_pass
from apexdir.runtime import Runtime
from apexdir.workflows.changefeed import Feed


def run(rt: Runtime, *, stop: Stop = never) -> dict[str, Any]:
    """One pass over the log of every provider, in `ldap.uris` order."""
    feed = Feed(rt)
    try:
        for uri in feed.uris:
            if stop():
                break
            feed.read(uri, stop)
    finally:
        feed.close()
    return feed.counts.result()


def run_once(
    settings: Settings, clock: Clock = system_clock, *, stop: Stop | None = None
) -> dict[str, Any]:
    """`apexdir daemon run-once changes`."""
    return one_pass(settings, clock, run, stop)
