"""The OpenID Connect endpoints against malformed input (issue 18, item 12): a control
character in `redirect_uri` is a French 400 page, never a 500 with a traceback; userinfo is
never cached and answers 401 with `WWW-Authenticate` without a valid token."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import quote

import pytest

from tests.helpers import Cli
from tests.portal.conftest import Browser, text_of
from tests.portal.test_oidc import CALLBACK, authorize_url, pkce


@pytest.fixture
def client(app_cli: Cli) -> dict[str, Any]:
    """A confidential client of FICOBA, redirecting to CALLBACK."""
    app_cli.ok("app", "add", "FICOBA", "--name", "Fichier des comptes bancaires")
    found: dict[str, Any] = app_cli.ok("app", "oidc-client", "FICOBA", "--redirect-uri", CALLBACK)
    return found


HOSTILE_URIS = [
    CALLBACK + "\t",
    CALLBACK[:10] + "\t" + CALLBACK[10:],
    "\t" + CALLBACK,
    CALLBACK + "\n",
    CALLBACK + "\r\nSet-Cookie: x=y",
    CALLBACK + "\x00",
    CALLBACK + "\x7f",
    "http://127.0.0.1:8999/\u202ecallback",
    "http://[::1",  # not even parsable
]


@pytest.mark.parametrize("uri", HOSTILE_URIS)
def test_control_characters_in_redirect_uri(
    browser: Browser,
    client: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
    uri: str,
) -> None:
    """400, the French page, no Location, nothing logged as an error."""
    _, challenge = pkce()
    caplog.set_level(logging.ERROR)
    for method in ("get", "post"):
        url = authorize_url(client["client_id"], challenge, redirect_uri=uri)
        if method == "get":
            answer = browser.client.get(url)
        else:
            path, _, form = url.partition("?")
            answer = browser.client.post(
                path, data=form, content_type="application/x-www-form-urlencoded"
            )
        assert answer.status_code == 400, (method, answer.status_code)
        assert "Location" not in answer.headers
        assert "Demande de connexion invalide" in text_of(answer.get_data(as_text=True))
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text


def test_percent_encoded_tab_as_the_report_sent_it(
    browser: Browser, client: dict[str, Any]
) -> None:
    """The attack pass's own request: `%09` in the query string."""
    _, challenge = pkce()
    url = authorize_url(client["client_id"], challenge).replace(
        quote(CALLBACK, safe=""), quote(CALLBACK, safe="") + "%09"
    )
    assert "%09" in url
    assert browser.client.get(url).status_code == 400


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer nope"},
        {"Authorization": "Bearer "},
        {"Authorization": "Basic x"},
    ],
)
def test_userinfo_without_a_valid_token(browser: Browser, headers: dict[str, str]) -> None:
    """401 with `WWW-Authenticate: Bearer error="invalid_token"` and `no-store`, GET and POST."""
    for answer in (
        browser.client.get("/oidc/userinfo", headers=headers),
        browser.client.post("/oidc/userinfo", headers=headers),
    ):
        assert answer.status_code == 401
        challenge = answer.headers.get("WWW-Authenticate", "")
        assert challenge.startswith("Bearer") and 'error="invalid_token"' in challenge
        assert "no-store" in answer.headers.get("Cache-Control", "")
