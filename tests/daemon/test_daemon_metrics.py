"""The daemon's own metrics against the real slapd: change-feed lag and mdb usage."""

from __future__ import annotations

from typing import Any

from apexdir.config import Settings
from apexdir.daemon.jobs import changes
from apexdir.daemonmetrics import DaemonCollector
from apexdir.directory.server import SlapdInstance
from apexdir.runtime import Runtime


def samples(collector: DaemonCollector) -> dict[tuple[str, tuple[str, ...]], float]:
    return {
        (sample.name, tuple(sample.labels.values())): sample.value
        for family in collector.collect()
        for sample in family.samples
    }


def write(rt: Runtime, slapd: SlapdInstance, n: int) -> None:
    for i in range(n):
        rt.directory.replace(slapd.layout.people_dn, description=f"write {i}")


def test_mdb_usage_of_both_databases_from_cn_monitor(
    settings: Settings, slapd: SlapdInstance
) -> None:
    """Every provider's main database and accesslog: pages from cn=Monitor, a sane ratio."""
    found = samples(DaemonCollector(settings, lambda: False))
    uri = slapd.uri
    for database, maxsize in (("main", slapd.maxsize), ("accesslog", 1024**3)):
        pages = {
            k: found[("apexdir_mdb_pages", (uri, database, k))] for k in ("max", "used", "free")
        }
        assert pages["max"] == maxsize // 4096, "olmMDBPagesMax: maxsize in 4 KiB pages"
        assert 0 < pages["used"] < pages["max"] and 0 <= pages["free"] <= pages["used"]
        ratio = found[("apexdir_mdb_usage_ratio", (uri, database))]
        assert ratio == (pages["used"] - pages["free"]) / pages["max"]
        assert 0 < ratio < 0.01, "a test directory uses a sliver of its map"
    assert not any(name.startswith("apexdir_changefeed") for name, _ in found), (
        "a daemon without the lease exports no feed figures"
    )


def test_change_feed_lag_and_backlog_per_provider(
    settings: Settings, slapd: SlapdInstance, rt: Runtime
) -> None:
    """Writes the feed has not read make a backlog and a lag; a pass brings both to 0."""
    collector = DaemonCollector(settings, lambda: True)
    assert not any(n.startswith("apexdir_changefeed") for n, _ in samples(collector)), (
        "no figure before the feed has started on the provider"
    )
    assert "started_at" in changes.run(rt)
    write(rt, slapd, 3)
    found: dict[tuple[str, Any], float] = samples(collector)
    # With lastbind_precision 0 every bind is logged too (authTimestamp): the scrape's own.
    assert found[("apexdir_changefeed_backlog_records", (slapd.uri,))] >= 3
    lag = found[("apexdir_changefeed_lag_seconds", (slapd.uri,))]
    assert 0 <= lag < 60, "seconds between the cursor and the newest write"
    assert changes.run(rt)["changes"] == 3
    found = samples(collector)
    assert found[("apexdir_changefeed_backlog_records", (slapd.uri,))] <= 2, "binds only"
    assert found[("apexdir_changefeed_lag_seconds", (slapd.uri,))] <= 2
