"""OpenID Connect clients and signing keys (agents): `apexdir app oidc-client`, `apexdir app
oidc-keys rotate`. The provider itself is `apexdir.oidc`."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from apexdir.directory.repository import Repository
from apexdir.errors import Invalid
from apexdir.oidc import keys, store
from apexdir.rules.permissions import Action, Actor, require
from apexdir.runtime import Runtime
from apexdir.workflows.catalogue import ANYWHERE, normalize_code

LOOPBACK = ("127.0.0.1", "localhost", "[::1]", "::1")


def check_uri(uri: str) -> str:
    """An absolute https address without fragment (http only on the loopback, for tests and
    native applications, RFC 8252 §7.3); compared exactly, so taken as given."""
    value = uri.strip()
    parts = urlsplit(value)
    host = (parts.hostname or "").lower()
    secure = parts.scheme == "https" or (parts.scheme == "http" and host in LOOPBACK)
    if not secure or not parts.netloc or parts.fragment or len(value) > 2048 or "#" in value:
        raise Invalid(
            f"redirect address {uri!r}: an absolute https:// address without fragment "
            "(http:// on the loopback only)"
        )
    return value


def register_client(
    rt: Runtime,
    actor: Actor,
    code: str,
    redirect_uris: list[str],
    post_logout_uris: list[str] | None = None,
    *,
    public: bool = False,
) -> dict[str, Any]:
    """Create the client of application `code`, or replace it (a new secret: the former one
    stops working at once). The secret is returned once, never stored in clear nor
    journaled."""
    require(actor, Action.CATALOGUE_MANAGE, ANYWHERE)
    code = normalize_code(code)
    Repository(rt.directory, rt.layout).application(code)
    uris = list(dict.fromkeys(check_uri(u) for u in redirect_uris))
    if not uris:
        raise Invalid("at least one --redirect-uri is needed")
    logout = list(dict.fromkeys(check_uri(u) for u in post_logout_uris or []))
    client, secret, rotated = store.put_client(rt, code, uris, logout, public=public)
    rt.journal.record(
        "app.oidc-client",
        code,
        actor=actor.identifier,
        operator=rt.operator,
        details={
            "rotated": rotated,
            "public": public,
            "redirect_uris": uris,
            "post_logout_redirect_uris": logout,
        },
    )
    out: dict[str, Any] = {
        "code": code,
        "client_id": client.client_id,
        "redirect_uris": uris,
        "post_logout_redirect_uris": logout,
        "public": public,
        "rotated": rotated,
        "issuer": rt.settings.portal.base_url.rstrip("/"),
    }
    if secret is not None:
        out["client_secret"] = secret
    return out


def client_ids(rt: Runtime) -> dict[str, str]:
    """Application code → client_id, for the applications that have a client."""
    return {app: c.client_id for app, c in store.clients(rt).items()}


def rotate_keys(rt: Runtime, actor: Actor) -> dict[str, Any]:
    require(actor, Action.CATALOGUE_MANAGE, ANYWHERE)
    out = keys.rotate_keys(rt)
    rt.journal.record(
        "app.oidc-keys-rotate", None, actor=actor.identifier, operator=rt.operator, details=out
    )
    return out
