"""The OpenID Connect provider through Flask's test client: discovery, the code flow with
PKCE and the portal's login, single sign-on, prompt/max_age, errors that never redirect to
an unregistered address, replayed and expired codes, userinfo, logout, the CLI."""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from flask import Flask
from joserfc import jwt
from joserfc.jwk import KeySet

from apexdir.clock import FrozenClock, to_generalized_time
from apexdir.config import Settings
from apexdir.oidc import store
from apexdir.runtime import Runtime
from tests.helpers import Cli
from tests.portal.conftest import Browser, Partner, last_code, text_of

CALLBACK = "http://127.0.0.1:8999/callback"
ISSUER = "http://127.0.0.1:5000"


@pytest.fixture
def client(app_cli: Cli) -> dict[str, Any]:
    """FICOBA with a profile and a confidential client."""
    app_cli.ok("app", "add", "FICOBA", "--name", "Fichier des comptes bancaires")
    app_cli.ok("app", "profile-add", "FICOBA", "CONSULTATION")
    app_cli.ok("app", "profile-add", "FICOBA", "MISE A JOUR")
    return dict(
        app_cli.ok(
            "app",
            "oidc-client",
            "FICOBA",
            "--redirect-uri",
            CALLBACK,
            "--post-logout-uri",
            "http://127.0.0.1:8999/bye",
        )
    )


@pytest.fixture
def habilitated(app_cli: Cli, partner: Partner, client: dict[str, Any]) -> Partner:
    app_cli.ok("grant", partner.identifier, "FICOBA", "CONSULTATION")
    return partner


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def authorize_url(client_id: str, challenge: str | None = None, **extra: str) -> str:
    params = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": CALLBACK,
        "scope": "openid profile email",
        "state": "st-123",
        "nonce": "n-456",
    }
    if challenge:
        params |= {"code_challenge": challenge, "code_challenge_method": "S256"}
    return "/oidc/authorize?" + urlencode(params | extra)


def log_in(browser: Browser, app_cli: Cli, partner: Partner) -> Any:
    """Password then mailed code, as a partner; the answer to the code (a redirect)."""
    browser.get("/connexion")
    page = browser.post("/connexion", {"identifiant": partner.identifier, "mot_de_passe": PW})
    assert page.status_code == 302, page.text
    browser.get("/connexion/code")
    return browser.post("/connexion/code", {"code": last_code(app_cli, partner.mail)})


PW = "Str0ng-Passw0rd!"


def query(location: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def code_through_login(
    browser: Browser, app_cli: Cli, partner: Partner, url: str
) -> dict[str, str]:
    first = browser.get(url)
    assert first.status_code == 302 and urlsplit(first.location).path == "/connexion"
    done = log_in(browser, app_cli, partner)
    assert done.status_code == 302 and done.location.startswith("/oidc/authorize?"), done.location
    back = browser.get(done.location)
    assert back.status_code == 302 and back.location.startswith(CALLBACK), back.text
    return query(back.location)


def redeem(browser: Browser, client: dict[str, Any], code: str, **form: str) -> Any:
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK} | form
    auth = (client["client_id"], client["client_secret"])
    basic = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
    return browser.client.post(
        "/oidc/token", data=data, headers={"Authorization": f"Basic {basic}"}
    )


def test_discovery_and_jwks(browser: Browser) -> None:
    """The discovery document names every endpoint; the JWKS holds a current and a next key
    of each family (RSA for applications, P-256 for federations that ask for ES256)."""
    meta = browser.get("/.well-known/openid-configuration").json
    assert meta["issuer"] == ISSUER
    assert meta["authorization_endpoint"] == ISSUER + "/oidc/authorize"
    assert meta["token_endpoint"] == ISSUER + "/oidc/token"
    assert meta["userinfo_endpoint"] == ISSUER + "/oidc/userinfo"
    assert meta["jwks_uri"] == ISSUER + "/oidc/jwks"
    assert meta["end_session_endpoint"] == ISSUER + "/oidc/logout"
    assert meta["code_challenge_methods_supported"] == ["S256"]
    keys = browser.get("/oidc/jwks").json["keys"]
    # A rotation made by an earlier test of this worker (the keys outlive a test) leaves
    # the former keys published too: a current and a next key of each family at least.
    families = Counter(k["kty"] for k in keys)
    assert set(families) == {"EC", "RSA"} and families["EC"] == families["RSA"] >= 2
    assert all("d" not in k and "p" not in k for k in keys)
    assert {k["alg"] for k in keys if k["kty"] == "EC"} == {"ES256"}


