"""Password hashes in the forms slapd verifies at bind time.

apexdir hashes a password itself only where slapd cannot: the password an invitee chooses
is held, hashed, in the pending request until a validator accepts it. Every later change
goes through the password-modify operation, where slapd hashes and ppolicy checks.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import secrets

# Passwords are {ARGON2}, OWASP's memory cost (issue 12): m=19 MiB, t=2, p=1, set on the
# module line (`moduleload argon2 m=19456 t=2 p=1`). Why not {PBKDF2-SHA512} any more:
# Debian's slapd 2.5.13 pw-pbkdf2 hashes with 10,000 iterations and ignores an iterations
# argument (tried: `slappasswd -o module-load="pw-pbkdf2.so 210000"` still writes 10000),
# far below OWASP's 210,000; every password change goes through slapd (password-modify, so
# that ppolicy checks history and quality), so slapd's own hash is what most entries carry.
# The argon2 module's trap (MEASUREMENTS.md), understood: slapd writes argon2**i** with a
# buffer sized for argon2id plus the terminator, so the value it stores ends with "\x00"
# and one stray byte. Verification reads it as a C string (binds verify, after restarts and
# on replicas: syncrepl copies the value as it is); an export to another product must cut
# the value at its first NUL (`clean`). apexdir's own hashes (pending creations, the decoy)
# are argon2id from argon2-cffi, clean, and slapd verifies them with the same cost.
# pw-pbkdf2 stays loaded: values written before still verify, and are replaced by argon2
# at the next password change.
SCHEME = "{ARGON2}"
ARGON2_MEMORY_KIB = 19_456
ARGON2_TIME = 2
ARGON2_PARALLELISM = 1
# The cost apexdir hashes with: (memory in KiB, passes). The tests lower it (tests/conftest.py).
COST = (ARGON2_MEMORY_KIB, ARGON2_TIME)


def argon2_module(cost: tuple[int, int] = (ARGON2_MEMORY_KIB, ARGON2_TIME)) -> str:
    """slapd's module line for argon2 at `cost` (memory in KiB, passes): the product's cost
    unless a test directory asks for its lower one."""
    return f"argon2 m={cost[0]} t={cost[1]} p={ARGON2_PARALLELISM}"


ARGON2_MODULE = argon2_module()
ITERATIONS = 10_000  # pw-pbkdf2's fixed count (values written before issue 12)
PBKDF2_SCHEME = "{PBKDF2-SHA512}"


def ssha(secret: str) -> str:
    """{SSHA}: only for random machine secrets (high entropy), never for people's passwords."""
    salt = os.urandom(8)
    digest = hashlib.sha1(secret.encode() + salt).digest()
    return "{SSHA}" + base64.b64encode(digest + salt).decode()


def _ab64(data: bytes) -> str:
    """The adapted base64 of pw-pbkdf2: '.' for '+', no padding."""
    return base64.b64encode(data).decode().rstrip("=").replace("+", ".")


def password_hash(password: str) -> str:
    """{ARGON2} argon2id with the module's cost: what slapd verifies as it verifies its own."""
    from argon2.low_level import Type, hash_secret

    encoded = hash_secret(
        password.encode("utf-8"),
        os.urandom(16),
        time_cost=COST[1],
        memory_cost=COST[0],
        parallelism=ARGON2_PARALLELISM,
        hash_len=32,
        type=Type.ID,
    )
    return SCHEME + encoded.decode("ascii")


def clean(value: str | bytes) -> str:
    """A stored userPassword as a clean string: cut at the first NUL (slapd's argon2 module
    appends "\x00" and a stray byte to the hashes it computes)."""
    text = value.decode("utf-8", "replace") if isinstance(value, bytes) else value
    return text.split("\x00", 1)[0]


def pbkdf2_sha512(password: str, *, iterations: int = ITERATIONS) -> str:
    """{PBKDF2-SHA512}, exactly as slapd's pw-pbkdf2 module writes and verifies it."""
    salt = os.urandom(16)
    key = hashlib.pbkdf2_hmac("sha512", password.encode("utf-8"), salt, iterations)
    return f"{PBKDF2_SCHEME}{iterations}${_ab64(salt)}${_ab64(key)}"


def random_secret(nbytes: int = 24) -> str:
    return secrets.token_urlsafe(nbytes)


def verify(stored: str | bytes, password: str) -> bool:
    """Whether `password` is the one `stored` (a userPassword value) was made from, for the
    schemes apexdir's directories hold: {ARGON2} (argon2i as slapd writes it, argon2id as
    apexdir does) and {PBKDF2-SHA512}. Any other scheme answers False.

    Used only where slapd cannot answer: an account under ppolicy's administrative lock is
    refused before its password is checked, yet a partner of a closed structure who types
    the right one is told why he cannot log in (a wrong one gets the usual refusal). The
    cost is slapd's own (same argon2 parameters, read from the value), so the answer takes
    the time of a bind."""
    value = clean(stored)
    if value.startswith(SCHEME):
        from argon2.exceptions import VerificationError, VerifyMismatchError
        from argon2.low_level import Type, verify_secret

        encoded = value[len(SCHEME) :]
        kind = Type.ID if encoded.startswith("$argon2id$") else Type.I
        try:
            return verify_secret(encoded.encode("ascii"), password.encode("utf-8"), kind)
        except (VerifyMismatchError, VerificationError, ValueError):
            return False
    if value.startswith(PBKDF2_SCHEME):
        iterations, _, rest = value[len(PBKDF2_SCHEME) :].partition("$")
        salt, _, key = rest.partition("$")
        try:
            raw_salt, raw_key = _ab64_decode(salt), _ab64_decode(key)
            rounds = int(iterations)
        except (ValueError, binascii.Error):
            return False
        digest = hashlib.pbkdf2_hmac("sha512", password.encode("utf-8"), raw_salt, rounds)
        return hmac.compare_digest(digest, raw_key)
    return False


def _ab64_decode(text: str) -> bytes:
    padded = text.replace(".", "+")
    return base64.b64decode(padded + "=" * (-len(padded) % 4), validate=True)
