"""Password hashes in the forms slapd verifies at bind time.

apexdir hashes a password itself only where slapd cannot: the password an invitee chooses
is held, hashed, in the pending request until a validator accepts it. Every later change
goes through the password-modify operation, where slapd hashes and ppolicy checks.
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets

# Why PBKDF2-SHA512 and not {ARGON2}: Debian's slapd 2.5.13 argon2 module stores the hashes
# it computes with two stray trailing bytes (see MEASUREMENTS.md), and every password change
# goes through slapd (password-modify, so that ppolicy checks history and quality). pw-pbkdf2
# writes clean values, Python's stdlib computes the identical form, and both verify at bind.
# slapd's module hashes with 10,000 iterations; apexdir uses the same for one cost everywhere.
SCHEME = "{PBKDF2-SHA512}"
ITERATIONS = 10_000


def ssha(secret: str) -> str:
    """{SSHA}: only for random machine secrets (high entropy), never for people's passwords."""
    salt = os.urandom(8)
    digest = hashlib.sha1(secret.encode() + salt).digest()
    return "{SSHA}" + base64.b64encode(digest + salt).decode()


def _ab64(data: bytes) -> str:
    """The adapted base64 of pw-pbkdf2: '.' for '+', no padding."""
    return base64.b64encode(data).decode().rstrip("=").replace("+", ".")


def pbkdf2_sha512(password: str, *, iterations: int = ITERATIONS) -> str:
    """{PBKDF2-SHA512}, exactly as slapd's pw-pbkdf2 module writes and verifies it."""
    salt = os.urandom(16)
    key = hashlib.pbkdf2_hmac("sha512", password.encode("utf-8"), salt, iterations)
    return f"{SCHEME}{iterations}${_ab64(salt)}${_ab64(key)}"


def random_secret(nbytes: int = 24) -> str:
    return secrets.token_urlsafe(nbytes)