def test_code_flow_with_pkce_and_claims(
    browser: Browser, app_cli: Cli, habilitated: Partner, client: dict[str, Any]
) -> None:
    """Login (password + mailed code) → code → tokens; the ID token is RS256, says how the
    user logged in, and carries the profiles of this application only; never a phone."""
    app_cli.ok("app", "add", "AUTRE", "--name", "Autre application")
    app_cli.ok("app", "profile-add", "AUTRE", "LECTURE")
    app_cli.ok("grant", habilitated.identifier, "AUTRE", "LECTURE")
    verifier, challenge = pkce()
    got = code_through_login(
        browser, app_cli, habilitated, authorize_url(client["client_id"], challenge)
    )
    assert got["state"] == "st-123"
    response = redeem(browser, client, got["code"], code_verifier=verifier)
    assert response.status_code == 200, response.text
    assert response.headers["Cache-Control"] == "no-store"
    tokens = response.json
    assert tokens["token_type"].lower() == "bearer" and tokens["expires_in"] <= 300
    keyset = KeySet.import_key_set(browser.get("/oidc/jwks").json)
    decoded = jwt.decode(tokens["id_token"], keyset, algorithms=["RS256"])
    assert decoded.header["alg"] == "RS256" and decoded.header["kid"]
    c = decoded.claims
    assert c["iss"] == ISSUER and c["aud"] == [client["client_id"]] and c["nonce"] == "n-456"
    assert c["amr"] == ["pwd", "otp", "mfa"] and c["acr"] and c["auth_time"]
    assert c["preferred_username"] == habilitated.identifier
    assert c["sub"] != habilitated.identifier and len(c["sub"]) == 36  # the entryUUID
    assert c["apex_profiles"] == ["CONSULTATION"] and c["apex_type"] == "collaborateur"
    assert c["given_name"] == "Marie" and c["family_name"] == "Martin"
    assert c["email"] == habilitated.mail and c["apex_siret"]
    assert not {"phone_number", "mobile"} & c.keys()
    info = browser.client.get(
        "/oidc/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"}
    )
    assert info.status_code == 200 and info.json["sub"] == c["sub"]
    assert info.json["apex_profiles"] == ["CONSULTATION"]
    assert "phone_number" not in info.json


def test_single_sign_on_prompt_and_max_age(
    make_app: Callable[..., Flask],
    tmp_path: Any,
    app_cli: Cli,
    habilitated: Partner,
    client: dict[str, Any],
) -> None:
    """A session that passed both steps is reused; prompt=login and max_age ask again;
    prompt=none without a session answers login_required."""
    # Frozen from now: the code's mail, valid 10 minutes, is delivered on the real clock.
    clock = FrozenClock(datetime.now(UTC).replace(microsecond=0))
    browser = Browser(make_app(clock=clock).test_client(), tmp_path / "portal-sinks")
    _, challenge = pkce()
    none = browser.get(authorize_url(client["client_id"], challenge, prompt="none"))
    assert none.status_code == 302 and none.location.startswith(CALLBACK)
    assert query(none.location)["error"] == "login_required"
    assert query(none.location)["state"] == "st-123"
    code_through_login(browser, app_cli, habilitated, authorize_url(client["client_id"], challenge))
    again = browser.get(authorize_url(client["client_id"], challenge, prompt="none"))
    assert again.location.startswith(CALLBACK) and "code" in query(again.location)
    forced = browser.get(authorize_url(client["client_id"], challenge, prompt="login"))
    assert urlsplit(forced.location).path == "/connexion"
    posted = browser.client.post(
        "/oidc/authorize", data=query(authorize_url(client["client_id"], challenge))
    )
    assert posted.status_code == 302 and "code" in query(posted.location), posted.text
    recent = browser.get(authorize_url(client["client_id"], challenge, max_age="60"))
    assert "code" in query(recent.location)
    clock.advance(seconds=120)
    old = browser.get(authorize_url(client["client_id"], challenge, max_age="60"))
    assert urlsplit(old.location).path == "/connexion"
    old_none = browser.get(
        authorize_url(client["client_id"], challenge, max_age="60", prompt="none")
    )
    assert query(old_none.location)["error"] == "login_required"
    bad = browser.get(authorize_url(client["client_id"], challenge, max_age="soon"))
    assert query(bad.location)["error"] == "invalid_request"


