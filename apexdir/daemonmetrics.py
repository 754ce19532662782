"""The figures only the daemon exports (issue 23, item 7): the change feed's lag, and the
providers' mdb usage (the main database and the accesslog).

Read when scraped, per provider of `ldap.uris`, on connections of the scrape's own:

- `apexdir_changefeed_lag_seconds{provider}`: how far the feed's cursor for that provider
  is behind the newest write in its log (0 when it has read everything); with
  `apexdir_changefeed_backlog_records{provider}`, how many writes wait. Only the node
  holding the lease runs the feed, so only its daemon exports these (a waiting node's
  cursors are stale by design).
- `apexdir_mdb_usage_ratio{provider,database}` (database `main` or `accesslog`): the share
  of the database's map (`maxsize`) in use, from slapd's `cn=Monitor`
  (`olmMDBPagesUsed` − `olmMDBPagesFree`, over `olmMDBPagesMax`), beside the raw
  `apexdir_mdb_pages{provider,database,kind=max|used|free}`. A full map refuses every write
  (the accesslog's full map refuses every write to the main database as well).

A provider that does not answer is left out of the scrape (`apexdir_directory_up` tells).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from apexdir.errors import ApexError

if TYPE_CHECKING:
    from apexdir.config import Settings
    from apexdir.runtime import Runtime

LOG_SUFFIX = "cn=accesslog"


class DaemonCollector:
    """A custom collector for the daemon's metrics endpoint; `active` tells whether this
    daemon runs the directory jobs now (holds the lease)."""

    def __init__(self, settings: Settings, active: Callable[[], bool]) -> None:
        self.settings = settings
        self.active = active

    def describe(self) -> list[Any]:
        return []  # collected on demand only

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import GaugeMetricFamily

        from apexdir.directory.accesslog import Providers
        from apexdir.runtime import Runtime

        lag = GaugeMetricFamily(
            "apexdir_changefeed_lag_seconds",
            "Seconds between the newest write in a provider's accesslog and the change "
            "feed's cursor for it (0: all read). Exported by the lease holder only.",
            labels=["provider"],
        )
        backlog = GaugeMetricFamily(
            "apexdir_changefeed_backlog_records",
            "Writes in a provider's accesslog the change feed has not read yet.",
            labels=["provider"],
        )
        ratio = GaugeMetricFamily(
            "apexdir_mdb_usage_ratio",
            "Share of a provider's mdb map (maxsize) in use, by database (main, accesslog).",
            labels=["provider", "database"],
        )
        pages = GaugeMetricFamily(
            "apexdir_mdb_pages",
            "A provider's mdb pages by database and kind (max: the map; used: the file's "
            "high-water mark; free: reusable pages inside it), from cn=Monitor.",
            labels=["provider", "database", "kind"],
        )
        rt = Runtime(self.settings, operator="metrics")
        providers = Providers(self.settings.ldap)
        try:
            active = self.active()
            for uri in providers.uris:
                try:
                    self._mdb(rt, providers, uri, ratio, pages)
                    if active:
                        self._lag(rt, providers, uri, lag, backlog)
                except ApexError:
                    continue  # a provider away: no figure (apexdir_directory_up says why)
        finally:
            providers.close()
            rt.close()
        yield from (lag, backlog) if active else ()
        yield ratio
        yield pages

    def _mdb(self, rt: Runtime, providers: Any, uri: str, ratio: Any, pages: Any) -> None:
        from apexdir.directory.monitor import mdb_usage

        main = rt.settings.ldap.base_dn.lower()
        for usage in mdb_usage(providers.directory(uri)):
            name = {main: "main", LOG_SUFFIX: "accesslog"}.get(usage.suffix)
            if name is None:
                continue
            ratio.add_metric([uri, name], usage.ratio)
            for kind, value in (
                ("max", usage.pages_max),
                ("used", usage.pages_used),
                ("free", usage.pages_free),
            ):
                pages.add_metric([uri, name, kind], value)

    def _lag(self, rt: Runtime, providers: Any, uri: str, lag: Any, backlog: Any) -> None:
        from apexdir.directory.accesslog import newest_after, start_time
        from apexdir.workflows.changefeed import load_cursor

        cursor = load_cursor(rt, uri)
        if cursor is None:
            return  # the feed has not started on this provider
        last = cursor.dump_last()
        newest, waiting = newest_after(providers.directory(uri), last)
        behind = (start_time(newest) - start_time(last)).total_seconds() if newest else 0.0
        lag.add_metric([uri], max(0.0, behind))
        backlog.add_metric([uri], waiting)
