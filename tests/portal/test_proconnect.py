"""APEX Partenaires as a ProConnect identity provider (issue 22), through Flask's test client:
the federation client of the CLI, discovery, claims by scope, acr eidas1, the userinfo JWT,
the way back to ProConnect, suspended accounts, and the logout on every node. The whole
journey over HTTP with a relying party of its own is test_proconnect_rp.py."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import pytest
from flask import Flask
from joserfc import jwt
from joserfc.jwk import KeySet

from apexdir.oidc import store
from apexdir.runtime import Runtime
from tests.helpers import SIRET, Cli
from tests.portal.conftest import Browser, Partner, text_of
from tests.portal.test_oidc import authorize_url, log_in, pkce, query

PROCONNECT = "https://fca.integ01.dev-agentconnect.fr"
CALLBACK = PROCONNECT + "/api/v2/oidc-callback"
LOGOUT_CALLBACK = PROCONNECT + "/api/v2/client/logout-callback"
SCOPE = (
    "openid given_name usual_name email uid siren siret organizational_unit "
    "belonging_population phone chorusdt"
)
ISSUER = "http://127.0.0.1:5000"


@pytest.fixture
def federation(app_cli: Cli) -> dict[str, Any]:
    return dict(
        app_cli.ok(
            "oidc", "federation-client", "ProConnect",
            "--redirect-uri", CALLBACK,
            "--post-logout-redirect-uri", LOGOUT_CALLBACK,
            "--userinfo-signed-alg", "ES256",
        )
    )  # fmt: skip


def proconnect_url(client_id: str, **extra: str) -> str:
    """An authorization request as ProConnect sends it (its FI guide)."""
    params = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": CALLBACK,
        "scope": SCOPE,
        "state": "pc-state",
        "nonce": "pc-nonce",
        "acr_values": "eidas1",
        "claims": json.dumps({"id_token": {"amr": {"essential": True}}}),
        "login_hint": "marie.martin@example.org",
    }
    return "/oidc/authorize?" + urlencode(params | extra)


def through_login(browser: Browser, app_cli: Cli, partner: Partner, url: str) -> dict[str, str]:
    first = browser.get(url)
    assert first.status_code == 302 and urlsplit(first.location).path == "/connexion"
    done = log_in(browser, app_cli, partner)
    assert done.status_code == 302 and done.location.startswith("/oidc/authorize?")
    back = browser.get(done.location)
    assert back.status_code == 302 and back.location.startswith(CALLBACK), back.text
    return query(back.location)


def redeem_post(browser: Browser, client: dict[str, Any], code: str) -> Any:
    """client_secret_post, as ProConnect authenticates."""
    return browser.client.post(
        "/oidc/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": CALLBACK,
            "client_id": client["client_id"],
            "client_secret": client["client_secret"],
        },
    )


def test_federation_client_from_the_cli(app_cli: Cli, partner: Partner, rt: Runtime) -> None:
    """Agents only; the name gives the client_id, a second run rotates the secret; the
    secret is never journaled nor listed; addresses and algorithm are checked."""
    first = app_cli.ok(
        "oidc", "federation-client", "ProConnect",
        "--redirect-uri", CALLBACK, "--post-logout-redirect-uri", LOGOUT_CALLBACK,
    )  # fmt: skip
    assert first["client_id"] == "proconnect" and len(first["client_secret"]) >= 32
    assert first["redirect_uris"] == [CALLBACK] and first["rotated"] is False
    assert first["userinfo_signed_response_alg"] == "RS256"
    assert first["discovery_url"].endswith("/.well-known/openid-configuration")
    again = app_cli.ok(
        "oidc", "federation-client", "ProConnect",
        "--redirect-uri", CALLBACK, "--redirect-uri", CALLBACK.replace("integ01", "integ02"),
        "--post-logout-redirect-uri", LOGOUT_CALLBACK, "--userinfo-signed-alg", "ES256",
    )  # fmt: skip
    assert again["rotated"] is True and again["client_secret"] != first["client_secret"]
    client = store.get_client(rt, "proconnect")
    assert client is not None and client.federation and client.signing_alg == "ES256"
    assert client.name == "ProConnect" and len(client.redirect_uris) == 2
    assert not client.check_client_secret(first["client_secret"])
    assert client.check_client_secret(again["client_secret"])
    listed = app_cli.ok("oidc", "federation-list")
    assert [c["client_id"] for c in listed] == ["proconnect"]
    assert again["client_secret"] not in json.dumps(listed)
    journal = app_cli.ok("journal")
    assert any(row["action"] == "oidc.federation-client" for row in journal)
    assert again["client_secret"] not in json.dumps(journal)
    assert all(a.get("oidc_client") != "proconnect" for a in app_cli.ok("app", "list"))
    base = ("oidc", "federation-client", "ProConnect", "--redirect-uri", CALLBACK)
    app_cli.fails(4, *base, "--post-logout-redirect-uri", LOGOUT_CALLBACK, as_=partner.identifier)
    app_cli.fails(2, *base)  # no post-logout address
    app_cli.fails(2, *base, "--post-logout-redirect-uri", LOGOUT_CALLBACK,
                  "--userinfo-signed-alg", "HS256")  # fmt: skip
    logout = ("--post-logout-redirect-uri", LOGOUT_CALLBACK)
    plain_http = "http://proconnect.example/cb"
    refused = app_cli.fails(
        1, "oidc", "federation-client", "ProConnect", "--redirect-uri", plain_http, *logout
    )
    assert refused == (
        f"error: Adresse de redirection « {plain_http} » refusée : saisissez une adresse "
        "absolue en https:// sans fragment (http:// seulement sur la machine locale).\n"
    )
    refused = app_cli.fails(
        1, "oidc", "federation-client", "!!!", "--redirect-uri", CALLBACK, *logout
    )
    assert refused == (
        "error: Nom de fédération « !!! » refusé : il doit contenir au moins une lettre.\n"
    )


def test_discovery_says_what_proconnect_needs(browser: Browser) -> None:
    """eidas1 beside the multi-factor profile, ProConnect's scopes, signed userinfo."""
    meta = browser.get("/.well-known/openid-configuration").json
    assert "eidas1" in meta["acr_values_supported"]
    assert "https://refeds.org/profile/mfa" in meta["acr_values_supported"]
    assert set(SCOPE.split()) | {"profile"} <= set(meta["scopes_supported"])
    assert meta["userinfo_signing_alg_values_supported"] == ["RS256", "ES256"]
    assert meta["id_token_signing_alg_values_supported"] == ["RS256", "ES256"]
    assert meta["claims_parameter_supported"] is True
    assert "client_secret_post" in meta["token_endpoint_auth_methods_supported"]
    assert {"usual_name", "uid", "siret", "siren", "organizational_unit"} <= set(
        meta["claims_supported"]
    )


