"""The provider's state in the directory, so that any node answers any step.

- a client is `apexOidcClientId=<CODE>,apexAppCode=<CODE>,ou=applications,…` (its secret
  only as a SHA-256);
- a code or a token is `cn=<SHA-256 of its value>` under `ou=codes` / `ou=tokens` of
  `ou=oidc,ou=system`: the value itself is never stored;
- a code is spent by a compare-and-swap of its state (fresh → used): slapd applies it once,
  so two nodes redeeming one code concurrently issue one token; a used code is kept until
  the purge so that a replay revokes the token issued with it (RFC 6749 §4.1.2);
- the signing keys (private JWKs) are `cn=<kid>` under `ou=keys`: a current one signs, a
  next one is already published so that relying parties know it before it signs, and the
  previous one stays published until the next rotation, for ID tokens it signed.

All of it is readable by apexdir's own account only (slapd.conf ACLs).
"""

from __future__ import annotations

import contextlib
import json
import secrets
from datetime import datetime, timedelta
from typing import Any

from apexdir.clock import to_generalized_time
from apexdir.directory import filters as f
from apexdir.directory.mapping import ACCOUNT_ATTRS, account_from
from apexdir.errors import ApexError, Conflict, Invalid, NotFound
from apexdir.oidc.models import AuthorizationCode, Client, Subject, Token, digest
from apexdir.runtime import Runtime

CLIENT_ATTRS = [
    "apexOidcClientId",
    "apexAppCode",
    "apexTokenHash",
    "apexOidcRedirectUri",
    "apexOidcPostLogoutUri",
    "apexOidcPublic",
]
KEY_STATES = ("current", "next", "previous")
# A used code is kept this long after its expiry: a replay within it revokes the token.
REPLAY_WINDOW = timedelta(minutes=10)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


# ------------------------------------------------------------------ clients
def _client_from(entry: Any) -> Client:
    public = entry.get("apexOidcPublic")
    return Client(
        client_id=_text(entry.get("apexOidcClientId")),
        app=_text(entry.get("apexAppCode")),
        redirect_uris=[_text(v) for v in entry.all("apexOidcRedirectUri")],
        post_logout_uris=[_text(v) for v in entry.all("apexOidcPostLogoutUri")],
        public=public is True or _text(public).upper() == "TRUE",
        secret_hash=_text(entry.get("apexTokenHash")) if entry.get("apexTokenHash") else None,
    )


def get_client(rt: Runtime, client_id: str) -> Client | None:
    """The client, or None for an id that names none (malformed ids included)."""
    if not client_id or len(client_id) > 64:
        return None
    try:
        entry = rt.directory.get(rt.layout.oidc_client_dn(client_id), CLIENT_ATTRS)
    except (NotFound, Invalid):
        return None
    return _client_from(entry) if entry is not None else None


def clients(rt: Runtime) -> dict[str, Client]:
    """Every client, by application code."""
    entries = rt.directory.search(
        rt.layout.applications_dn, f.eq("objectClass", "apexOidcClient"), CLIENT_ATTRS
    )
    return {c.app: c for c in map(_client_from, entries)}


def put_client(
    rt: Runtime,
    app: str,
    redirect_uris: list[str],
    post_logout_uris: list[str],
    *,
    public: bool,
) -> tuple[Client, str | None, bool]:
    """Create or replace the client of `app`; (client, secret shown once, rotated)."""
    secret = None if public else secrets.token_urlsafe(32)
    dn = rt.layout.oidc_client_dn(app)
    values: dict[str, Any] = {
        "apexOidcRedirectUri": redirect_uris,
        "apexOidcPostLogoutUri": post_logout_uris,
        "apexOidcPublic": "TRUE" if public else "FALSE",
        "apexTokenHash": digest(secret) if secret else None,
    }
    rotated = rt.directory.exists(dn)
    if rotated:
        rt.directory.replace(dn, **values)
    else:
        rt.directory.add(
            dn,
            {"objectClass": ["apexOidcClient"], "apexOidcClientId": app, "apexAppCode": app}
            | values,
        )
    client = Client(app, app, redirect_uris, post_logout_uris, public, values["apexTokenHash"])
    return client, secret, rotated