def test_errors_never_redirect_to_an_unregistered_address(
    browser: Browser, client: dict[str, Any]
) -> None:
    """Unknown client, wrong redirect_uri: a French page at the provider; once the address
    is known, malformed parameters go back to it with the OAuth error."""
    _, challenge = pkce()
    unknown = browser.get(authorize_url("NOPE", challenge))
    assert unknown.status_code == 400 and "Location" not in unknown.headers
    assert "Demande de connexion invalide" in text_of(unknown.text)
    evil = browser.get(
        authorize_url(client["client_id"], challenge, redirect_uri="https://evil.example/cb")
    )
    assert evil.status_code == 400 and "Location" not in evil.headers
    prefix = browser.get(authorize_url(client["client_id"], challenge, redirect_uri=CALLBACK + "x"))
    assert prefix.status_code == 400
    wrong_type = browser.get(authorize_url(client["client_id"], challenge, response_type="token"))
    assert wrong_type.status_code == 302 and wrong_type.location.startswith(CALLBACK)
    assert query(wrong_type.location)["error"] == "unsupported_response_type"
    plain = browser.get(authorize_url(client["client_id"], "x" * 43, code_challenge_method="plain"))
    assert query(plain.location)["error"] == "invalid_request"
    no_openid = browser.get(authorize_url(client["client_id"], challenge, scope="profile"))
    assert query(no_openid.location)["error"] == "invalid_scope"


def test_token_endpoint_errors_replay_and_expiry(
    make_app: Callable[..., Flask],
    tmp_path: Any,
    app_cli: Cli,
    habilitated: Partner,
    client: dict[str, Any],
) -> None:
    """Wrong secret → invalid_client; wrong verifier or redirect → invalid_grant; a replayed
    code → invalid_grant and the token it gave is revoked (the account's sessions end); a
    code older than 60 s is void."""
    # Frozen from now: the code's mail, valid 10 minutes, is delivered on the real clock.
    clock = FrozenClock(datetime.now(UTC).replace(microsecond=0))
    browser = Browser(make_app(clock=clock).test_client(), tmp_path / "portal-sinks")
    verifier, challenge = pkce()
    got = code_through_login(
        browser, app_cli, habilitated, authorize_url(client["client_id"], challenge)
    )
    wrong = dict(client, client_secret="not-the-secret")
    assert redeem(browser, wrong, got["code"], code_verifier=verifier).json["error"] == (
        "invalid_client"
    )
    bad_verifier = redeem(browser, client, got["code"], code_verifier="y" * 50)
    assert bad_verifier.json["error"] == "invalid_grant"
    good = redeem(browser, client, got["code"], code_verifier=verifier)
    assert good.status_code == 200, good.text
    bearer = {"Authorization": f"Bearer {good.json['access_token']}"}
    assert browser.client.get("/oidc/userinfo", headers=bearer).status_code == 200
    replay = redeem(browser, client, got["code"], code_verifier=verifier)
    assert replay.status_code == 400 and replay.json["error"] == "invalid_grant"
    assert browser.client.get("/oidc/userinfo", headers=bearer).status_code == 401
    # The token is signed, stored nowhere: the replay revoked it by ending the account's
    # sessions, under which it was issued — this browser's too, so a new login.
    ended = browser.get(authorize_url(client["client_id"], challenge))
    assert urlsplit(ended.location).path == "/connexion"

    again = code_through_login(
        browser, app_cli, habilitated, authorize_url(client["client_id"], challenge)
    )
    code = again["code"]
    other = redeem(
        browser, client, code, code_verifier=verifier, redirect_uri="http://127.0.0.1:8999/x"
    )
    assert other.json["error"] == "invalid_grant"
    late = query(browser.get(authorize_url(client["client_id"], challenge)).location)["code"]
    clock.advance(seconds=61)
    assert redeem(browser, client, late, code_verifier=verifier).json["error"] == "invalid_grant"
    missing = redeem(browser, client, "", code_verifier=verifier)
    assert missing.json["error"] in ("invalid_request", "invalid_grant")
    unsupported = browser.client.post("/oidc/token", data={"grant_type": "password"})
    assert unsupported.json["error"] in ("unsupported_grant_type", "invalid_client")


