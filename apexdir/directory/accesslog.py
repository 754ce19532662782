"""slapd's accesslog (`cn=accesslog`), as the change feed reads it: its records parsed into
`Change`s, each provider's log read on a connection of its own, a write's copy found in the
other providers' logs, and the records carrying secrets deleted. What the feed decides (what
to journal, whom to mail) is `apexdir.workflows.changefeed`; the layout of the logs with
several providers is told in its docstring.

The secrets (issue 18, item 11).

The accesslog (`cn=accesslog`, the change feed) logs every write with its values: a
password change carries the new hash (`userPassword:=`), ppolicy's history (`pwdHistory`)
and, through `logold`, the old ones (`reqOld`); a login, a reset or an invitation carries
its keyed record. OpenLDAP 2.5's overlay cannot leave attributes out (no `logattrs`: see
tests/auth/test_accesslog_secrets.py), so the records carrying one of them are deleted as
soon as the feed has read them. The feed needs none of these values: it journals attribute
names only and mails the personal-data notice from the names alone.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

from apexdir.config import LdapSettings
from apexdir.directory import filters as f
from apexdir.directory.connection import Directory, Entry
from apexdir.directory.dn import norm
from apexdir.directory.mapping import as_text
from apexdir.errors import NotFound, Unavailable

log = logging.getLogger("apexdir.daemon")

LOG_BASE = "cn=accesslog"
ATTRS = ["reqStart", "reqType", "reqDN", "reqMod", "reqOld", "reqAuthzID", "reqNewRDN",
         "reqNewSuperior", "entryCSN"]  # fmt: skip
WRITES = f.or_(*(f.eq("objectClass", c) for c in ("auditAdd", "auditModify", "auditDelete",
                                                   "auditModRDN")))  # fmt: skip
# Attributes slapd maintains by itself: a write touching only these is not a change of data.
MAINTAINED = {
    "entrycsn", "modifiersname", "modifytimestamp", "creatorsname", "createtimestamp",
    "entryuuid", "structuralobjectclass", "authtimestamp", "pwdfailuretime", "pwdlastsuccess",
    "memberof", "contextcsn", "pwdgraceusetime",
}  # fmt: skip
# The lists whose added values are mailed: a whole-list replace of them needs the copy.
NOTIFIED_LISTS = {"member", "apexdelegatedprofile"}
# The attributes whose change mails the personal-data confirmation (lower-case).
PERSONAL_DATA = {"mail", "sn", "givenname", "mobile", "userpassword"}
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


# ---------------------------------------------------------------------- the records
@dataclass
class Change:
    """One log record: a write as slapd logged it."""

    start: str
    type: str
    dn: str
    by: str
    mods: list[tuple[str, str, str | None]] = field(default_factory=list)
    old: dict[str, list[str]] = field(default_factory=dict)
    new_rdn: str | None = None
    new_superior: str | None = None
    csn: str = ""  # the write's entryCSN: the same in every provider's log
    record: str = ""  # the log entry's own DN (reqStart=…,cn=accesslog)

    @property
    def key(self) -> str:
        """What identifies the write across the providers' logs."""
        return self.csn or self.start

    @property
    def attributes(self) -> list[str]:
        """The attributes really changed (names as written), without what slapd maintains."""
        seen: dict[str, str] = {}
        for attr, _, _ in self.mods:
            if attr.lower() not in MAINTAINED:
                seen.setdefault(attr.lower(), attr)
        return sorted(seen.values(), key=str.lower)

    @property
    def secret(self) -> bool:
        """Whether the record carries a password hash or a one-time secret (in reqMod or
        reqOld): deleted once read."""
        return holds_secret([a for a, _, _ in self.mods] + list(self.old))

    def values(self, attr: str, op: str) -> list[str]:
        return [v for a, o, v in self.mods if a.lower() == attr.lower() and o == op and v]

    # What the change feed reads of a write, by meaning rather than by attribute name.
    def members(self, op: str) -> list[str]:
        """Member DNs added ("+"), removed ("-") or set whole ("=") on a group."""
        return self.values("member", op)

    def delegated(self) -> list[str]:
        """Profile DNs delegated to the account by this write."""
        return self.values("apexDelegatedProfile", "+")

    @property
    def personal_data(self) -> bool:
        """Whether the write changed an account's mail, names, mobile or password."""
        return bool(PERSONAL_DATA & {a.lower() for a in self.attributes})

    def mail_change(self, current: str) -> tuple[str, str]:
        """(old, new) address of the account; `current` where the write does not tell."""
        old = (self.old.get("mail") or [current])[0]
        new = (self.values("mail", "=") + self.values("mail", "+") or [current])[0]
        return old, new

    def replaced(self) -> set[str]:
        """The notified lists this write replaced whole (lower-case names)."""
        return {a.lower() for a, o, _ in self.mods if o == "=" and a.lower() in NOTIFIED_LISTS}

    @property
    def when(self) -> datetime:
        """When the write was made: its CSN's time (a copy is logged when it arrives)."""
        return csn_time(self.csn) if self.csn else start_time(self.start)

    @property
    def author(self) -> str:
        """Who made the change: `modifiersName` as slapd set it (for a write replicated from
        another provider, the original author, whereas `reqAuthzID` is the replication
        identity), else the bound identity."""
        names = self.values("modifiersName", "=") + self.values("modifiersName", "+")
        by = names[0] if names else self.by
        return by[3:] if by.lower().startswith("dn:") else by


