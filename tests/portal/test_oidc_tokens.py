"""Access tokens are signed JWTs (RFC 9068, issue 23 item 5): verified at userinfo without a
lookup, stored nowhere, good on every node; userinfo still reads the account they name, so
that an expired or tampered token, the end of the account's sessions and its suspension
answer 401."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from joserfc import jwt
from joserfc.jwk import ECKey, KeySet

from apexdir.clock import FrozenClock
from apexdir.runtime import Runtime
from tests.helpers import Cli
from tests.portal.conftest import Browser, Partner
from tests.portal.test_oidc import (
    ISSUER,
    authorize_url,
    code_through_login,
    pkce,
    query,
    redeem,
)

CALLBACK = "http://127.0.0.1:8999/callback"


@pytest.fixture
def client(app_cli: Cli) -> dict[str, Any]:
    app_cli.ok("app", "add", "FICOBA", "--name", "Fichier des comptes bancaires")
    app_cli.ok("app", "profile-add", "FICOBA", "CONSULTATION")
    return dict(app_cli.ok("app", "oidc-client", "FICOBA", "--redirect-uri", CALLBACK))


@pytest.fixture
def habilitated(app_cli: Cli, partner: Partner, client: dict[str, Any]) -> Partner:
    app_cli.ok("grant", partner.identifier, "FICOBA", "CONSULTATION")
    return partner


def grant(browser: Browser, app_cli: Cli, partner: Partner, client: dict[str, Any]) -> Any:
    """The token response of a code obtained through the portal's login, or by single
    sign-on when the browser's session is alive."""
    verifier, challenge = pkce()
    url = authorize_url(client["client_id"], challenge)
    sso = browser.get(url)
    if sso.location.startswith(CALLBACK):
        got = query(sso.location)
    else:
        got = code_through_login(browser, app_cli, partner, url)
    response = redeem(browser, client, got["code"], code_verifier=verifier)
    assert response.status_code == 200, response.text
    return response.json


def userinfo(client: Any, token: str) -> Any:
    return client.get("/oidc/userinfo", headers={"Authorization": f"Bearer {token}"})


def stored_tokens(rt: Runtime) -> int:
    return len(rt.directory.search(rt.layout.oidc_tokens_dn, "(objectClass=*)", ["1.1"],
                                   scope="one"))  # fmt: skip


def b64(data: dict[str, Any]) -> str:
    raw = json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def unb64(part: str) -> dict[str, Any]:
    return dict(json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))))


def test_access_token_is_a_signed_jwt_stored_nowhere(
    browser: Browser,
    make_app: Callable[..., Flask],
    app_cli: Cli,
    habilitated: Partner,
    client: dict[str, Any],
    rt: Runtime,
) -> None:
    """RFC 9068's claims, signed ES256 with a key of the JWKS; no entry written for it; its
    generation is a digest, never the account's value; another node accepts it."""
    before = stored_tokens(rt)
    tokens = grant(browser, app_cli, habilitated, client)
    keyset = KeySet.import_key_set(browser.get("/oidc/jwks").json)
    decoded = jwt.decode(tokens["access_token"], keyset, algorithms=["ES256"])
    assert decoded.header["typ"] == "at+jwt" and decoded.header["alg"] == "ES256"
    c = decoded.claims
    id_claims = jwt.decode(tokens["id_token"], keyset, algorithms=["RS256"]).claims
    assert c["iss"] == ISSUER and c["aud"] == ISSUER and c["client_id"] == client["client_id"]
    assert c["sub"] == id_claims["sub"] and c["scope"] == "openid profile email"
    assert c["exp"] - c["iat"] == tokens["expires_in"] == 300
    assert len(c["jti"]) >= 16 and c["auth_time"] == id_claims["auth_time"]
    assert len(c["apex_sgen"]) == 32  # the session generation's digest (see the last test)
    payload = json.dumps(c)
    assert habilitated.identifier not in payload and habilitated.mail not in payload
    assert stored_tokens(rt) == before  # nothing written for the token
    assert userinfo(browser.client, tokens["access_token"]).json["sub"] == c["sub"]
    other_node = make_app().test_client()
    assert userinfo(other_node, tokens["access_token"]).status_code == 200
    again = grant(browser, app_cli, habilitated, client)
    assert unb64(again["access_token"].split(".")[1])["jti"] != c["jti"]