# ------------------------------------------------------------------ codes and tokens
def _grant_entry(data: dict[str, Any], expires: float, state: str | None) -> dict[str, Any]:
    return {
        "objectClass": ["apexOidcGrant"],
        "apexExpiresAt": to_generalized_time(datetime.fromtimestamp(expires).astimezone()),
        "apexOidcData": json.dumps(data, separators=(",", ":")),
        "apexOidcState": state,
    }


def save_code(rt: Runtime, code: str, data: dict[str, Any]) -> None:
    key = digest(code)
    entry = _grant_entry(data, data["expires_at"], "fresh")
    rt.directory.add(rt.layout.oidc_code_dn(key), entry | {"cn": key})


def get_code(rt: Runtime, code: str) -> AuthorizationCode | None:
    if not code or len(code) > 128:
        return None
    key = digest(code)
    entry = rt.directory.get(
        rt.layout.oidc_code_dn(key), ["apexOidcData", "apexOidcState", "apexTokenHash"]
    )
    if entry is None:
        return None
    token = entry.get("apexTokenHash")
    return AuthorizationCode(
        key,
        json.loads(_text(entry.get("apexOidcData"))),
        _text(entry.get("apexOidcState") or "fresh"),
        _text(token) if token else None,
    )


def spend_code(rt: Runtime, code: AuthorizationCode) -> bool:
    """Mark the code used; False when another request spent it first."""
    try:
        rt.directory.modify(
            rt.layout.oidc_code_dn(code.digest),
            {"apexOidcState": [("delete", ["fresh"]), ("add", ["used"])]},
        )
    except (Conflict, NotFound):
        return False
    code.state = "used"
    return True


def attach_token(rt: Runtime, code: AuthorizationCode, token: str) -> None:
    """Remember which token the code gave, so that a replay of the code revokes it."""
    code.token_hash = digest(token)
    rt.directory.replace(rt.layout.oidc_code_dn(code.digest), apexTokenHash=code.token_hash)


def revoke_issued(rt: Runtime, code: AuthorizationCode) -> bool:
    """A used code came back: revoke the token issued with it (RFC 6749 §4.1.2)."""
    if not code.token_hash:
        return False
    try:
        rt.directory.delete(rt.layout.oidc_token_dn(code.token_hash))
    except NotFound:
        return False
    return True


def save_token(rt: Runtime, token: str, data: dict[str, Any]) -> None:
    key = digest(token)
    entry = _grant_entry(data, data["expires_at"], None)
    rt.directory.add(rt.layout.oidc_token_dn(key), entry | {"cn": key})


def get_token(rt: Runtime, token: str, now: float) -> Token | None:
    if not token or len(token) > 128:
        return None
    key = digest(token)
    entry = rt.directory.get(rt.layout.oidc_token_dn(key), ["apexOidcData"])
    if entry is None:
        return None
    return Token(key, json.loads(_text(entry.get("apexOidcData"))), now)


def purge(rt: Runtime, now: datetime, limit: int = 1000) -> dict[str, int]:
    """Delete expired tokens, and codes past their expiry and the replay window."""
    counts = {"oidc_codes_purged": 0, "oidc_tokens_purged": 0}
    for base, cutoff, name in (
        (rt.layout.oidc_codes_dn, now - REPLAY_WINDOW, "oidc_codes_purged"),
        (rt.layout.oidc_tokens_dn, now, "oidc_tokens_purged"),
    ):
        try:
            found = rt.directory.search(
                base,
                f.and_(f.eq("objectClass", "apexOidcGrant"), f.le("apexExpiresAt", cutoff)),
                ["1.1"],
                scope="one",
            )
        except NotFound:  # a directory initialised before the provider existed
            continue
        for entry in found[:limit]:
            with contextlib.suppress(NotFound):  # another node purged it
                rt.directory.delete(entry.dn)
                counts[name] += 1
    return counts


