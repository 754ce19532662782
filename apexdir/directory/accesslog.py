"""The secrets slapd's accesslog must not keep, and their removal (issue 18, item 11).

The accesslog (`cn=accesslog`, the change feed) logs every write with its values: a
password change carries the new hash (`userPassword:=`), ppolicy's history (`pwdHistory`)
and, through `logold`, the old ones (`reqOld`); a login, a reset or an invitation carries
its keyed record. OpenLDAP 2.5's overlay cannot leave attributes out (no `logattrs`: see
tests/auth/test_accesslog_secrets.py), so the records carrying one of them are deleted as
soon as the feed has read them. The feed needs none of these values: it journals attribute
names only and mails the personal-data notice from the names alone.
"""

from __future__ import annotations

from collections.abc import Iterable

from apexdir.directory import filters as f
from apexdir.directory.connection import Directory
from apexdir.errors import NotFound

LOG_BASE = "cn=accesslog"
# As slapd writes them in reqMod and reqOld (the schema's names, whatever the client sent).
SECRET_NAMES = (
    "userPassword",  # the hash slapd or apexdir computed
    "pwdHistory",  # ppolicy's copy of the former hashes
    "apexPendingPassword",  # the hash chosen on the pré-création form
    "apexLoginCode",  # keyed HMAC records of the login and reset codes
    "apexResetSecret",
    "apexTokenHash",  # SHA-256 of an invitation link's secret
)
# Lower-case, as the feed compares them.
SECRET_ATTRIBUTES = frozenset(name.lower() for name in SECRET_NAMES)


def holds_secret(attributes: Iterable[str]) -> bool:
    """Whether a log record naming these attributes (in reqMod or reqOld) carries a secret."""
    return any(name.lower() in SECRET_ATTRIBUTES for name in attributes)


def secret_filter() -> str:
    """The log records naming a secret (reqMod and reqOld have substring matching)."""
    return f.or_(
        *(f.starts(attr, f"{name}:") for name in SECRET_NAMES for attr in ("reqMod", "reqOld"))
    )


def sweep(directory: Directory, *, until: str) -> int:
    """Delete every record carrying a secret logged up to `until` (a reqStart): what the
    feed will never read, when it starts at the end of a log. How many were deleted."""
    found = directory.iter_search(
        LOG_BASE, f.and_(secret_filter(), f.le("reqStart", until)), ["1.1"], scope="one"
    )
    return sum(purge_record(directory, entry.dn) for entry in list(found))


def purge_record(directory: Directory, record_dn: str) -> bool:
    """Delete one log record; False when it is already gone (another pass, logpurge)."""
    try:
        directory.delete(record_dn)
    except NotFound:
        return False
    return True
