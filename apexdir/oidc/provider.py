"""Authlib's authorization server wired to the directory stores (Canaille's
`oidc/provider.py` is the model): the code grant with PKCE and OpenID Connect, bearer tokens
for userinfo — signed JWTs stored nowhere (`tokens`) — and the discovery document."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from authlib.integrations.flask_oauth2 import AuthorizationServer, ResourceProtector
from authlib.oauth2.rfc6749 import InvalidRequestError, grants
from authlib.oauth2.rfc6750 import BearerTokenValidator
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oidc.core.grants import OpenIDCode
from flask import Flask, g

from apexdir.oidc import federation, keys, store, tokens
from apexdir.oidc.claims import claims
from apexdir.oidc.models import (
    ACR,
    AMR,
    FEDERATION_APP,
    FEDERATION_SCOPES,
    SCOPES,
    AuthorizationCode,
    Client,
    Subject,
    Token,
    generation_digest,
)
from apexdir.runtime import Runtime

CODE_SECONDS = 60
ACCESS_TOKEN_SECONDS = tokens.SECONDS
ID_TOKEN_SECONDS = 300

RuntimeOf = Callable[[], Runtime]


class CodeGrant(grants.AuthorizationCodeGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS: ClassVar = ["client_secret_basic", "client_secret_post", "none"]
    runtime: RuntimeOf

    def save_authorization_code(self, code: str, request: Any) -> None:
        rt = self.runtime()
        user: Subject = request.user
        payload = request.payload
        now = rt.clock().timestamp()
        store.save_code(
            rt,
            code,
            {
                "client_id": request.client.client_id,
                "redirect_uri": payload.redirect_uri,
                "scope": request.scope or payload.scope,
                "nonce": payload.data.get("nonce"),
                "code_challenge": payload.data.get("code_challenge"),
                "code_challenge_method": payload.data.get("code_challenge_method"),
                "acr": federation.acr_for(payload.data, request.client.federation),
                "identifier": user.account.identifier,
                "sub": user.sub,
                "auth_time": user.auth_time,
                # Its token is good only while these sessions last (`store.still_subject`).
                "sgen": generation_digest(user.account.session_generation),
                "expires_at": now + CODE_SECONDS,
            },
        )

    def query_authorization_code(self, code: str, client: Client) -> AuthorizationCode | None:
        rt = self.runtime()
        found = store.get_code(rt, code)
        if found is None or found.client_id != client.client_id:
            return None
        if found.state != "fresh":
            store.revoke_issued(rt, found)
            return None
        return None if found.expired(rt.clock().timestamp()) else found

    def delete_authorization_code(self, authorization_code: AuthorizationCode) -> None:
        # Spent already (authenticate_user); the entry stays until the purge, for replays.
        return None

    def authenticate_user(self, authorization_code: AuthorizationCode) -> Subject | None:
        rt = self.runtime()
        if not store.spend_code(rt, authorization_code):
            return None
        client: Client = self.request.client
        return store.still_subject(rt, authorization_code.data, client.app)


class S256Challenge(CodeChallenge):  # type: ignore[misc]
    """PKCE with S256 only: `plain` would show the verifier to whoever sees the request."""

    SUPPORTED_CODE_CHALLENGE_METHOD: ClassVar = ["S256"]
    DEFAULT_CODE_CHALLENGE_METHOD = "S256"

    def validate_code_challenge(self, grant: Any, redirect_uri: str) -> None:
        data = grant.request.payload.data
        if data.get("code_challenge") and data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("'code_challenge_method' must be S256.")
        super().validate_code_challenge(grant, redirect_uri)


class OpenID(OpenIDCode):  # type: ignore[misc]
    def __init__(self, runtime: RuntimeOf, issuer: str) -> None:
        super().__init__(require_nonce=False)
        self.runtime = runtime
        self.issuer = issuer

    def exists_nonce(self, nonce: str, request: Any) -> bool:
        # A nonce rides one single-use code: its replay is the code's replay, refused there.
        return False

    def _key(self, client: Client) -> dict[str, Any]:
        # One read per token response: the header's kid and the signing key must agree.
        if "oidc_key" not in g:
            g.oidc_key = keys.signing_key(self.runtime(), client.signing_alg)
        return g.oidc_key  # type: ignore[no-any-return]

    def resolve_client_private_key(self, client: Client) -> Any:
        return keys.imported(self._key(client))

    def get_client_algorithm(self, client: Client) -> str:
        return client.signing_alg

    def get_encode_header(self, client: Client) -> dict[str, Any]:
        return {"alg": client.signing_alg, "kid": self._key(client)["kid"], "typ": "JWT"}

    def get_client_claims(self, client: Client) -> dict[str, Any]:
        now = int(self.runtime().clock().timestamp())
        return {
            "iss": self.issuer,
            "aud": [client.client_id],
            "iat": now,
            "exp": now + ID_TOKEN_SECONDS,
        }

    def generate_user_info(self, user: Subject, scope: str) -> dict[str, Any]:
        return user_claims(user, scope)


def user_claims(user: Subject, scope: str) -> dict[str, Any]:
    """What the client learns of the account, in the ID token and from userinfo: an
    application its profiles (`apex_*`), a federation the ProConnect claims."""
    if user.app == FEDERATION_APP:
        return federation.claims(user.account, user.sub, scope)
    return claims(user.account, user.sub, user.app, scope)


def signed_userinfo(rt: Runtime, client: Client, issuer: str, values: dict[str, Any]) -> str:
    """The userinfo answer as a JWT signed with the client's algorithm (OpenID Connect Core
    §5.3.2: with `iss` and `aud`), for a federation that asks for it (ProConnect does)."""
    from joserfc import jwt

    key = keys.signing_key(rt, client.signing_alg)
    now = int(rt.clock().timestamp())
    payload = values | {
        "iss": issuer,
        "aud": client.client_id,
        "iat": now,
        "exp": now + ID_TOKEN_SECONDS,
    }
    header = {"alg": client.signing_alg, "kid": key["kid"], "typ": "JWT"}
    return jwt.encode(header, payload, keys.imported(key), [client.signing_alg])


class Bearer(BearerTokenValidator):  # type: ignore[misc]
    """An access token is good when its signature is (no lookup); userinfo then checks the
    account it names (`store.token_subject`)."""

    def __init__(self, runtime: RuntimeOf, issuer: str) -> None:
        super().__init__()
        self.runtime = runtime
        self.issuer = issuer

    def authenticate_token(self, token_string: str) -> Token | None:
        rt = self.runtime()
        claims = tokens.verify(rt, self.issuer, token_string)
        return Token(claims, rt.clock().timestamp()) if claims is not None else None


def build(app: Flask, runtime: RuntimeOf, issuer: str) -> tuple[AuthorizationServer, Any]:
    """The authorization server and the resource protector of userinfo, for `app`."""

    def query_client(client_id: str) -> Client | None:
        # Authlib asks more than once in one request (authorize validates it twice): one
        # read per request, never across requests (a former secret must stop at once).
        found: dict[str, Client | None] = g.setdefault("oidc_clients", {})
        if client_id not in found:
            found[client_id] = store.get_client(runtime(), client_id)
        return found[client_id]

    def access_token(client: Client, grant_type: str, user: Subject, scope: str) -> str:
        return tokens.issue(runtime(), issuer, client.client_id, user, scope)

    def save_token(token: dict[str, Any], request: Any) -> None:
        # Nothing to store: the access token is signed (`tokens`), and there is no
        # refresh token (the code grant only).
        return None

    app.config["OAUTH2_ACCESS_TOKEN_GENERATOR"] = access_token
    app.config.setdefault("OAUTH2_TOKEN_EXPIRES_IN", {"authorization_code": ACCESS_TOKEN_SECONDS})
    server = AuthorizationServer(app, query_client=query_client, save_token=save_token)
    grant = type("BoundCodeGrant", (CodeGrant,), {"runtime": staticmethod(runtime)})
    server.register_grant(grant, [S256Challenge(required=True), OpenID(runtime, issuer)])
    protector = ResourceProtector()
    protector.register_token_validator(Bearer(runtime, issuer))
    return server, protector


def metadata(issuer: str, url: Callable[[str], str]) -> dict[str, Any]:
    """The discovery document (OpenID Connect Discovery 1.0); `url` makes an absolute address
    of an endpoint's name."""
    return {
        "issuer": issuer,
        "authorization_endpoint": url("oidc.authorize"),
        "token_endpoint": url("oidc.token"),
        "userinfo_endpoint": url("oidc.userinfo"),
        "jwks_uri": url("oidc.jwks"),
        "end_session_endpoint": url("oidc.logout"),
        "scopes_supported": list(dict.fromkeys(SCOPES + FEDERATION_SCOPES)),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": list(keys.ALGORITHMS),
        "userinfo_signing_alg_values_supported": list(keys.ALGORITHMS),
        "token_endpoint_auth_methods_supported": [
            "client_secret_basic",
            "client_secret_post",
            "none",
        ],
        "code_challenge_methods_supported": ["S256"],
        "prompt_values_supported": ["none", "login"],
        "acr_values_supported": [ACR, federation.EIDAS1],
        "amr_values_supported": AMR,
        "claims_supported": [
            "sub",
            "iss",
            "aud",
            "exp",
            "iat",
            "auth_time",
            "nonce",
            "acr",
            "amr",
            "preferred_username",
            "name",
            "given_name",
            "family_name",
            "email",
            "apex_type",
            "apex_siret",
            "apex_profiles",
            "usual_name",
            "uid",
            "siret",
            "siren",
            "organizational_unit",
        ],
        # Honoured for the ID token's acr (federation.acr_for); other claims go by scope.
        "claims_parameter_supported": True,
        "request_parameter_supported": False,
        "request_uri_parameter_supported": False,
        "frontchannel_logout_supported": False,
        "backchannel_logout_supported": False,
    }
