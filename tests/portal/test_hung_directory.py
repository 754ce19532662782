"""A hung directory is a failed directory (issue 23, item 1): slapd stopped by SIGSTOP — it
accepts connections and never answers — and the portal still serves its pages, fails a
login with the French 503 page within seconds, and `/sante` answers 503 within a second."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask

from apexdir.directory import servers
from apexdir.directory.server import SlapdInstance
from tests.helpers import Cli
from tests.hung import hang_swaps, hung
from tests.portal.conftest import PASSWORD, Browser, Partner, last_code, text_of


def timed(call: Any, *args: Any, **kwargs: Any) -> tuple[Any, float]:
    started = time.monotonic()
    result = call(*args, **kwargs)
    return result, time.monotonic() - started


@pytest.fixture(autouse=True)
def _forget_servers() -> Iterator[None]:
    yield
    servers.forget()


def test_a_hung_directory_fails_fast_and_the_pages_stay_served(
    app: Flask, browser: Browser, partner: Partner, slapd: SlapdInstance
) -> None:
    """The login page answers, a login gets « Service momentanément indisponible » within
    5 s, `/sante` says 503 with the reason within 1.5 s; all is well once slapd resumes."""
    # Connections are open (the partner was made, a page was read), as on a busy node.
    assert browser.get("/sante").status_code == 200
    browser.get("/connexion")
    with hung(slapd):
        posted: dict[str, Any] = {}

        def log_in() -> None:
            posted["page"], posted["seconds"] = timed(
                browser.post,
                "/connexion",
                {"identifiant": partner.identifier, "mot_de_passe": PASSWORD},
            )

        # The login waits on the directory in one thread while other requests are served.
        waiting = threading.Thread(target=log_in)
        waiting.start()
        other = app.test_client()
        page, seconds = timed(other.get, "/connexion")
        assert page.status_code == 200 and seconds < 1.5
        time.sleep(1.1)  # the last good check (kept for a second) is no longer fresh
        health, seconds = timed(other.get, "/sante")
        assert seconds < 1.5
        assert health.status_code == 503
        body = health.get_json()
        assert body["ready"] is False and body["status"] == "unavailable"
        assert body["checks"]["directory"]["ok"] is False and body["checks"]["directory"]["reason"]
        assert body["checks"]["state"]["ok"] is True
        waiting.join(timeout=30)
        assert posted["seconds"] < 5.0
        assert posted["page"].status_code == 503
        assert "Service momentanément indisponible" in text_of(posted["page"].text)
    # Resumed: the next login goes through (the hung connections were dropped, not reused).
    deadline = time.monotonic() + 10
    while browser.get("/sante").status_code != 200 and time.monotonic() < deadline:
        time.sleep(0.2)
    browser.get("/connexion")
    page = browser.post("/connexion", {"identifiant": partner.identifier, "mot_de_passe": PASSWORD})
    assert page.status_code == 302 and page.location.endswith("/connexion/code")


def test_sante_answers_within_a_second_while_a_check_hangs(
    app: Flask, slapd: SlapdInstance
) -> None:
    """Polled again and again during the hang, `/sante` keeps answering 503 in time."""
    client = app.test_client()
    assert client.get("/sante").status_code == 200
    with hung(slapd):
        time.sleep(1.1)  # the last good result is no longer fresh
        for _ in range(4):
            page, seconds = timed(client.get, "/sante")
            assert page.status_code == 503 and seconds < 1.5


def test_a_hung_directory_while_a_code_try_is_spent_is_the_503_page(
    browser: Browser,
    app_cli: Cli,
    partner: Partner,
    slapd: SlapdInstance,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """slapd stops answering during the compare-and-swap that spends the code's try: the
    partner gets « Service momentanément indisponible » (503), not « code incorrect »,
    and the code still works once the directory answers again (issue 20 item 1)."""
    browser.get("/connexion")
    page = browser.post("/connexion", {"identifiant": partner.identifier, "mot_de_passe": PASSWORD})
    assert page.status_code == 302
    browser.get("/connexion/code")
    code = last_code(app_cli, partner.mail)
    hang = hang_swaps(monkeypatch, slapd)
    hang.armed = True
    wrong = "000000" if code != "000000" else "111111"
    page, seconds = timed(browser.post, "/connexion/code", {"code": wrong})
    assert hang.hung_at[0].startswith(f"uid={partner.identifier},") and seconds < 10
    assert page.status_code == 503
    text = text_of(page.text)
    assert "Service momentanément indisponible" in text and "incorrect" not in text
    browser.get("/connexion/code")
    home = browser.post("/connexion/code", {"code": code}, follow_redirects=True)
    assert home.status_code == 200 and "connexion" in text_of(home.text).lower()