# ------------------------------------------------------------------ accounts
def subject(rt: Runtime, identifier: str, app: str, auth_time: int) -> Subject | None:
    """The account if it may be handed to an application now: it exists (the same one: its
    entryUUID is the `sub`), is active, not locked, and its password has not expired.
    Whether it holds a profile of `app` is the caller's question (a different refusal)."""
    try:
        entry = rt.directory.get(rt.layout.account_dn(identifier), [*ACCOUNT_ATTRS, "entryUUID"])
    except (NotFound, Invalid):
        return None
    if entry is None or entry.get("apexAccountType") is None:
        return None
    account = account_from(entry)
    if account.status != "active" or account.locked_at or account.locked_by_administrator:
        return None
    max_age = rt.settings.policy.password_max_age_days
    changed = account.password_changed_at
    if max_age and changed is not None and rt.clock() >= changed + timedelta(days=max_age):
        return None
    return Subject(account, _text(entry.get("entryUUID")), app, auth_time)


def still_subject(rt: Runtime, data: dict[str, Any], app: str) -> Subject | None:
    """The subject a code or token names, if still eligible and still the same account."""
    found = subject(rt, str(data["identifier"]), app, int(data.get("auth_time") or 0))
    return found if found is not None and found.sub == data["sub"] else None


# ------------------------------------------------------------------ signing keys
def _new_key(state: str) -> dict[str, Any]:
    from joserfc.jwk import RSAKey

    kid = secrets.token_urlsafe(12)
    key = RSAKey.generate_key(2048, parameters={"kid": kid, "use": "sig", "alg": "RS256"})
    return {"kid": kid, "state": state, "jwk": key.as_dict(private=True)}


def _add_key(rt: Runtime, key: dict[str, Any]) -> None:
    rt.directory.add(
        rt.layout.oidc_key_dn(key["kid"]),
        {
            "objectClass": ["apexOidcKey"],
            "cn": key["kid"],
            "apexOidcState": key["state"],
            "apexOidcData": json.dumps(key["jwk"]),
        },
    )


def _read_keys(rt: Runtime) -> list[dict[str, Any]]:
    entries = rt.directory.search(
        rt.layout.oidc_keys_dn,
        f.eq("objectClass", "apexOidcKey"),
        ["cn", "apexOidcState", "apexOidcData"],
        scope="one",
    )
    keys = [
        {
            "kid": _text(e.get("cn")),
            "state": _text(e.get("apexOidcState")),
            "jwk": json.loads(_text(e.get("apexOidcData"))),
        }
        for e in entries
    ]
    return sorted(keys, key=lambda k: (KEY_STATES.index(k["state"]), k["kid"]))


def keys(rt: Runtime) -> list[dict[str, Any]]:
    """The signing keys, the current one first; the first call makes a current and a next.
    Two nodes making them at once leave two of each: all are published and the smallest kid
    signs, so nothing breaks."""
    found = _read_keys(rt)
    if not any(k["state"] == "current" for k in found):
        for state in ("current", "next"):
            _add_key(rt, _new_key(state))
        found = _read_keys(rt)
    return found


def signing_key(rt: Runtime) -> dict[str, Any]:
    return keys(rt)[0]


def public_jwks(rt: Runtime) -> dict[str, Any]:
    public = ("kty", "kid", "use", "alg", "n", "e")
    return {"keys": [{k: v for k, v in key["jwk"].items() if k in public} for key in keys(rt)]}


def rotate_keys(rt: Runtime) -> dict[str, Any]:
    """next → current, current → previous, a new next; the former previous goes."""
    found = keys(rt)
    changes = {"previous": None, "current": "previous", "next": "current"}
    for key in found:
        target = changes[key["state"]]
        dn = rt.layout.oidc_key_dn(key["kid"])
        with contextlib.suppress(ApexError):
            if target is None:
                rt.directory.delete(dn)
            else:
                rt.directory.modify(
                    dn, {"apexOidcState": [("delete", [key["state"]]), ("add", [target])]}
                )
    fresh = _new_key("next")
    _add_key(rt, fresh)
    after = _read_keys(rt)
    return {"keys": [{"kid": k["kid"], "state": k["state"]} for k in after]}
