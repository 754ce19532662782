"""The login page a ProConnect user sees, in chromium at a phone's width: « Revenir à
ProConnect » and « Mot de passe oublié ? » on screen without sideways scrolling, axe-core
clean, and the way back landing at ProConnect with access_denied and the state."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from tests.helpers import Cli
from tests.portal.conftest import FULL_CHROMIUM, Driver, launched
from tests.portal.test_browser import (  # noqa: F401 - fixtures
    app_cli,
    axe,
    live,
    new_page,
    pytestmark,
)

CALLBACK = "https://fca.integ01.dev-agentconnect.fr/api/v2/oidc-callback"


@pytest.fixture(scope="module")
def chromium(playwright_driver: Driver) -> Iterator[Any]:
    """The full chromium, not the headless shell the other journeys use: the way back is a
    redirect to ProConnect's callback, answered here by `page.route`, and the headless
    shell sends that redirect to the network instead (ERR_NAME_NOT_RESOLVED). Launched by
    the worker's Playwright driver (conftest)."""
    yield from launched(playwright_driver, FULL_CHROMIUM)


@pytest.fixture
def page(new_page: Callable[[], Any]) -> Any:  # noqa: F811
    """A context of the full chromium (the worker's tab is the headless shell's)."""
    return new_page()


def test_federation_login_page_on_a_phone(page: Any, app_cli: Cli) -> None:  # noqa: F811
    """375 px wide: the way back and the forgotten password are visible, nothing overflows;
    the way back returns to ProConnect's callback with access_denied and the state."""
    client = app_cli.ok(
        "oidc", "federation-client", "ProConnect",
        "--redirect-uri", CALLBACK,
        "--post-logout-redirect-uri", "https://fca.integ01.dev-agentconnect.fr/api/v2/client/logout-callback",
    )  # fmt: skip
    landed: list[str] = []

    def proconnect(route: Any) -> None:
        landed.append(route.request.url)
        route.fulfill(status=200, content_type="text/html", body="<p>ProConnect</p>")

    page.route(CALLBACK + "*", proconnect)
    page.set_viewport_size({"width": 375, "height": 740})
    params = {
        "response_type": "code", "client_id": client["client_id"], "redirect_uri": CALLBACK,
        "scope": "openid given_name usual_name email uid siret", "state": "pc-state",
        "nonce": "n", "acr_values": "eidas1",
    }  # fmt: skip
    page.goto("/oidc/authorize?" + urlencode(params))
    page.wait_for_url("**/connexion")
    back = page.get_by_role("link", name="Revenir à ProConnect")
    forgot = page.get_by_role("link", name="Mot de passe oublié ?")
    for link in (back, forgot):
        assert link.is_visible()
        box = link.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 375
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    axe(page)
    back.click()
    page.wait_for_url(CALLBACK + "*")
    got = {k: v[0] for k, v in parse_qs(urlsplit(landed[-1]).query).items()}
    assert got["error"] == "access_denied" and got["state"] == "pc-state"
