"""Access tokens: self-contained JWTs (RFC 9068), signed and verified here, stored nowhere.

Issuing one writes nothing: the token carries what userinfo needs — its client, its
subject, its scope, when it ends — signed with the provider's ES256 key (`keys`), and
userinfo checks the signature instead of looking the token up. Every node verifies what any
node signed (the keys are the directory's). What must stay single-use across nodes, the
authorization code, stays in the directory (`store`).

What a stored token gave and a signature alone does not, and how it is kept:
- the end of the sessions (logout, password change, suspension): the token carries a digest
  of the account's session generation (`apexSessionGeneration`, never the value itself:
  the relying party reads the token), and userinfo, which reads the account anyway, refuses
  a token whose generation is no longer the account's;
- revoking the token of a replayed code (RFC 6749 §4.1.2): the replay ends the account's
  sessions (`store.revoke_issued`), which revokes its tokens by the check above.

Claims (RFC 9068 §2.2): `iss`; `aud` the issuer itself — userinfo is the only resource
that accepts them, and no relying party takes such a token for an ID token (whose `aud` is
its client_id, and whose `typ` is not `at+jwt`); `sub`; `client_id`; `scope`; `iat`,
`exp`; `jti`; `auth_time`; `apex_sgen`, the generation's digest.
"""

from __future__ import annotations

import secrets
from typing import Any

from apexdir.oidc import keys
from apexdir.oidc.models import Subject, generation_digest
from apexdir.runtime import Runtime

TYP = "at+jwt"
# One family for every client: the tokens are read by the provider only, and ES256 signs
# ≈ 6× faster than RS256 (2048): signing and verifying cost 0.4 ms against 1.1 ms here.
ALG = "ES256"
SECONDS = 300
# A token longer than this was not made here (a signed token is ≈ 600 characters).
LONGEST = 4096
# Clocks of the nodes may differ by this much (NTP keeps them far closer).
LEEWAY = 30


def issue(rt: Runtime, issuer: str, client_id: str, subject: Subject, scope: str) -> str:
    """A signed access token of `client_id` for `subject`, under the account's current
    session generation."""
    from joserfc import jwt

    key = keys.signing_key(rt, ALG)
    now = int(rt.clock().timestamp())
    claims = {
        "iss": issuer,
        "aud": issuer,
        "sub": subject.sub,
        "client_id": client_id,
        "scope": scope,
        "iat": now,
        "exp": now + SECONDS,
        "jti": secrets.token_urlsafe(16),
        "auth_time": int(subject.auth_time),
        "apex_sgen": generation_digest(subject.account.session_generation),
    }
    header = {"alg": ALG, "typ": TYP, "kid": key["kid"]}
    return jwt.encode(header, claims, keys.imported(key), [ALG])


def verify(rt: Runtime, issuer: str, token: str) -> dict[str, Any] | None:
    """The claims of a token this provider signed, unexpired, or None (whatever is wrong:
    a bad signature, another type or audience, an unknown key, expired, malformed)."""
    from joserfc import jwt
    from joserfc.errors import JoseError
    from joserfc.jws import extract_compact

    if not token or len(token) > LONGEST or token.count(".") != 2:
        return None
    try:
        header = extract_compact(token.encode()).protected
        if header.get("typ") != TYP or header.get("alg") != ALG:
            return None
        key = keys.verification_key(rt, str(header.get("kid") or ""))
        if key is None or key["alg"] != ALG:  # an RS256 key's kid under ES256: not ours
            return None
        claims = jwt.decode(token, keys.imported(key), [ALG]).claims
    except (JoseError, ValueError, TypeError, KeyError):
        return None
    now = rt.clock().timestamp()
    fields_ok = (
        claims.get("iss") == issuer
        and claims.get("aud") == issuer
        and isinstance(claims.get("sub"), str)
        and isinstance(claims.get("client_id"), str)
        and isinstance(claims.get("exp"), int)
        and isinstance(claims.get("iat"), int)
    )
    if not fields_ok or now >= claims["exp"] or claims["iat"] > now + LEEWAY:
        return None
    return dict(claims)
