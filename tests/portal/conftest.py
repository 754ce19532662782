"""Fixtures of the portal tests: the Flask application on the test directory and sinks,
a client that carries the CSRF token of the last page like a browser, real accounts."""

from __future__ import annotations

import asyncio
import re
import shutil
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from apexdir.clock import Clock, system_clock
from apexdir.config import Settings
from apexdir.directory.server import SlapdInstance
from tests.helpers import SIRET, Cli

PASSWORD = "Str0ng-Passw0rd!"
NEW_PASSWORD = "Nouve4u-Passw0rd?"
CODE_SUBJECT = "APEX Partenaires – Code de vérification"

# Debian's headless build of chromium (Playwright's own choice for headless runs): the same
# engine without the desktop browser around it, ≈ a third less time per page and axe run
# than the full `chromium` on the test machine (issue 20 item 9); the full one otherwise.
CHROMIUM = (
    shutil.which("chromium-headless-shell") or shutil.which("chromium") or "/usr/bin/chromium"
)
FULL_CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def portal_settings(settings: Settings, tmp_path: Path, **portal: Any) -> Settings:
    key = tmp_path / "portal.key"
    if not key.exists():
        key.write_text("k" * 48, encoding="utf-8")
        key.chmod(0o600)
    values = {
        "base_url": "http://127.0.0.1:5000",
        "secret_key_file": key,
        "dev_sinks_dir": tmp_path / "portal-sinks",
        "rate_per_client_per_minute": 10_000,
        "rate_global_per_minute": 10_000,
        **portal,
    }
    return settings.model_copy(update={"portal": settings.portal.model_copy(update=values)})


@pytest.fixture
def make_app(settings: Settings, tmp_path: Path) -> Iterator[Callable[..., Flask]]:
    from apexdir.portal import create_app

    apps: list[Flask] = []

    def make(clock: Clock = system_clock, **portal: Any) -> Flask:
        app = create_app(portal_settings(settings, tmp_path, **portal), clock=clock)
        app.config["TESTING"] = False  # errors become pages, as in production
        apps.append(app)
        return app

    yield make
    for app in apps:
        app.extensions["apexdir"].close()


@pytest.fixture
def app(make_app: Callable[..., Flask]) -> Flask:
    return make_app()


CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


@dataclass
class Browser:
    """Flask's test client, keeping the last page's CSRF token as a browser would."""

    client: FlaskClient
    dev_dir: Path
    last: str = ""
    history: list[str] = field(default_factory=list)

    def get(self, path: str, **kwargs: Any) -> Any:
        response = self.client.get(path, **kwargs)
        self._keep(response)
        return response

    def post(
        self, path: str, data: dict[str, str] | None = None, csrf: bool = True, **kwargs: Any
    ) -> Any:
        data = dict(data or {})
        if csrf and "csrf_token" not in data:
            found = CSRF.findall(self.last)
            data["csrf_token"] = found[0] if found else ""
        response = self.client.post(path, data=data, **kwargs)
        self._keep(response)
        return response

    def _keep(self, response: Any) -> None:
        if response.mimetype == "text/html":
            self.last = response.get_data(as_text=True)
            self.history.append(self.last)

    def hidden(self, name: str) -> str:
        """A hidden field of the last page, as the browser would send it back."""
        found = re.findall(rf'type="hidden" name="{name}" value="([^"]*)"', self.last)
        assert found, f"no hidden field {name}"
        return found[0]

    def captcha(self) -> str:
        from apexdir.portal.captcha import latest_dev_answer

        found = latest_dev_answer(self.dev_dir)
        assert found, "no captcha shown"
        return str(found["answer"])

    def login(self, app_cli: Cli, identifier: str, mail: str, password: str = PASSWORD) -> Any:
        self.get("/connexion")
        page = self.post("/connexion", {"identifiant": identifier, "mot_de_passe": password})
        assert page.status_code == 302 and page.location.endswith("/connexion/code"), page.text
        self.get("/connexion/code")
        return self.post(
            "/connexion/code", {"code": last_code(app_cli, mail)}, follow_redirects=True
        )