def test_partner_without_profile_logs_in_through_the_federation(
    browser: Browser, app_cli: Cli, partner: Partner, federation: dict[str, Any]
) -> None:
    """No application profile needed; ID token and userinfo signed ES256; acr eidas1; the
    claims of each scope, never the mobile nor APEX's own claims."""
    app_cli.ok("me", "update", partner.identifier, "--mobile", "0612345678")
    page = browser.get(proconnect_url(federation["client_id"]))
    login = text_of(browser.get(page.location).text)
    assert "Revenir à ProConnect" in login and "Mot de passe oublié ?" in login
    assert "Connexion à ProConnect" in login and "Contactez votre assistance" in login
    got = through_login(browser, app_cli, partner, proconnect_url(federation["client_id"]))
    assert got["state"] == "pc-state"
    answer = redeem_post(browser, federation, got["code"])
    assert answer.status_code == 200, answer.text
    keyset = KeySet.import_key_set(browser.get("/oidc/jwks").json)
    token = jwt.decode(answer.json["id_token"], keyset, algorithms=["ES256"])
    assert token.header["alg"] == "ES256"
    c = token.claims
    assert c["acr"] == "eidas1" and c["amr"] == ["pwd", "otp", "mfa"]
    assert c["aud"] == ["proconnect"] and c["nonce"] == "pc-nonce" and c["iss"] == ISSUER
    info = browser.client.get(
        "/oidc/userinfo", headers={"Authorization": f"Bearer {answer.json['access_token']}"}
    )
    assert info.status_code == 200 and info.mimetype == "application/jwt"
    assert info.headers["Cache-Control"] == "no-store"
    signed = jwt.decode(info.get_data(as_text=True), keyset, algorithms=["ES256"])
    claims = signed.claims
    assert claims["iss"] == ISSUER and claims["aud"] == "proconnect"
    assert claims["sub"] == c["sub"] == claims["uid"] and claims["sub"].isascii()
    assert claims["given_name"] == "Marie" and claims["usual_name"] == "Martin"
    assert claims["email"] == partner.mail
    assert claims["siret"] == SIRET and claims["siren"] == SIRET[:9]
    assert claims["organizational_unit"] == "Comptabilité"
    released = set(claims) - {"iss", "aud", "iat", "exp"}
    assert released == {"sub", "given_name", "usual_name", "email", "uid", "siret", "siren",
                        "organizational_unit"}  # fmt: skip
    assert "0612345678" not in json.dumps(claims) + json.dumps(c)
    assert not any(name.startswith("apex_") for name in [*claims, *c])