def parse_mod(value: str) -> tuple[str, str, str | None]:
    """`member:+ uid=…` → ("member", "+", "uid=…"); `mobile:=` → ("mobile", "=", None)."""
    attr, _, rest = value.partition(":")
    op = rest[:1]
    payload = rest[2:] if rest[1:2] == " " else rest[1:]
    return attr.strip(), op, (payload if payload != "" else None)


def parse_old(values: list[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for value in values:
        attr, _, rest = value.partition(":")
        out.setdefault(attr.strip().lower(), []).append(rest[1:] if rest[:1] == " " else rest)
    return out


def change_from(entry: Entry) -> Change:
    return Change(
        start=as_text(entry.get("reqStart")) or "",
        type=(as_text(entry.get("reqType")) or "").lower(),
        dn=as_text(entry.get("reqDN")) or "",
        by=as_text(entry.get("reqAuthzID")) or "",
        mods=[parse_mod(as_text(v) or "") for v in entry.all("reqMod")],
        old=parse_old([as_text(v) or "" for v in entry.all("reqOld")]),
        new_rdn=as_text(entry.get("reqNewRDN")),
        new_superior=as_text(entry.get("reqNewSuperior")),
        csn=as_text(entry.get("entryCSN")) or "",
        record=entry.dn,
    )


def with_copy(change: Change, copy: Change) -> Change:
    """`change`, a whole-list replace, with the value changes of its copy from another log.

    A copy's own `:=` is syncrepl's way of saying that no old value was kept: every value
    of it is new. (If `change` is itself the copy, the other is the original replace, and
    the same holds.)
    """
    lists = change.replaced()
    kept = [m for m in change.mods if m[0].lower() not in lists]
    taken = [(a, "+" if o == "=" else o, v) for a, o, v in copy.mods if a.lower() in lists]
    # A list the copy leaves alone was replaced by the same values: written all the same.
    changed = {a.lower() for a, _, _ in taken}
    same = {a.lower(): (a, "=", None) for a, _, _ in change.mods if a.lower() in lists - changed}
    return dataclasses.replace(change, mods=kept + taken + list(same.values()))


def start_time(start: str) -> datetime:
    """`20261201061958.000001Z` (a reqStart) → its moment, to the second."""
    return datetime.strptime(start[:14], "%Y%m%d%H%M%S").replace(tzinfo=UTC)


def csn_time(csn: str) -> datetime:
    """`20261201061958.913424Z#000000#002#000000` → its moment."""
    return datetime.strptime(csn[:21], "%Y%m%d%H%M%S.%f").replace(tzinfo=UTC)


def start_value(moment: datetime) -> str:
    """A reqStart value for a filter: `YYYYmmddHHMMSS.000000Z`."""
    return moment.astimezone(UTC).strftime("%Y%m%d%H%M%S") + ".000000Z"


def read_log(directory: Directory, since: str) -> Iterator[Change]:
    """Log entries from `since`, page by page, in the order slapd wrote them (entry ids):
    a backlog of days is streamed, never held in memory at once."""
    entries = directory.iter_search(
        LOG_BASE, f.and_(WRITES, f.ge("reqStart", since)), ATTRS, scope="one"
    )
    return (change_from(e) for e in entries)


def newest_after(directory: Directory, last: str) -> tuple[str | None, int]:
    """The reqStart of the newest write logged after `last`, and how many there are: what
    a feed whose cursor is at `last` has still to read (read as it is, page by page)."""
    entries = directory.iter_search(
        LOG_BASE, f.and_(WRITES, f.ge("reqStart", last)), ["reqStart"], scope="one"
    )
    newest, count = None, 0
    for entry in entries:
        start = as_text(entry.get("reqStart")) or ""
        if start > last:
            newest, count = max(newest or start, start), count + 1
    return newest, count


# ---------------------------------------------------------------------- the providers
class Providers:
    """One connection per provider of `ldap.uris`, to read its log alone; a provider that
    fails is left alone for the rest of the pass (`down`, logged once)."""

    def __init__(self, settings: LdapSettings) -> None:
        self.settings = settings
        self.uris = list(dict.fromkeys(settings.uris))
        self.down: dict[str, str] = {}
        self._open: dict[str, Directory] = {}

    def directory(self, uri: str) -> Directory:
        if uri not in self._open:
            self._open[uri] = Directory(self.settings.model_copy(update={"uris": [uri]}))
        return self._open[uri]

    def failed(self, uri: str, error: Exception) -> None:
        if uri not in self.down:
            log.warning("change feed: %s skipped this pass: %s", uri, error)
        self.down[uri] = str(error)

    def copy_of(self, change: Change, uri: str) -> Change | None:
        """The same write (same CSN) in another provider's log, if one holds it yet."""
        for other in self.uris:
            if other == uri or other in self.down:
                continue
            try:
                found = self.directory(other).search(
                    LOG_BASE, f.and_(WRITES, f.eq("entryCSN", change.csn)), ATTRS, scope="one"
                )
            except Unavailable as exc:
                self.failed(other, exc)
                continue
            for entry in found:
                copy = change_from(entry)
                if norm(copy.dn) == norm(change.dn):
                    return copy
        return None

    def close(self) -> None:
        for directory in self._open.values():
            directory.close()
