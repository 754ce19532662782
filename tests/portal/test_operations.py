"""What an operations team watches (issue 14, items 3 and 4): `/sante`, the Prometheus
metrics and their movement when a partner logs in, and log lines without secrets."""

from __future__ import annotations

import json
import logging
import re
import urllib.request
from typing import Any

import pytest
from flask import Flask

from apexdir.config import Settings
from apexdir.logs import JsonFormatter, redact_path
from tests.helpers import Cli
from tests.portal.conftest import PASSWORD, Browser, Partner, portal_settings
from tests.ports import free_port


def test_sante_ready_and_alive(browser: Browser) -> None:
    """Ready: the directory and the state store answer; JSON, no secret."""
    page = browser.get("/sante")
    assert page.status_code == 200
    body = page.get_json()
    assert body["ready"] is True and body["checks"]["directory"]["ok"] is True
    assert body["checks"]["state"]["ok"] is True
    assert browser.get("/sante/vivant").get_json() == {"status": "ok"}
    assert "password" not in page.text.lower() and "dc=" not in page.text


def test_sante_not_ready_without_directory(settings: Settings, tmp_path: Any) -> None:
    """The directory down: 503 and ready false, so a load balancer takes the node out."""
    from apexdir.portal import create_app

    dead = settings.model_copy(
        update={
            "ldap": settings.ldap.model_copy(
                update={"uris": ["ldap://127.0.0.1:9"], "connect_timeout": 0.5}
            )
        }
    )
    app = create_app(portal_settings(dead, tmp_path))
    page = app.test_client().get("/sante")
    assert page.status_code == 503 and page.get_json()["status"] == "unavailable"
    assert page.get_json()["checks"]["directory"] == {
        "ok": False,
        "reason": "unreachable or not answering",
    }
    assert page.get_json()["checks"]["state"]["ok"] is True
    app.extensions["apexdir"].close()


def test_sante_degraded_without_smtp_and_sms(settings: Settings, tmp_path: Any) -> None:
    """SMTP relay and SMS gateway unreachable: still 200 (mails wait in the spool), the
    status `degraded` with the reason of each."""
    from apexdir.portal import create_app

    port = free_port()
    cut = settings.model_copy(
        update={
            "smtp": settings.smtp.model_copy(update={"port": port}),
            "sms": settings.sms.model_copy(update={"url": f"http://127.0.0.1:{port}/sms"}),
        }
    )
    app = create_app(portal_settings(cut, tmp_path))
    page = app.test_client().get("/sante")
    body = page.get_json()
    assert page.status_code == 200 and body["status"] == "degraded" and body["ready"] is True
    assert body["checks"]["smtp"] == {"ok": False, "reason": "connection refused"}
    assert body["checks"]["sms"] == {"ok": False, "reason": "connection refused"}
    assert body["checks"]["directory"]["ok"] is True
    app.extensions["apexdir"].close()


def _value(text: str, name: str, **labels: str) -> float:
    """A sample's value in Prometheus text, whatever the order of its labels (0 if absent)."""
    for line in text.splitlines():
        if line.startswith("#") or not (line.startswith(name + "{") or line.startswith(name + " ")):
            continue
        sample, _, value = line.rpartition(" ")
        found = dict(re.findall(r'(\w+)="([^"]*)"', sample))
        if sample.split("{")[0] == name and found == labels:
            return float(value)
    return 0.0


