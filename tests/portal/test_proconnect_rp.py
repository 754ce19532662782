"""The whole ProConnect journey against a real portal over HTTP (issue 22, « Done when »).

Two portal nodes run on loopback ports (one issuer, as behind a load balancer; cookies do
not depend on the port, so the browser's session reaches both). The relying party is
written here with the standard library: it reads the discovery document, sends the
browser to the authorization endpoint as ProConnect does, redeems the code with
client_secret_post, and checks the ID token and the userinfo JWT against the JWKS with
joserfc alone — nothing of the provider's own code. The « browser » is urllib with a
cookie jar that follows no redirect by itself, so every hop is seen."""

from __future__ import annotations

import http.cookiejar
import json
import re
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from flask import Flask
from joserfc import jwt
from joserfc.jwk import KeySet

from tests.helpers import SIRET, Cli
from tests.portal.conftest import PASSWORD, Partner, last_code, text_of
from tests.ports import free_port

SCOPE = (
    "openid given_name usual_name email uid siren siret organizational_unit "
    "belonging_population phone chorusdt"
)
SUPPORT = "assistance.apex@example.org"
CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


@dataclass
class Answer:
    status: int
    headers: Any
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    @property
    def location(self) -> str:
        return str(self.headers["Location"])


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


@dataclass
class Http:
    """A browser (or the relying party's back channel): cookies, no automatic redirect."""

    jar: http.cookiejar.CookieJar = field(default_factory=http.cookiejar.CookieJar)

    def __post_init__(self) -> None:
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.jar), _NoRedirect
        )

    def send(
        self,
        url: str,
        form: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> Answer:
        data = urllib.parse.urlencode(form).encode() if form is not None else None
        request = urllib.request.Request(url, data=data, headers=headers or {})
        try:
            with self.opener.open(request, timeout=30) as response:
                return Answer(response.status, response.headers, response.read())
        except urllib.error.HTTPError as error:
            return Answer(error.code, error.headers, error.read())

    def form(self, url: str, page: str, values: dict[str, str]) -> Answer:
        """Submit a page's form with its CSRF token, as the browser would."""
        token = CSRF.findall(page)
        return self.send(url, {"csrf_token": token[0] if token else ""} | values)


def query(url: str) -> dict[str, str]:
    return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))


@pytest.fixture
def nodes(make_app: Callable[..., Flask]) -> Iterator[tuple[str, str]]:
    """Two portal nodes on loopback ports, both with the first one's address as issuer."""
    from werkzeug.serving import make_server

    ports = [free_port(), free_port()]
    base = f"http://127.0.0.1:{ports[0]}"
    servers = [
        make_server("127.0.0.1", port, make_app(base_url=base, support_mail=SUPPORT), threaded=True)
        for port in ports
    ]
    threads = [threading.Thread(target=s.serve_forever, daemon=True) for s in servers]
    for thread in threads:
        thread.start()
    yield base, f"http://127.0.0.1:{ports[1]}"
    for server in servers:
        server.shutdown()
        server.server_close()