def test_public_client_needs_pkce_and_client_secret_post(
    browser: Browser, app_cli: Cli, habilitated: Partner, client: dict[str, Any]
) -> None:
    """A public client has no secret and must send a verifier; a confidential client may
    authenticate with client_secret_post."""
    public = app_cli.ok("app", "oidc-client", "FICOBA", "--redirect-uri", CALLBACK, "--public")
    assert "client_secret" not in public and public["rotated"]
    without = browser.get(authorize_url(public["client_id"]))
    assert query(without.location)["error"] == "invalid_request"
    verifier, challenge = pkce()
    got = code_through_login(
        browser, app_cli, habilitated, authorize_url(public["client_id"], challenge)
    )
    form = {"grant_type": "authorization_code", "code": got["code"], "redirect_uri": CALLBACK,
            "client_id": public["client_id"]}  # fmt: skip
    no_verifier = browser.client.post("/oidc/token", data=form)
    assert no_verifier.json["error"] in ("invalid_request", "invalid_grant")
    ok = browser.client.post("/oidc/token", data=form | {"code_verifier": verifier})
    assert ok.status_code == 200, ok.text and "id_token" in ok.json

    secret = app_cli.ok("app", "oidc-client", "FICOBA", "--redirect-uri", CALLBACK)
    fresh = query(browser.get(authorize_url(secret["client_id"])).location)["code"]
    post = browser.client.post(
        "/oidc/token",
        data={"grant_type": "authorization_code", "code": fresh, "redirect_uri": CALLBACK,
              "client_id": secret["client_id"], "client_secret": secret["client_secret"]},
    )  # fmt: skip
    assert post.status_code == 200, post.text


def test_no_profile_is_refused_and_revocation_applies(
    browser: Browser, app_cli: Cli, partner: Partner, client: dict[str, Any]
) -> None:
    """No profile of the client's application: access_denied with a French page; revoking
    the last profile refuses the next login; a locked account gets no code."""
    _, challenge = pkce()
    url = authorize_url(client["client_id"], challenge)
    browser.get(url)
    done = log_in(browser, app_cli, partner)
    refused = browser.get(done.location)
    assert refused.status_code == 403
    page = text_of(refused.text)
    assert "aucun profil" in page and "administrateur" in page
    assert "error=access_denied" in refused.text and "state=st-123" in refused.text
    silent = browser.get(authorize_url(client["client_id"], challenge, prompt="none"))
    assert query(silent.location)["error"] == "access_denied"
    app_cli.ok("grant", partner.identifier, "FICOBA", "CONSULTATION")
    assert "code" in query(browser.get(url).location)
    app_cli.ok("revoke", partner.identifier, "FICOBA", "CONSULTATION")
    assert browser.get(url).status_code == 403