def test_scopes_release_only_their_claims(
    browser: Browser, app_cli: Cli, make_partner: Callable[..., Partner], federation: Any
) -> None:
    """An administrator has no service: no organizational_unit; a narrower scope releases
    less; without acr_values nor claims a federation is still told eidas1."""
    admin = make_partner("Paul", "Durand", kind="administrateur")
    url = proconnect_url(federation["client_id"], scope="openid email siren", acr_values="")
    got = through_login(browser, app_cli, admin, url.replace("&claims=", "&x="))
    answer = redeem_post(browser, federation, got["code"]).json
    keyset = KeySet.import_key_set(browser.get("/oidc/jwks").json)
    assert jwt.decode(answer["id_token"], keyset).claims["acr"] == "eidas1"
    bearer = {"Authorization": f"Bearer {answer['access_token']}"}
    info = jwt.decode(browser.client.get("/oidc/userinfo", headers=bearer).text, keyset).claims
    assert set(info) - {"iss", "aud", "iat", "exp"} == {"sub", "email", "siren"}


def test_acr_eidas1_when_an_application_asks(
    browser: Browser, app_cli: Cli, partner: Partner
) -> None:
    """An application's client is told eidas1 when it asks (acr_values or claims), the
    multi-factor profile otherwise; its claims and its JSON userinfo are unchanged."""
    app_cli.ok("app", "add", "FICOBA", "--name", "Fichier des comptes bancaires")
    app_cli.ok("app", "profile-add", "FICOBA", "CONSULTATION")
    app_cli.ok("grant", partner.identifier, "FICOBA", "CONSULTATION")
    client = app_cli.ok(
        "app", "oidc-client", "FICOBA", "--redirect-uri", "http://127.0.0.1:8999/callback"
    )
    verifier, challenge = pkce()
    keyset = KeySet.import_key_set(browser.get("/oidc/jwks").json)
    asked = {
        "none": {},
        "acr_values": {"acr_values": "eidas1"},
        "claims": {"claims": json.dumps({"id_token": {"acr": {"values": ["eidas1"]}}})},
    }
    seen = {}
    browser.get(authorize_url(client["client_id"], challenge))
    log_in(browser, app_cli, partner)
    for name, extra in asked.items():
        code = query(browser.get(authorize_url(client["client_id"], challenge, **extra)).location)
        token = browser.client.post(
            "/oidc/token",
            data={"grant_type": "authorization_code", "code": code["code"],
                  "redirect_uri": "http://127.0.0.1:8999/callback", "code_verifier": verifier,
                  "client_id": "FICOBA", "client_secret": client["client_secret"]},
        ).json  # fmt: skip
        decoded = jwt.decode(token["id_token"], keyset, algorithms=["RS256"])
        seen[name] = decoded.claims["acr"]
        assert decoded.claims["apex_profiles"] == ["CONSULTATION"]
        bearer = {"Authorization": f"Bearer {token['access_token']}"}
        info = browser.client.get("/oidc/userinfo", headers=bearer)
        assert info.mimetype == "application/json" and info.json["apex_profiles"]
    assert seen == {
        "none": "https://refeds.org/profile/mfa",
        "acr_values": "eidas1",
        "claims": "eidas1",
    }


