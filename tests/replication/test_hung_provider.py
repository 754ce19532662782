"""Provider 1 hung (SIGSTOP: it accepts connections and never answers), two providers
configured: partners' logins go through provider 2 within seconds (issue 23, item 1)."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from apexdir.directory import servers
from apexdir.directory.provision import initialize
from apexdir.directory.replication import ReplicaSet
from apexdir.runtime import Runtime
from apexdir.workflows.actors import AGENT
from apexdir.workflows.structures import create_structure
from tests.conftest import make_settings
from tests.helpers import PASSWORD, SIRET
from tests.hung import stopped
from tests.portal.conftest import Browser, portal_settings
from tests.replication.test_replication import add_account


@pytest.fixture
def portal(replicas: ReplicaSet, sinks: Any, tmp_path: Path) -> Iterator[tuple[Browser, Runtime]]:
    settings = make_settings(
        replicas.instances[0], sinks, tmp_path / "state.db", ldap={"uris": replicas.uris}
    )
    rt = Runtime(settings, operator="tester")
    initialize(rt.directory, rt.layout, settings.policy)
    create_structure(rt, AGENT, siret=SIRET, category="Banques", name="Banque Exemple")
    from apexdir.portal import create_app

    app = create_app(portal_settings(settings, tmp_path))
    yield Browser(app.test_client(), tmp_path / "portal-sinks"), rt
    app.extensions["apexdir"].close()
    rt.close()
    servers.forget()


def log_in(browser: Browser, identifier: str) -> tuple[Any, float]:
    browser.get("/connexion")
    started = time.monotonic()
    page = browser.post("/connexion", {"identifiant": identifier, "mot_de_passe": PASSWORD})
    return page, time.monotonic() - started


def test_logins_go_through_the_second_provider(
    replicas: ReplicaSet, portal: tuple[Browser, Runtime]
) -> None:
    """The first login after the hang waits out one short time-out, the next ones none."""
    browser, rt = portal
    for name in ("marie.martin-px", "paul.durand-px", "anne.petit-px"):
        add_account(rt, name, name.split(".")[0].title(), "Test")
    replicas.wait_converged()
    page, _ = log_in(browser, "marie.martin-px")  # connections open to provider 1
    assert page.status_code == 302
    pid = replicas.instances[0].pid()
    assert pid is not None
    os.kill(pid, signal.SIGSTOP)
    stopped(pid)
    try:
        page, first = log_in(browser, "paul.durand-px")
        assert page.status_code == 302 and page.location.endswith("/connexion/code"), page.text
        assert first < 6.0, first
        print(f"first login {first:.2f} s")
        page, second = log_in(browser, "anne.petit-px")
        assert page.status_code == 302 and second < 1.5
        assert browser.get("/sante").status_code == 200  # the node serves: not unavailable
    finally:
        os.kill(pid, signal.SIGCONT)
    queued = [m["to"] for m in rt.outbox.list()]
    assert ["paul.durand-px@example.org"] in queued and ["anne.petit-px@example.org"] in queued