def test_deleted_account_gets_no_code_nor_userinfo(
    browser: Browser, app_cli: Cli, habilitated: Partner, client: dict[str, Any], rt: Any
) -> None:
    """A deleted account's session gives no code, and its token no userinfo."""
    verifier, challenge = pkce()
    url = authorize_url(client["client_id"], challenge)
    got = code_through_login(browser, app_cli, habilitated, url)
    token = redeem(browser, client, got["code"], code_verifier=verifier).json["access_token"]
    app_cli.ok("revoke", habilitated.identifier, "FICOBA", "CONSULTATION")
    app_cli.ok("account", "delete", habilitated.identifier)
    gone = browser.get(url)
    assert urlsplit(gone.location).path == "/connexion"
    bearer = {"Authorization": f"Bearer {token}"}
    assert browser.client.get("/oidc/userinfo", headers=bearer).status_code == 401


def test_logout(
    browser: Browser, app_cli: Cli, habilitated: Partner, client: dict[str, Any]
) -> None:
    """RP-initiated logout ends the session and goes back only to a registered address."""
    verifier, challenge = pkce()
    url = authorize_url(client["client_id"], challenge)
    got = code_through_login(browser, app_cli, habilitated, url)
    id_token = redeem(browser, client, got["code"], code_verifier=verifier).json["id_token"]
    evil = browser.get(
        "/oidc/logout?"
        + urlencode(
            {"id_token_hint": id_token, "post_logout_redirect_uri": "https://evil.example/"}
        )
    )
    assert evil.status_code == 400 and "Location" not in evil.headers
    code_through_login(browser, app_cli, habilitated, url)
    out = browser.get(
        "/oidc/logout?"
        + urlencode({"id_token_hint": id_token, "state": "s1",
                     "post_logout_redirect_uri": "http://127.0.0.1:8999/bye"})
    )  # fmt: skip
    assert out.status_code == 302 and out.location == "http://127.0.0.1:8999/bye?state=s1"
    after = browser.get(url)
    assert urlsplit(after.location).path == "/connexion"
    plain = browser.get("/oidc/logout")
    assert plain.status_code == 200 and "Vous êtes déconnecté" in text_of(plain.text)


def test_cli_list_keys_rotation_and_housekeeping(
    browser: Browser, app_cli: Cli, client: dict[str, Any], rt: Runtime
) -> None:
    """`app list` shows the client; rotation publishes a new next key of each family and
    keeps the former current ones; the housekeeping job purges expired codes and tokens."""
    listed = {a["code"]: a for a in app_cli.ok("app", "list")}
    assert listed["FICOBA"]["oidc_client"] == client["client_id"]
    assert "client_secret" in client and client["redirect_uris"] == [CALLBACK]
    from apexdir.oidc.keys import keys

    # The keys outlive a test: an earlier test of this worker may have rotated them already.
    held = {k["kid"]: k["state"] for k in keys(rt)}
    assert held.keys() == {k["kid"] for k in browser.get("/oidc/jwks").json["keys"]}
    rotated = app_cli.ok("app", "oidc-keys", "rotate")
    states = {k["kid"]: k["state"] for k in rotated["keys"]}
    assert set(states.values()) == {"current", "next", "previous"}
    moves = {"current": "previous", "next": "current", "previous": None}
    assert {kid: states.get(kid) for kid in held} == {k: moves[s] for k, s in held.items()}
    after = {k["kid"] for k in browser.get("/oidc/jwks").json["keys"]}
    assert after == states.keys() and len(after) == 6  # RS256 and ES256, three each
    assert sorted(k["alg"] for k in rotated["keys"] if k["state"] == "next") == ["ES256", "RS256"]
    app_cli.fails(1, "app", "oidc-client", "FICOBA", "--redirect-uri", "ftp://x/cb")
    journal = app_cli.ok("journal")
    registered = [row for row in journal if row["action"] == "app.oidc-client"]
    assert registered and client["client_secret"] not in str(journal)
    assert any(row["action"] == "app.oidc-keys-rotate" for row in journal)
    old = {"client_id": "FICOBA", "expires_at": time.time() - 3600, "issued_at": 0}
    store.save_code(rt, "an-old-code", old)
    # Tokens stored before access tokens were signed JWTs: the purge still empties them.
    stored_token(rt, "an-old-token", time.time() - 3600)
    stored_token(rt, "a-live-token", time.time() + 300)
    counts = app_cli.ok("daemon", "run-once", "housekeeping")
    assert counts["oidc_codes_purged"] >= 1 and counts["oidc_tokens_purged"] >= 1
    assert store.get_code(rt, "an-old-code") is None
    assert not rt.directory.exists(rt.layout.oidc_token_dn(store.digest("an-old-token")))
    assert rt.directory.exists(rt.layout.oidc_token_dn(store.digest("a-live-token")))


