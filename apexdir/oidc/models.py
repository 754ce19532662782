"""The provider's objects as Authlib's mixins want them; no I/O here."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field
from typing import Any

from authlib.oauth2.rfc6749 import AuthorizationCodeMixin, ClientMixin, TokenMixin

from apexdir.models import Account

SCOPES = ("openid", "profile", "email")
# What ProConnect asks of its identity providers (docs/proconnect.md); the last three are
# accepted and never answered (the directory holds no population nor Chorus data, and the
# mobile is shown to nobody but its owner and the agents).
FEDERATION_SCOPES = (
    "openid",
    "given_name",
    "usual_name",
    "email",
    "uid",
    "siren",
    "siret",
    "organizational_unit",
    "belonging_population",
    "phone",
    "chorusdt",
)
# The application code of a federation's client: no application code starts with '@'.
FEDERATION_APP = "@federation"
# What the login proved: a password and a one-time code sent by mail (RFC 8176 values), a
# multi-factor login in the REFEDS profile's words, which relying parties already know.
AMR = ["pwd", "otp", "mfa"]
ACR = "https://refeds.org/profile/mfa"
SECRET_AUTH = ("client_secret_basic", "client_secret_post")


def generation_digest(generation: str) -> str:
    """What a code or an access token says of the session generation it was issued under
    (`apexSessionGeneration`): a digest, so that the relying party that reads the token
    never holds the value the portal's sessions compare."""
    return hashlib.sha256(b"apexdir-session-generation:" + generation.encode()).hexdigest()[:32]


def digest(value: str) -> str:
    """SHA-256 of a random secret (client secret, code, token): a salt or a slow hash would
    buy nothing for values nobody chose, and a fast one keeps the token endpoint cheap."""
    return hashlib.sha256(value.encode()).hexdigest()


@dataclass
class Client(ClientMixin):  # type: ignore[misc]
    client_id: str
    app: str
    redirect_uris: list[str]
    post_logout_uris: list[str] = field(default_factory=list)
    public: bool = False
    secret_hash: str | None = None
    # Signs its ID tokens (and, for a federation, its userinfo answers).
    signing_alg: str = "RS256"
    name: str = ""

    @property
    def federation(self) -> bool:
        """An identity federation (ProConnect): any active partner, no profile needed."""
        return self.app == FEDERATION_APP

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str | None:
        # Only a client with one address may omit redirect_uri: never guess among several.
        return self.redirect_uris[0] if len(self.redirect_uris) == 1 else None

    def get_allowed_scope(self, scope: str | None) -> str:
        if not scope:
            return ""
        allowed = FEDERATION_SCOPES if self.federation else SCOPES
        return " ".join(s for s in scope.split() if s in allowed)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        # Exact match (OAuth 2.1, RFC 9700 §4.1.3): no prefix, no wildcard.
        return redirect_uri in self.redirect_uris

    def check_client_secret(self, client_secret: str) -> bool:
        if self.public or not self.secret_hash:
            return False
        return hmac.compare_digest(digest(client_secret), self.secret_hash)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        if endpoint != "token":
            return True
        return method == "none" if self.public else method in SECRET_AUTH

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == "authorization_code"


@dataclass
class Subject:
    """An account as the provider hands it out, for one client's application."""

    account: Account
    sub: str
    app: str
    auth_time: int


@dataclass
class AuthorizationCode(AuthorizationCodeMixin):  # type: ignore[misc]
    digest: str
    data: dict[str, Any]
    state: str = "fresh"

    @property
    def client_id(self) -> str:
        return str(self.data["client_id"])

    @property
    def code_challenge(self) -> str | None:
        return self.data.get("code_challenge")

    @property
    def code_challenge_method(self) -> str | None:
        return self.data.get("code_challenge_method")

    def get_redirect_uri(self) -> str:
        return str(self.data.get("redirect_uri") or "")

    def get_scope(self) -> str:
        return str(self.data.get("scope") or "")

    def get_nonce(self) -> str | None:
        return self.data.get("nonce")

    def get_auth_time(self) -> int | None:
        return self.data.get("auth_time")

    def get_acr(self) -> str:
        # Decided when the code was issued (federation.acr_for); older codes had ACR.
        return str(self.data.get("acr") or ACR)

    def get_amr(self) -> list[str]:
        return list(AMR)

    def expired(self, now: float) -> bool:
        return now >= float(self.data["expires_at"])


@dataclass
class Token(TokenMixin):  # type: ignore[misc]
    """A verified access token: its claims (`apexdir.oidc.tokens.verify`)."""

    data: dict[str, Any]
    now: float

    @property
    def client_id(self) -> str:
        return str(self.data["client_id"])

    def check_client(self, client: Client) -> bool:
        return bool(client.client_id == self.client_id)

    def get_scope(self) -> str:
        return str(self.data.get("scope") or "")

    def get_expires_in(self) -> int:
        return int(self.data["exp"]) - int(self.data["iat"])

    def is_expired(self) -> bool:
        return self.now >= float(self.data["exp"])

    def is_revoked(self) -> bool:
        # Nothing is stored to revoke: the end of the account's sessions revokes its
        # tokens, checked by userinfo against the account (`store.token_subject`).
        return False
