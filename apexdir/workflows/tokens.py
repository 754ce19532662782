"""Opaque single-use secrets: `<id>.<secret>`; only a hash of the secret is stored.

The id finds the record; the secret is compared, hashed, in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets


def new_secret(nbytes: int = 32) -> str:
    """At least 128 random bits; 256 by default."""
    return secrets.token_urlsafe(nbytes)


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def matches(secret: str, stored_digest: str | None) -> bool:
    if not stored_digest:
        return False
    return hmac.compare_digest(digest(secret), stored_digest)


def split(token: str) -> tuple[str, str]:
    """`<id>.<secret>` → (id, secret); anything else gives ("", "")."""
    ident, sep, secret = token.strip().partition(".")
    if not sep or not ident or not secret:
        return "", ""
    return ident, secret