def stored_token(rt: Runtime, value: str, expires: float) -> None:
    """An access token as the provider stored it before issue 23 (`cn=<SHA-256>`)."""
    key = store.digest(value)
    when = to_generalized_time(datetime.fromtimestamp(expires).astimezone())
    rt.directory.add(
        rt.layout.oidc_token_dn(key),
        {"objectClass": ["apexOidcGrant"], "cn": key, "apexExpiresAt": when,
         "apexOidcData": '{"client_id":"FICOBA"}'},
    )  # fmt: skip


def test_directory_down_is_temporarily_unavailable(
    make_app: Callable[..., Flask], tmp_path: Any, settings: Settings
) -> None:
    """The directory unreachable: 503 with temporarily_unavailable at the token endpoint."""
    ldap = settings.ldap.model_copy(update={"uris": ["ldap://127.0.0.1:9"]})
    app = make_app()
    app.extensions["apexdir"].settings = settings.model_copy(update={"ldap": ldap}).model_copy(
        update={"portal": app.extensions["apexdir"].settings.portal}
    )
    client = app.test_client()
    answer = client.post(
        "/oidc/token",
        data={"grant_type": "authorization_code", "code": "x", "client_id": "FICOBA"},
    )
    assert answer.status_code == 503 and answer.json["error"] == "temporarily_unavailable"
    page = client.get(authorize_url("FICOBA"))
    assert page.status_code == 503


def test_an_application_reads_no_client_code_token_or_key(
    browser: Browser, app_cli: Cli, client: dict[str, Any], settings: Settings
) -> None:
    """The ACLs: an application's service account sees neither its OpenID Connect client
    (secret hash, addresses) nor the provider's codes, tokens and signing keys."""
    import ldap3

    from apexdir.directory.layout import Layout

    browser.get("/oidc/jwks")  # the keys exist
    creds = app_cli.ok("app", "credentials", "FICOBA")
    layout = Layout(settings.ldap.base_dn)
    with ldap3.Connection(
        ldap3.Server(settings.ldap.uris[0]), creds["dn"], creds["password"], auto_bind=True
    ) as conn:
        conn.search(layout.applications_dn, "(objectClass=apexOidcClient)", attributes=["*"])
        assert conn.entries == []
        conn.search(layout.application_dn("FICOBA"), "(objectClass=*)", attributes=["*"])
        assert conn.entries, "the application itself stays readable"
        conn.search(layout.oidc_dn, "(objectClass=*)", attributes=["*"])
        assert conn.entries == []


def test_login_for_an_application_names_it(
    browser: Browser, app_cli: Cli, partner: Partner, client: dict[str, Any]
) -> None:
    """« Connexion à <application> » on the login page, the code page and the access-denied
    page of a login an application asked for; the portal's own login does not name one."""
    assert "Connexion à" not in text_of(browser.get("/connexion").text)
    _, challenge = pkce()
    browser.get(authorize_url(client["client_id"], challenge))
    login = browser.get("/connexion").text
    assert "<h1>Connexion à Fichier des comptes bancaires</h1>" in login
    assert "<title>Connexion à Fichier des comptes bancaires — " in login
    browser.post("/connexion", {"identifiant": partner.identifier, "mot_de_passe": PW})
    code = browser.get("/connexion/code").text
    assert "<h1>Connexion à Fichier des comptes bancaires</h1>" in code
    done = browser.post("/connexion/code", {"code": last_code(app_cli, partner.mail)})
    refused = browser.get(done.location)
    assert refused.status_code == 403
    assert "<h1>Connexion à Fichier des comptes bancaires</h1>" in refused.text
    assert "Retourner à Fichier des comptes bancaires" in text_of(refused.text)