def test_an_expired_token_gets_401(
    make_app: Callable[..., Flask],
    tmp_path: Path,
    app_cli: Cli,
    habilitated: Partner,
    client: dict[str, Any],
) -> None:
    clock = FrozenClock(datetime.now(UTC).replace(microsecond=0))
    browser = Browser(make_app(clock=clock).test_client(), tmp_path / "portal-sinks")
    token = grant(browser, app_cli, habilitated, client)["access_token"]
    clock.advance(seconds=299)
    assert userinfo(browser.client, token).status_code == 200
    clock.advance(seconds=1)
    expired = userinfo(browser.client, token)
    assert expired.status_code == 401 and "invalid_token" in expired.headers["WWW-Authenticate"]


def test_tampered_and_foreign_tokens_get_401(
    browser: Browser, app_cli: Cli, habilitated: Partner, client: dict[str, Any]
) -> None:
    """A changed claim under the same signature, `alg: none`, a key of one's own under the
    provider's kid, an ID token, garbage: 401 each."""
    tokens = grant(browser, app_cli, habilitated, client)
    header, payload, signature = tokens["access_token"].split(".")
    claims, head = unb64(payload), unb64(header)
    longer = b64(claims | {"exp": claims["exp"] + 3600})
    scoped = b64(claims | {"client_id": "AUTRE"})
    forged_key = ECKey.generate_key("P-256", parameters={"kid": head["kid"]})
    forged = jwt.encode(head, claims, forged_key, ["ES256"])
    unsigned = b64({"alg": "none", "typ": "at+jwt"}) + "." + payload + "."
    rs256 = b64(head | {"alg": "RS256"}) + "." + payload + "." + signature
    for token in (
        f"{header}.{longer}.{signature}",
        f"{header}.{scoped}.{signature}",
        forged,
        unsigned,
        rs256,
        tokens["id_token"],
        "not-a-token",
        "a.b.c",
        "x" * 5000,
    ):
        answer = userinfo(browser.client, token)
        assert answer.status_code == 401, token
        assert answer.json["error"] == "invalid_token"
    assert userinfo(browser.client, tokens["access_token"]).status_code == 200


def test_logout_and_suspension_end_the_tokens(
    browser: Browser, app_cli: Cli, habilitated: Partner, client: dict[str, Any], rt: Runtime
) -> None:
    """The token is good while the sessions it was issued under last: the provider's
    logout ends them (on every node, so the token too), as does a suspension; after the
    reactivation the former token stays dead, a new login's works. A token holds the
    generation's digest, never the value the portal's sessions compare."""
    first = grant(browser, app_cli, habilitated, client)["access_token"]
    assert userinfo(browser.client, first).status_code == 200
    browser.get("/oidc/logout")
    assert userinfo(browser.client, first).status_code == 401
    second = grant(browser, app_cli, habilitated, client)["access_token"]
    assert userinfo(browser.client, second).status_code == 200
    entry = rt.directory.get(rt.layout.account_dn(habilitated.identifier),
                             ["apexSessionGeneration"])  # fmt: skip
    generation = str(entry.get("apexSessionGeneration") or "") if entry is not None else ""
    assert generation and generation not in second
    assert generation not in json.dumps(unb64(second.split(".")[1]))
    app_cli.ok("account", "suspend", habilitated.identifier, "--reason", "Départ")
    assert userinfo(browser.client, second).status_code == 401
    app_cli.ok("account", "reactivate", habilitated.identifier)
    assert userinfo(browser.client, second).status_code == 401
    third = grant(browser, app_cli, habilitated, client)["access_token"]
    assert userinfo(browser.client, third).status_code == 200


def test_tokens_survive_a_rotation_made_on_another_node(
    app_cli: Cli, habilitated: Partner, client: dict[str, Any], rt: Runtime
) -> None:
    """This process keeps the keys it read; a rotation by another process (a node) does
    not break what either signs: the former current key stays published, and a kid never
    seen here (the rotation's new key) is found by reloading the keys."""
    from apexdir.oidc import keys, store, tokens

    subject = store.subject(rt, habilitated.identifier, "FICOBA", 0)
    assert subject is not None
    before = tokens.issue(rt, ISSUER, client["client_id"], subject, "openid")
    seen = {k["kid"] for k in keys.cached_keys(rt)}
    app_cli.ok("app", "oidc-keys", "rotate")
    assert tokens.verify(rt, ISSUER, before) is not None  # previous: still published
    made = {k["kid"] for k in keys.keys(rt)} - seen
    assert len(made) == 2  # the new next key of each family
    assert all(keys.verification_key(rt, kid) is not None for kid in made)
    assert keys.verification_key(rt, "no-such-kid") is None
    after = tokens.issue(rt, ISSUER, client["client_id"], subject, "openid")
    claims = tokens.verify(rt, ISSUER, after)
    assert claims is not None and claims["sub"] == subject.sub
    assert tokens.verify(rt, "https://another.example", after) is None  # another issuer