def test_way_back_to_the_federation(
    browser: Browser, app_cli: Cli, partner: Partner, federation: dict[str, Any]
) -> None:
    """« Revenir à ProConnect » goes to its redirect address with access_denied and the
    state, and forgets the pending login; an application's login page has no such link."""
    browser.get(proconnect_url(federation["client_id"]))
    page = browser.get("/connexion")
    assert 'href="/oidc/retour"' in page.text
    back = browser.get("/oidc/retour")
    assert back.status_code == 302 and back.location.startswith(CALLBACK + "?")
    got = query(back.location)
    assert got["error"] == "access_denied" and got["state"] == "pc-state"
    assert "Revenir à" not in text_of(browser.get("/connexion").text)
    assert browser.get("/oidc/retour").location.endswith("/connexion")
    log_in(browser, app_cli, partner)  # a later login is not sent to the federation
    assert "Revenir à" not in text_of(browser.get("/connexion").text)


def test_suspended_account_gets_nothing(
    browser: Browser, app_cli: Cli, partner: Partner, federation: dict[str, Any], rt: Runtime
) -> None:
    """A suspended account gets no code and no userinfo any more; nor does an account
    whose status is not active by any other way (the check every client goes through)."""
    got = through_login(browser, app_cli, partner, proconnect_url(federation["client_id"]))
    token = redeem_post(browser, federation, got["code"]).json["access_token"]
    bearer = {"Authorization": f"Bearer {token}"}
    app_cli.ok("account", "suspend", partner.identifier, "--reason", "Départ")
    again = browser.get(proconnect_url(federation["client_id"]))
    assert urlsplit(again.location).path == "/connexion"
    assert browser.client.get("/oidc/userinfo", headers=bearer).status_code == 401
    app_cli.ok("account", "reactivate", partner.identifier)
    got = through_login(browser, app_cli, partner, proconnect_url(federation["client_id"]))
    token = redeem_post(browser, federation, got["code"]).json["access_token"]
    bearer = {"Authorization": f"Bearer {token}"}
    assert browser.client.get("/oidc/userinfo", headers=bearer).status_code == 200
    rt.directory.replace(rt.layout.account_dn(partner.identifier), apexStatus="closed")
    assert browser.client.get("/oidc/userinfo", headers=bearer).status_code == 401


def test_end_session_logs_out_on_every_node(
    make_app: Callable[..., Flask],
    tmp_path: Path,
    app_cli: Cli,
    partner: Partner,
    federation: dict[str, Any],
) -> None:
    """end_session with an ES256 id_token_hint, the post-logout address and the state: the
    session ends here and its copy on another node; the browser goes back with the state."""
    node_a = Browser(make_app().test_client(), tmp_path / "portal-sinks")
    node_b = make_app().test_client()
    got = through_login(node_a, app_cli, partner, proconnect_url(federation["client_id"]))
    id_token = redeem_post(node_a, federation, got["code"]).json["id_token"]
    cookie = node_a.client.get_cookie("apex_session")
    assert cookie is not None
    node_b.set_cookie("apex_session", cookie.value)
    assert node_b.get("/accueil").status_code == 200
    out = node_a.get(
        "/oidc/logout?"
        + urlencode({"id_token_hint": id_token, "state": "pc-logout",
                     "post_logout_redirect_uri": LOGOUT_CALLBACK})
    )  # fmt: skip
    assert out.status_code == 302 and out.location == LOGOUT_CALLBACK + "?state=pc-logout"
    assert urlsplit(node_b.get("/accueil").location).path == "/connexion"
    again = node_a.get(proconnect_url(federation["client_id"]))
    assert urlsplit(again.location).path == "/connexion"
