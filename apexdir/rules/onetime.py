"""Single-use secrets held on an account entry: login codes, reset codes and reset links.

The entry never holds the secret, only a record of it (an IA5 string, SPEC §7):

    v2;<kind>;<id>;<salt>;<digest>;<expiry GeneralizedTime>;<tries left>;<extra>

- digest: HMAC-SHA256(key, "<salt>:<secret>"), hexadecimal;

- kind: `login` (apexLoginCode), `sms` or `mail` (apexResetSecret);
- id: the public half of a link token (`<id>.<secret>`), `-` for a code;
- extra: for a login, the account's last login before this one (lastbind's authTimestamp
  moves at every bind, so it is captured before the password is checked), or `-`.

A 6-digit code has only 10^6 values: a salted plain hash (format v1, before issue 12) is
reversed offline in a second by whoever reads the entry, the accesslog or a backup. The
digest is therefore an HMAC under a key kept outside the directory (`[ldap]
secrets_key_file`, LdapSettings.secrets_key): without the key, a record tells nothing.
A v1 record is no record any more (void; housekeeping sweeps it once expired). Pure
functions only: the clock and the key are parameters.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import Enum

from apexdir.clock import from_generalized_time, to_generalized_time

VERSION = "v2"
CODE_DIGITS = 6
KINDS = ("login", "sms", "mail")


class Verdict(Enum):
    OK = "ok"
    WRONG = "wrong"
    EXPIRED = "expired"
    EXHAUSTED = "exhausted"


def new_code() -> str:
    """A code of 6 decimal digits, leading zeros included, from the OS's CSPRNG."""
    return f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"


def normalize_code(value: str) -> str:
    """What a person types: spaces, dots and dashes between the digits are ignored."""
    return "".join(ch for ch in value.strip() if ch not in " .-\u00a0")


def _digest(key: bytes, salt: str, secret: str) -> str:
    return hmac.new(key, f"{salt}:{secret}".encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Record:
    kind: str
    ident: str
    salt: str
    digest: str
    expires_at: datetime
    tries: int
    extra: str = "-"

    def format(self) -> str:
        expiry = to_generalized_time(self.expires_at)
        fields = [VERSION, self.kind, self.ident, self.salt, self.digest, expiry]
        return ";".join([*fields, str(self.tries), self.extra])

    @property
    def extra_time(self) -> datetime | None:
        """`extra` read as a moment (the previous login of a login code), if it is one."""
        if self.extra in ("", "-"):
            return None
        try:
            return from_generalized_time(self.extra)
        except ValueError:
            return None


def issue(kind: str, secret: str, *, key: bytes, now: datetime, validity: timedelta,
          tries: int, ident: str = "-", extra: str = "-") -> Record:  # fmt: skip
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}")
    salt = secrets.token_hex(8)
    return Record(kind, ident or "-", salt, _digest(key, salt, secret), now + validity, tries,
                  extra or "-")  # fmt: skip


def parse(value: str | bytes | None) -> Record | None:
    """The record, or None for anything malformed (a malformed record is no record)."""
    if value is None:
        return None
    text = value.decode("ascii", "replace") if isinstance(value, bytes) else str(value)
    parts = text.split(";")
    if len(parts) != 8 or parts[0] != VERSION or parts[1] not in KINDS:
        return None
    try:
        return Record(parts[1], parts[2], parts[3], parts[4], from_generalized_time(parts[5]),
                      int(parts[6]), parts[7])  # fmt: skip
    except ValueError:
        return None


def check(record: Record, secret: str, now: datetime, *, key: bytes) -> Verdict:
    """Whether `secret` redeems `record` now. The digest comparison is constant-time, and
    it runs even when the record is spent, so every answer costs the same."""
    matches = hmac.compare_digest(_digest(key, record.salt, secret), record.digest)
    if record.tries <= 0:
        return Verdict.EXHAUSTED
    if now >= record.expires_at:
        return Verdict.EXPIRED
    return Verdict.OK if matches else Verdict.WRONG


def after_failure(record: Record) -> Record | None:
    """The record with one try less; None once no try is left (the secret is void)."""
    left = record.tries - 1
    return replace(record, tries=left) if left > 0 else None