def test_proconnect_journey_against_a_running_portal(
    nodes: tuple[str, str], app_cli: Cli, partner: Partner
) -> None:
    """Discovery, login with password and mailed code for a partner holding no profile,
    ID token (ES256, acr eidas1) and userinfo JWT verified against the JWKS, the way back
    to ProConnect, and the logout through end_session, seen from the other node."""
    node_a, node_b = nodes
    rp = f"http://127.0.0.1:{free_port()}"  # ProConnect's addresses (never called)
    callback, logout_callback = rp + "/api/v2/oidc-callback", rp + "/api/v2/client/logout-callback"
    app_cli.ok("me", "update", partner.identifier, "--mobile", "0612345678")
    client = app_cli.ok(
        "oidc", "federation-client", "ProConnect",
        "--redirect-uri", callback, "--post-logout-redirect-uri", logout_callback,
        "--userinfo-signed-alg", "ES256",
    )  # fmt: skip
    back_channel = Http()

    # Discovery: what ProConnect reads first.
    meta = json.loads(back_channel.send(node_a + "/.well-known/openid-configuration").body)
    assert meta["issuer"] == node_a
    assert "eidas1" in meta["acr_values_supported"]
    assert set(SCOPE.split()) <= set(meta["scopes_supported"])
    assert "ES256" in meta["userinfo_signing_alg_values_supported"]
    assert "client_secret_post" in meta["token_endpoint_auth_methods_supported"]

    def authorization(state: str) -> str:
        return meta["authorization_endpoint"] + "?" + urllib.parse.urlencode({
            "response_type": "code", "client_id": client["client_id"],
            "redirect_uri": callback, "scope": SCOPE, "state": state, "nonce": "n-" + state,
            "acr_values": "eidas1", "login_hint": partner.mail,
            "claims": json.dumps({"id_token": {"amr": {"essential": True}}}),
        })  # fmt: skip

    # The way back: the partner chooses another provider from the login page.
    other = Http()
    sent = other.send(authorization("pc-back"))
    assert sent.status == 302, sent.text
    page = other.send(urllib.parse.urljoin(node_a, sent.location))
    words = text_of(page.text)
    assert "Revenir à ProConnect" in words and "Mot de passe oublié ?" in words
    assert "Connexion à ProConnect" in words and f'href="mailto:{SUPPORT}"' in page.text
    link = re.findall(r'<a [^>]*href="([^"]+)"[^>]*>Revenir à ProConnect</a>', page.text)
    assert link, page.text
    back = other.send(urllib.parse.urljoin(node_a, link[0]))
    assert back.status == 302 and back.location.startswith(callback + "?")
    assert query(back.location) | {"error_description": ""} == {
        "error": "access_denied", "state": "pc-back", "error_description": ""
    }  # fmt: skip

    # The login: password, then the mailed code; the partner holds no profile.
    assert app_cli.ok("account", "show", partner.identifier)["habilitations"] == []
    browser = Http()
    sent = browser.send(authorization("pc-1"))
    login_url = urllib.parse.urljoin(node_a, sent.location)
    page = browser.send(login_url)
    posted = browser.form(
        login_url, page.text, {"identifiant": partner.identifier, "mot_de_passe": PASSWORD}
    )
    assert posted.status == 302, posted.text
    code_url = urllib.parse.urljoin(node_a, posted.location)
    page = browser.send(code_url)
    verified = browser.form(code_url, page.text, {"code": last_code(app_cli, partner.mail)})
    assert verified.status == 302 and "/oidc/authorize?" in verified.location, verified.text
    done = browser.send(urllib.parse.urljoin(node_a, verified.location))
    assert done.status == 302 and done.location.startswith(callback + "?"), done.text
    got = query(done.location)
    assert got["state"] == "pc-1" and "error" not in got

    # The relying party's back channel: the code for tokens, client_secret_post.
    answer = back_channel.send(
        meta["token_endpoint"],
        {"grant_type": "authorization_code", "code": got["code"], "redirect_uri": callback,
         "client_id": client["client_id"], "client_secret": client["client_secret"]},
    )  # fmt: skip
    assert answer.status == 200, answer.text
    tokens = json.loads(answer.body)
    keyset = KeySet.import_key_set(json.loads(back_channel.send(meta["jwks_uri"]).body))
    id_token = jwt.decode(tokens["id_token"], keyset, algorithms=["ES256"])
    c = id_token.claims
    assert id_token.header["alg"] == "ES256"
    assert c["iss"] == node_a and client["client_id"] in c["aud"] and c["nonce"] == "n-pc-1"
    assert c["acr"] == "eidas1" and {"pwd", "otp"} <= set(c["amr"])

    info = back_channel.send(
        meta["userinfo_endpoint"], headers={"Authorization": f"Bearer {tokens['access_token']}"}
    )
    assert info.status == 200 and info.headers["Content-Type"].startswith("application/jwt")
    signed = jwt.decode(info.body, keyset, algorithms=["ES256"])
    claims = signed.claims
    assert claims["iss"] == node_a and claims["aud"] == client["client_id"]
    assert claims["sub"] == c["sub"] and claims["uid"].isascii() and claims["uid"]
    assert (claims["given_name"], claims["usual_name"], claims["email"]) == (
        "Marie", "Martin", partner.mail
    )  # fmt: skip
    assert claims["siret"] == SIRET and claims["siren"] == SIRET[:9]
    assert claims["organizational_unit"] == "Comptabilité"
    assert "phone" not in claims and "0612345678" not in info.text + answer.text

    # Single sign-on works on the other node with the same session…
    again = browser.send(authorization("pc-2").replace(node_a, node_b))
    assert again.status == 302 and "code" in query(again.location), again.text

    # …until the logout through end_session, which both nodes then honour, for this
    # browser and for any copy of its cookie.
    copy = Http()
    for cookie in browser.jar:
        copy.jar.set_cookie(cookie)
    assert copy.send(node_b + "/accueil").status == 200
    out = browser.send(
        meta["end_session_endpoint"] + "?" + urllib.parse.urlencode({
            "id_token_hint": tokens["id_token"], "state": "pc-logout",
            "post_logout_redirect_uri": logout_callback,
        })
    )  # fmt: skip
    assert out.status == 302 and out.location == logout_callback + "?state=pc-logout"
    for node, who in ((node_a, browser), (node_b, browser), (node_b, copy), (node_a, copy)):
        silent = who.send(authorization("pc-3").replace(node_a, node) + "&prompt=none")
        assert query(silent.location)["error"] == "login_required", node
        home = who.send(node + "/accueil")
        assert home.status == 302 and urllib.parse.urlsplit(home.location).path == "/connexion"
