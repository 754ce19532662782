"""OpenID Connect clients and signing keys (agents): `apexdir app oidc-client`, `apexdir app
oidc-keys rotate`, `apexdir oidc federation-client`. The provider itself is `apexdir.oidc`."""

from __future__ import annotations

import re
import unicodedata
from typing import Any
from urllib.parse import urlsplit

from apexdir.directory.repository import Repository
from apexdir.errors import Invalid
from apexdir.oidc import keys, store
from apexdir.oidc.keys import ALGORITHMS
from apexdir.rules.permissions import Action, Actor, require
from apexdir.runtime import Runtime
from apexdir.workflows.catalogue import ANYWHERE, normalize_code

LOOPBACK = ("127.0.0.1", "localhost", "[::1]", "::1")


def _checked(uris: list[str]) -> list[str]:
    """Every address checked (`check_uri`), each once, in the order given."""
    return list(dict.fromkeys(check_uri(u) for u in uris))


def check_uri(uri: str) -> str:
    """An absolute https address without fragment (http only on the loopback, for tests and
    native applications, RFC 8252 §7.3); compared exactly, so taken as given."""
    value = uri.strip()
    parts = urlsplit(value)
    host = (parts.hostname or "").lower()
    secure = parts.scheme == "https" or (parts.scheme == "http" and host in LOOPBACK)
    if not secure or not parts.netloc or parts.fragment or len(value) > 2048 or "#" in value:
        raise Invalid(code="oidc.redirect_uri", params={"value": uri})
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
    uris = _checked(redirect_uris)
    if not uris:
        raise Invalid(code="oidc.redirect_needed")
    logout = _checked(post_logout_uris or [])
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


def federation_client_id(name: str) -> str:
    """The client_id of the federation called `name`: its letters and digits in lower
    case, dashes between (« ProConnect » → `proconnect`, the id ProConnect's own guide
    suggests); the same name always gives the same id, so registering it again rotates."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")[:64].rstrip("-")
    if not store.is_federation_id(slug):
        raise Invalid(code="oidc.federation_name_letter", params={"value": name})
    return slug


def register_federation_client(
    rt: Runtime,
    actor: Actor,
    name: str,
    redirect_uris: list[str],
    post_logout_uris: list[str],
    *,
    signing_alg: str = "RS256",
) -> dict[str, Any]:
    """Create the client of an identity federation (ProConnect), or replace it (a new
    secret: the former one stops working at once). Through it any active partner may log
    in, whatever his profiles; its ID tokens and userinfo answers are signed with
    `signing_alg`. The secret is returned once, never stored in clear nor journaled."""
    require(actor, Action.CATALOGUE_MANAGE, ANYWHERE)
    label = " ".join(name.split())
    if not label or len(label) > 64 or not label.isprintable():
        raise Invalid(code="oidc.federation_name")
    if signing_alg not in ALGORITHMS:
        raise Invalid(
            code="oidc.signing_alg",
            params={"value": signing_alg, "known": ", ".join(ALGORITHMS)},
        )
    client_id = federation_client_id(label)
    uris = _checked(redirect_uris)
    logout = _checked(post_logout_uris)
    if not uris or not logout:
        raise Invalid(code="oidc.federation_uris_needed")
    client, secret, rotated = store.put_federation_client(
        rt, client_id, label, uris, logout, signing_alg
    )
    rt.journal.record(
        "oidc.federation-client",
        client_id,
        actor=actor.identifier,
        operator=rt.operator,
        details={
            "name": label,
            "rotated": rotated,
            "redirect_uris": uris,
            "post_logout_redirect_uris": logout,
            "signing_alg": signing_alg,
        },
    )
    issuer = rt.settings.portal.base_url.rstrip("/")
    return {
        "name": label,
        "client_id": client.client_id,
        "client_secret": secret,
        "redirect_uris": uris,
        "post_logout_redirect_uris": logout,
        "id_token_signed_response_alg": signing_alg,
        "userinfo_signed_response_alg": signing_alg,
        "token_endpoint_auth_method": "client_secret_post",
        "rotated": rotated,
        "issuer": issuer,
        "discovery_url": issuer + "/.well-known/openid-configuration",
    }


def federation_clients(rt: Runtime, actor: Actor) -> list[dict[str, Any]]:
    """The federations' clients, without their secrets."""
    require(actor, Action.CATALOGUE_MANAGE, ANYWHERE)
    return [
        {
            "name": c.name,
            "client_id": c.client_id,
            "redirect_uris": c.redirect_uris,
            "post_logout_redirect_uris": c.post_logout_uris,
            "userinfo_signed_response_alg": c.signing_alg,
        }
        for c in store.federation_clients(rt)
    ]