def last_code(app_cli: Cli, mail: str) -> str:
    bodies = [m["body"] for m in app_cli.mails(to=mail) if m["subject"] == CODE_SUBJECT]
    codes = re.findall(r"code de vérification (\d{6}) pour", "\n".join(bodies))
    assert codes, f"no code mailed to {mail}"
    return codes[-1]


@pytest.fixture
def browser(app: Flask, tmp_path: Path) -> Browser:
    return Browser(app.test_client(), tmp_path / "portal-sinks")


@dataclass
class Partner:
    identifier: str
    mail: str
    mobile: str | None = None


@pytest.fixture
def structure(app_cli: Cli) -> str:
    return app_cli.create_structure(SIRET, "Banque Exemple", "Comptabilité", trade_name="BEX",
                                    street="15 rue de Langoumois", city="Argenteuil",
                                    postal_code="95100")  # fmt: skip


@pytest.fixture
def make_partner(app_cli: Cli, structure: str) -> Callable[..., Partner]:
    def make(
        first: str = "Marie",
        last: str = "Martin",
        *,
        mobile: str | None = None,
        kind: str = "collaborateur",
    ) -> Partner:
        mail = f"{first.lower()}.{last.lower()}@example.org"
        service = None if kind == "administrateur" else "Comptabilité"
        identifier = app_cli.create_account(
            structure, kind, mail, first, last, service=service, mobile=mobile
        )
        return Partner(identifier, mail, mobile)

    return make


@pytest.fixture
def partner(make_partner: Callable[..., Partner]) -> Partner:
    return make_partner()


def text_of(html: str) -> str:
    """The visible text of a page, white space collapsed (entities decoded)."""
    import html as html_lib

    body = re.sub(r"<(script|style)[^>]*>.*?</\1>", " ", html, flags=re.S)
    return " ".join(html_lib.unescape(re.sub(r"<[^>]+>", " ", body)).split())


@pytest.fixture
def slapd_layout(slapd: SlapdInstance) -> Any:
    return slapd.layout


