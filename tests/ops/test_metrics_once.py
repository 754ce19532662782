"""Every series of a node exported once (issue 23, item 7): the daemon and the portal, run as
their units run them, each on its `[metrics]` address; no metric family, and so no series, is
on both. The node's figures (events, spool, directory, lease) and the deliveries are the
daemon's; the HTTP requests the portal's."""

from __future__ import annotations

import re
import urllib.request
from pathlib import Path
from typing import Any

from apexdir.config import Settings
from apexdir.dev.captured import captured_mails
from apexdir.directory.server import SlapdInstance
from apexdir.state.db import open_store
from apexdir.state.outbox import Outbox
from tests.conftest import admin
from tests.helpers import wait_for
from tests.ops.test_systemd import run_unit  # noqa: F401 (a fixture)
from tests.ports import free_port

DAEMON_ONLY = {
    "apexdir_events_total",
    "apexdir_outbox_messages",
    "apexdir_outbox_oldest_queued_seconds",
    "apexdir_directory_up",
    "apexdir_directory_latency_seconds",
    "apexdir_state_up",
    "apexdir_lease_expires_in_seconds",
    "apexdir_creations_pending",
    "apexdir_outbox_deliveries_total",
    "apexdir_outbox_delivery_errors_total",
}
PORTAL_ONLY = {"apexdir_http_requests_total", "apexdir_http_request_duration_seconds"}


def families(text: str) -> set[str]:
    """The metric families of an exposition (`# TYPE name kind`), e.g. apexdir_events_total."""
    return set(re.findall(r"^# TYPE (\S+) \S+$", text, re.MULTILINE))


def series(text: str) -> set[str]:
    """Every sample's name and labels, e.g. apexdir_events_total{action="auth.login"}."""
    return {line.rpartition(" ")[0] for line in text.splitlines() if line and line[0] != "#"}


def scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as answer:
        return str(answer.read().decode())


def test_daemon_and_portal_export_disjoint_series(
    run_unit: Any,  # noqa: F811
    config_file: Path, settings: Settings, sinks: Any, slapd: SlapdInstance, tmp_path: Path,
) -> None:  # fmt: skip
    key = tmp_path / "portal.key"
    key.write_text("k" * 48)
    key.chmod(0o600)
    port, portal_metrics, daemon_metrics = free_port(), free_port(), free_port()
    with config_file.open("a", encoding="utf-8") as handle:
        handle.write(
            f'\n[portal]\nbase_url = "http://127.0.0.1:{port}"\nsecret_key_file = "{key}"\n'
            f'\n[metrics]\nportal_bind = "127.0.0.1:{portal_metrics}"\n'
            f'daemon_bind = "127.0.0.1:{daemon_metrics}"\n'
        )
    db = open_store(settings.state.path)
    Outbox(db).enqueue_mail(["metrics@example.org"], "Une fois", "corps", None)
    db.close()
    env = {"APEXDIR_CONFIG": str(config_file)}
    try:
        daemon = run_unit("apexdir-daemon.service", env)
        portal = run_unit("apexdir-portal.service", {**env, "PORTAL_BIND": f"127.0.0.1:{port}"})

        def portal_answers() -> bool:
            assert portal.poll() is None, "the portal exited"
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/connexion", timeout=2):
                    return True
            except OSError:
                return False

        wait_for(portal_answers, 30, "the portal")
        wait_for(lambda: captured_mails(sinks.directory, to="metrics@example.org"), 20, "a mail")
        assert daemon.poll() is None, "the daemon exited"
        from_daemon, from_portal = scrape(daemon_metrics), scrape(portal_metrics)
    finally:
        with admin(slapd) as directory:  # the lease the daemon took: free for the other tests
            directory.replace(slapd.layout.lease_dn, apexLease=None)

    assert families(from_daemon) & families(from_portal) == set()
    assert series(from_daemon) & series(from_portal) == set()
    assert families(from_daemon) >= DAEMON_ONLY, DAEMON_ONLY - families(from_daemon)
    assert families(from_portal) >= PORTAL_ONLY, PORTAL_ONLY - families(from_portal)
    # Both endpoints answered with figures: the delivery and the page just served.
    assert 'apexdir_outbox_deliveries_total{kind="mail",outcome="sent"} 1.0' in from_daemon
    assert re.search(r'apexdir_http_requests_total\{[^}]*route="/connexion"', from_portal)
