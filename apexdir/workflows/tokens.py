"""Opaque single-use secrets: `<id>.<secret>`; only a hash of the secret is stored.

The id finds the record; the secret is compared, hashed, in constant time.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets


def new_secret(nbytes: int = 32) -> str:
    """At least 128 random bits; 256 by default."""
    return secrets.token_urlsafe(nbytes)


def derived(key: bytes, label: str) -> str:
    """A secret that whoever holds `key` can make again from `label` (256 bits, URL-safe):
    a link that must be sent twice, whose secret is stored only as its digest."""
    raw = hmac.new(key, b"derived:" + label.encode("utf-8"), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


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


def seal(key: bytes, value: bytes) -> str:
    """`value` hidden under `key`, different at every call (a random nonce), readable back
    only with the key: a public handle that names something without telling what.

    A stream cipher built from HMAC-SHA256 as a PRF (nonce → pad); nothing here needs
    integrity, since whatever the handle names is then checked against a stored record.
    """
    nonce = secrets.token_bytes(8)
    pad = hmac.new(key, b"seal:" + nonce, hashlib.sha256).digest()
    if len(value) > len(pad):
        raise ValueError("value too long to seal")
    hidden = bytes(a ^ b for a, b in zip(value, pad, strict=False))
    # Hexadecimal, not base64: a handle starting with "-" would read as an option on the
    # command line (`apexdir password reset ID TOKEN`).
    return (nonce + hidden).hex()


def unseal(key: bytes, handle: str, size: int) -> bytes | None:
    """The value `seal` hid in `handle`, or None when it cannot be one of `size` bytes."""
    try:
        raw = bytes.fromhex(handle)
    except ValueError:
        return None
    if len(raw) != 8 + size:
        return None
    pad = hmac.new(key, b"seal:" + raw[:8], hashlib.sha256).digest()
    return bytes(a ^ b for a, b in zip(raw[8:], pad, strict=False))