@pytest.fixture(autouse=True)
def errors_render_through_the_catalogue(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every apexdir error a page shows a partner in these tests is rendered from the one
    French catalogue (issue 20: « no English sentence can reach a partner »): it carries a
    code of `apexdir.messages.CATALOGUE`, not a ready message."""
    from apexdir import messages
    from apexdir.errors import ApexError

    render = messages.render
    shown: list[ApexError] = []

    def recording(exc: ApexError) -> str:
        shown.append(exc)
        return render(exc)

    monkeypatch.setattr(messages, "render", recording)
    yield
    uncatalogued = [f"{type(e).__name__}: {e.message}" for e in shown if e.code is None]
    assert not uncatalogued, "shown to a partner without a catalogue code"
    assert all(e.code in messages.CATALOGUE for e in shown)


@dataclass
class Driver:
    """Playwright's driver of this worker and the asyncio loop its sync API runs on."""

    playwright: Any
    loop: asyncio.AbstractEventLoop

    @contextmanager
    def driving(self) -> Iterator[None]:
        """The driver's loop is this thread's running loop inside the block only.

        Playwright's sync API marks its loop as running in the thread that started it, for
        as long as it lives: `asyncio.run` in any other test of the worker would then fail.
        Started once per worker (its node driver costs ≈ 1.3 s of CPU to start, and there
        was one per browser module and worker: up to 20 in a suite run), its loop is
        marked running only around the browser tests' steps, where its calls need it."""
        asyncio.events._set_running_loop(self.loop)
        try:
            yield
        finally:
            asyncio.events._set_running_loop(None)


@pytest.fixture(scope="session")
def playwright_driver() -> Iterator[Driver]:
    from playwright.sync_api import sync_playwright

    playwright = sync_playwright().start()
    driver = Driver(playwright, asyncio.get_running_loop())
    asyncio.events._set_running_loop(None)  # see Driver.driving
    yield driver
    with driver.driving():
        playwright.stop()


@pytest.fixture
def driving(playwright_driver: Driver) -> Iterator[None]:
    """A browser test: Playwright's loop is the running one while it and its fixtures run."""
    with playwright_driver.driving():
        yield


def launched(driver: Driver, executable: str) -> Iterator[Any]:
    with driver.driving():
        browser = driver.playwright.chromium.launch(executable_path=executable)
    yield browser
    with driver.driving():
        browser.close()


@pytest.fixture(scope="session")
def chromium(playwright_driver: Driver) -> Iterator[Any]:
    """One browser per worker: its tests share one tab (`worker_tab`), cleared between them."""
    yield from launched(playwright_driver, CHROMIUM)


AXE = Path(__file__).parent / "vendor" / "axe.min.js"
AXE_SOURCE = AXE.read_bytes()
AXE_PATH = "/_tests/axe.min.js"  # served by the tests' live server, not by the portal


class Portal:
    """The WSGI application of the worker's live server: the running test's portal.

    One server, hence one address, per worker (not one per test): the worker's browser
    context is bound to its origin and reused from test to test (`worker_tab`)."""

    def __init__(self) -> None:
        self.app: Flask | None = None

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        if environ["PATH_INFO"] == AXE_PATH:
            # Loaded by `axe` from the server and kept by the browser: compiled from
            # the code cache V8 keeps of a fetched script rather than once per page.
            start_response("200 OK", [("Content-Type", "text/javascript"),
                                      ("Cache-Control", "max-age=3600")])  # fmt: skip
            return [AXE_SOURCE]
        app = self.app
        if app is None:  # between tests: nothing of an earlier test's world is served
            start_response("503 Service Unavailable", [("Content-Type", "text/plain")])
            return [b"no test running"]
        return app(environ, start_response)


@pytest.fixture(scope="session")
def live_server() -> Iterator[tuple[str, Portal]]:
    """The worker's loopback port, served by a threaded WSGI server."""
    from werkzeug.serving import make_server

    portal = Portal()
    server = make_server("127.0.0.1", 0, portal, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", portal
    server.shutdown()


def new_context(chromium: Any, live: str) -> Any:
    """A fresh browser context on the live portal; its CSP bypassed, for `axe` to load
    axe-core into the page checked (the CSP forbids any script but the portal's own)."""
    return chromium.new_context(base_url=live, bypass_csp=True, locale="fr-FR")


def new_tab(context: Any) -> Any:
    tab = context.new_page()
    tab.set_default_timeout(10_000)
    return tab


class WorkerTab:
    """The worker's tab, handed from test to test with what a test leaves behind cleared.

    A context of its own per test started a renderer process each time (≈ 330 ms of CPU)
    and loaded every page cold: the DSFR's stylesheets parsed, its script and axe compiled
    anew. One tab kept in one renderer process reuses what Chromium caches of the same
    files; a test still starts logged out, on a blank page, at the default size, with no
    cookie nor storage of the test before."""

    def __init__(self, chromium: Any, live: str) -> None:
        self.chromium, self.live = chromium, live
        self.tab = new_tab(new_context(chromium, live))

    def forget(self) -> None:
        """Clear what the test left; a tab that cannot be cleared is replaced."""
        try:
            if self.tab.url.startswith(self.live):  # storage is cleared from its origin
                self.tab.evaluate("localStorage.clear(); sessionStorage.clear()")
            self.tab.goto("about:blank")
            self.tab.context.clear_cookies()
            self.tab.set_viewport_size(DEFAULT_SIZE)
        except Exception:  # a test that failed mid-way (a dialog, a time-out): start anew
            self.tab.context.close()
            self.tab = new_tab(new_context(self.chromium, self.live))


DEFAULT_SIZE = {"width": 1280, "height": 720}  # Playwright's default viewport


@pytest.fixture(scope="session")
def worker_tab(
    chromium: Any, live_server: tuple[str, Portal], playwright_driver: Driver
) -> Iterator[WorkerTab]:
    with playwright_driver.driving():
        tabs = WorkerTab(chromium, live_server[0])
    yield tabs
    with playwright_driver.driving():
        tabs.tab.context.close()
