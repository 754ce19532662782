"""The provider's signing keys, kept in the directory so that every node signs with the same.

Private JWKs are `cn=<kid>` under `ou=keys` of `ou=oidc,ou=system`. There is one family per
algorithm — RS256 (RSA 2048) for the applications' ID tokens, ES256 (P-256) for the identity
federations that ask for it (ProConnect) — and each family lives the same life: a current
key signs, a next one is already published so that relying parties know it before it signs,
and the previous one stays published until the next rotation, for the tokens it signed.
`apexdir app oidc-keys rotate` moves every family one step at once.

Each process keeps the keys it read for `CACHE_SECONDS` (and the imported objects for good:
a kid's key never changes), so that signing and verifying a token read no directory. After
a rotation on another node, this one goes on signing with the former current key for at
most that long: it stays published as `previous` until the next rotation, so what it signs
still verifies. A token signed with a key this process has not seen yet (a `next` made on
another node) reloads the keys, at most once every `RELOAD_SECONDS`. The JWKS address reads
the directory each time: relying parties fetch it seldom and must see a rotation at once.
"""

from __future__ import annotations

import contextlib
import secrets
import time
from typing import TYPE_CHECKING, Any

from apexdir.directory.oidc_records import OidcRecords
from apexdir.errors import ApexError
from apexdir.runtime import Runtime

if TYPE_CHECKING:  # joserfc is imported when a key is used
    from joserfc.jwk import KeySetSerialization

KEY_STATES = ("current", "next", "previous")
# The first one is the default: what ordinary applications' ID tokens have always used.
ALGORITHMS = ("RS256", "ES256")
PUBLIC_MEMBERS = ("kty", "kid", "use", "alg", "n", "e", "crv", "x", "y")
_IMPORTED: dict[str, Any] = {}
CACHE_SECONDS = 60.0
RELOAD_SECONDS = 5.0
# (base DN, directory addresses) → (when read, the keys): one entry per directory.
_CACHE: dict[tuple[str, ...], tuple[float, list[dict[str, Any]]]] = {}
_RELOADED: dict[tuple[str, ...], float] = {}


def algorithm_of(jwk: dict[str, Any]) -> str:
    """The key's algorithm; keys made before ES256 existed were all RSA."""
    return str(jwk.get("alg") or ("ES256" if jwk.get("kty") == "EC" else "RS256"))


def _new_key(state: str, alg: str) -> dict[str, Any]:
    from joserfc.jwk import ECKey, RSAKey

    kid = secrets.token_urlsafe(12)
    key = (
        ECKey.generate_key("P-256", parameters={"kid": kid, "use": "sig", "alg": alg})
        if alg == "ES256"
        else RSAKey.generate_key(2048, parameters={"kid": kid, "use": "sig", "alg": alg})
    )
    return {"kid": kid, "state": state, "alg": alg, "jwk": key.as_dict(private=True)}


def _add_key(rt: Runtime, key: dict[str, Any]) -> None:
    OidcRecords(rt.directory, rt.layout).add_key(key["kid"], key["state"], key["jwk"])


def _read_keys(rt: Runtime) -> list[dict[str, Any]]:
    records = OidcRecords(rt.directory, rt.layout).signing_keys()
    keys = [
        {"kid": k["kid"], "state": k["state"], "alg": algorithm_of(k["jwk"]), "jwk": k["jwk"]}
        for k in records
    ]
    return sorted(
        keys,
        key=lambda k: (KEY_STATES.index(k["state"]), _family(k["alg"]), k["kid"]),
    )


def _family(alg: str) -> int:
    return ALGORITHMS.index(alg) if alg in ALGORITHMS else len(ALGORITHMS)


def keys(rt: Runtime) -> list[dict[str, Any]]:
    """The signing keys, current ones first; a family without a current key (a new
    directory, or one made before ES256) gets a current and a next. Two nodes making them
    at once leave two of each: all are published and the smallest kid signs, so nothing
    breaks."""
    found = _read_keys(rt)
    missing = [
        alg
        for alg in ALGORITHMS
        if not any(k["state"] == "current" and k["alg"] == alg for k in found)
    ]
    for alg in missing:
        for state in ("current", "next"):
            _add_key(rt, _new_key(state, alg))
    return _read_keys(rt) if missing else found


def _where(rt: Runtime) -> tuple[str, ...]:
    return (rt.settings.ldap.base_dn, *rt.settings.ldap.uris)


def cached_keys(rt: Runtime, *, fresh: bool = False) -> list[dict[str, Any]]:
    """`keys`, as read at most `CACHE_SECONDS` ago by this process (`fresh`: now)."""
    where, now = _where(rt), time.monotonic()
    found = _CACHE.get(where)
    if not fresh and found is not None and now - found[0] < CACHE_SECONDS:
        return found[1]
    loaded = keys(rt)
    _CACHE[where] = (now, loaded)
    return loaded


def signing_key(rt: Runtime, alg: str = "RS256") -> dict[str, Any]:
    """The current key of `alg`'s family (as this process last read them)."""
    return next(k for k in cached_keys(rt) if k["state"] == "current" and k["alg"] == alg)


def verification_key(rt: Runtime, kid: str) -> dict[str, Any] | None:
    """The published key `kid`, or None; an unknown kid reloads the keys, at most once every
    RELOAD_SECONDS (made-up kids must not cost a directory search each)."""
    found = next((k for k in cached_keys(rt) if k["kid"] == kid), None)
    where, now = _where(rt), time.monotonic()
    if found is None and kid and now - _RELOADED.get(where, -RELOAD_SECONDS) >= RELOAD_SECONDS:
        _RELOADED[where] = now
        found = next((k for k in cached_keys(rt, fresh=True) if k["kid"] == kid), None)
    return found


def public_jwks(rt: Runtime) -> KeySetSerialization:
    return {
        "keys": [{k: v for k, v in key["jwk"].items() if k in PUBLIC_MEMBERS} for key in keys(rt)]
    }


def rotate_keys(rt: Runtime) -> dict[str, Any]:
    """In every family: next → current, current → previous, a new next; the former
    previous goes."""
    found = keys(rt)
    changes = {"previous": None, "current": "previous", "next": "current"}
    records = OidcRecords(rt.directory, rt.layout)
    for key in found:
        with contextlib.suppress(ApexError):
            records.move_key(key["kid"], key["state"], changes[key["state"]])
    for alg in ALGORITHMS:
        _add_key(rt, _new_key("next", alg))
    after = _read_keys(rt)
    _CACHE.pop(_where(rt), None)
    return {"keys": [{"kid": k["kid"], "state": k["state"], "alg": k["alg"]} for k in after]}


def imported(key: dict[str, Any]) -> Any:
    """The signing key as joserfc's object, kept per kid: importing a private JWK checks the
    key's numbers, which costs more than the rest of the token response (~80 ms for RSA); a
    kid's key never changes, and rotation adds a few kids now and then."""
    from joserfc.jwk import ECKey, RSAKey

    kid = str(key["kid"])
    found = _IMPORTED.get(kid)
    if found is None:
        kind = ECKey if key["jwk"].get("kty") == "EC" else RSAKey
        found = kind.import_key(key["jwk"])
        if len(_IMPORTED) > 16:  # rotated keys: forget the old ones
            _IMPORTED.clear()
        _IMPORTED[kid] = found
    return found