def test_metrics_move_when_a_partner_logs_in(
    app: Flask, browser: Browser, app_cli: Cli, partner: Partner
) -> None:
    """Served on their own address; logins, codes and the spool move with a login: the
    requests on the portal's endpoint, the events and deliveries on the daemon's."""
    from apexdir import metrics

    settings = app.extensions["apexdir"].settings
    server = metrics.serve(settings, f"127.0.0.1:{free_port()}", "portal")
    url = f"http://127.0.0.1:{server.server_port}/metrics"
    try:
        before = urllib.request.urlopen(url, timeout=10).read().decode()
        node_before = metrics.text(settings, "daemon")
        assert _value(node_before, "apexdir_directory_up") == 1.0
        assert _value(node_before, "apexdir_state_up") == 1.0
        browser.get("/connexion")
        browser.post("/connexion", {"identifiant": partner.identifier, "mot_de_passe": PASSWORD})
        from apexdir.daemon.jobs.outbox import run_once

        run_once(settings)  # the daemon's pass, in this process: its counters are here
        after = urllib.request.urlopen(url, timeout=10).read().decode()
        node_after = metrics.text(settings, "daemon")
    finally:
        server.shutdown()
    posts = {"route": "/connexion", "method": "POST", "status": "302"}
    assert _value(after, "apexdir_http_requests_total", **posts) == (
        _value(before, "apexdir_http_requests_total", **posts) + 1
    )
    timed = {"route": "/connexion", "method": "POST"}
    assert _value(after, "apexdir_http_request_duration_seconds_count", **timed) == (
        _value(before, "apexdir_http_request_duration_seconds_count", **timed) + 1
    )
    sent = {"kind": "mail", "outcome": "sent"}
    assert _value(node_after, "apexdir_outbox_deliveries_total", **sent) >= (
        _value(node_before, "apexdir_outbox_deliveries_total", **sent) + 1
    )
    logins = "apexdir_events_total"
    assert (
        _value(node_after, logins, action="auth.login")
        == _value(node_before, logins, action="auth.login") + 1
    )
    assert _value(node_after, "apexdir_outbox_messages", kind="mail", status="sent") >= 1
    assert _value(node_after, "apexdir_outbox_oldest_queued_seconds") >= 0
    assert _value(node_after, "apexdir_directory_latency_seconds") > 0
    assert PASSWORD not in after and PASSWORD not in node_after
    assert "apexdir_events_total" not in after, "the node's figures: the daemon's only"


def test_pending_creations_by_age(app: Flask, app_cli: Cli, structure: str) -> None:
    """An invitation shows as an open creation less than a day old."""
    from apexdir import metrics

    app_cli.invite(structure, "collaborateur", "new.one@example.org", "Comptabilité")
    text = metrics.text(app.extensions["apexdir"].settings, "daemon")
    assert _value(text, "apexdir_creations_pending", status="invited", age="lt_1d") == 1.0


def test_event_log_lines_are_json_without_secrets(
    browser: Browser, partner: Partner, caplog: pytest.LogCaptureFixture
) -> None:
    """One line per event, with request id, actor and action; never the password."""
    caplog.set_level(logging.INFO, logger="apexdir.journal")
    browser.get("/connexion")
    page = browser.post("/connexion", {"identifiant": partner.identifier, "mot_de_passe": PASSWORD})
    events = [r for r in caplog.records if r.name == "apexdir.journal"]
    assert events, "no event line"
    line = json.loads(JsonFormatter().format(events[-1]))
    assert line["action"] == "auth.login" and line["actor"] == partner.identifier
    assert line["request_id"] == page.headers["X-Request-Id"]
    assert PASSWORD not in json.dumps(line)


def test_access_lines_carry_request_id_route_and_duration(
    browser: Browser, caplog: pytest.LogCaptureFixture
) -> None:
    """One access line per request: its request id, the route (never a token) and the time
    taken."""
    caplog.set_level(logging.INFO, logger="apexdir.access")
    page = browser.get("/creation/abc.SECRET")
    (record,) = [r for r in caplog.records if r.name == "apexdir.access"]
    line = json.loads(JsonFormatter().format(record))
    assert line["request_id"] == page.headers["X-Request-Id"]
    assert line["route"] == "/creation/<token>" and line["status"] == page.status_code
    assert line["duration_ms"] >= 0 and "SECRET" not in json.dumps(line)


def test_access_log_paths_lose_tokens_and_queries() -> None:
    """The mailed links' tokens and any query string stay out of the access log."""
    assert redact_path("/creation/abc.SECRET?x=1") == "/creation/…"
    assert redact_path("/creation/abc.SECRET/recapitulatif") == "/creation/…/recapitulatif"
    assert redact_path("/reinitialisation/uuid.SECRET") == "/reinitialisation/…"
    assert redact_path("/oidc/authorize?code=secret&state=x") == "/oidc/authorize"
    assert redact_path("/accueil") == "/accueil"


def test_serve_refuses_without_a_secret_key(app_cli: Cli) -> None:
    """`apexdir serve` on a configuration without `[portal] secret_key_file`: one error line,
    exit 1, before anything listens."""
    err = app_cli.fails(1, "serve", "--bind", f"127.0.0.1:{free_port()}")
    assert "secret_key_file" in err
