"""The change feed: tail slapd's accesslog, journal every write, notify what apexdir did not.

slapd's accesslog overlay (suffix `cn=accesslog`, readable only by apexdir's account) logs
every successful write with who made it (`reqAuthzID`), what (`reqMod`, `attr:+ value`,
`attr:- value`, `attr:= value`) and, for accounts, the old personal data (`reqOld`). So a
change made by any LDAP client — `ldapmodify` by an agent, an application, a script — is
journaled and, where the workflows would have mailed, mailed the same way:

- a member added to a profile group → "Attribution de profils applicatifs" to that partner;
- a profile delegated to a responsable → "Délégation de profils applicatifs";
- an account's personal data changed (mail, names, mobile, password) → the personal-data
  confirmation, to the old and the new address when the mail changed.

apexdir's own writes (made as `ldap.bind_dn`) are journaled only: the workflow that made
them already mailed. The author is the entry's `modifiersName` as slapd set it, which stays
the original author when the write was replicated from another provider (the log's
`reqAuthzID` is then the replication identity, docs/replication.md). Writes that change
nothing but what slapd maintains itself (lastbind's `authTimestamp`, ppolicy's failure
times, modifiersName…) are not journaled, nor are the scheduler lease renewals. Values are
never journaled, only attribute names (and the member DNs of group changes): reqMod carries
password hashes and one-time code records.

Cursor: `reqStart` (the accesslog RDN, increasing, indexed) of the last entry handled, kept
in the state store. Each pass re-reads an overlap of a few seconds before it, because an
operation is logged when it ends but keyed by when it started. What was already handled is
known from the journal itself: each change is journaled (with its reqStart) and mailed in
one local transaction, and a re-read change already journaled is skipped — so a crash, or
a cursor saved late, re-reads a change but never notifies it twice. Writes that are not
journaled (slapd's own bookkeeping) are simply ignored again. The first pass starts at
the current end of the log (no flood of old changes). The log is purged by slapd after 7
days (`logpurge`): a daemon stopped longer misses what was purged.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from apexdir.clock import Clock, system_clock
from apexdir.config import Settings
from apexdir.daemon.jobs.common import Mail, Stop, commit, never, one_pass, text
from apexdir.directory import filters as f
from apexdir.directory.layout import first_rdn_value
from apexdir.directory.mapping import parent_dn
from apexdir.mail.render import PARIS
from apexdir.runtime import Runtime
from apexdir.state.db import guarded, iso
from apexdir.state.jobs import get_cursor, set_cursor
from apexdir.state.journal import Journal

JOB = "changes"
LOG_BASE = "cn=accesslog"
OVERLAP = timedelta(seconds=5)
# A long backlog saves its progress now and then (a crash re-reads, the journal dedupes).
SAVE_EVERY = 500
ATTRS = ["reqStart", "reqType", "reqDN", "reqMod", "reqOld", "reqAuthzID", "reqNewRDN",
         "reqNewSuperior"]  # fmt: skip
WRITES = f.or_(*(f.eq("objectClass", c) for c in ("auditAdd", "auditModify", "auditDelete",
                                                   "auditModRDN")))  # fmt: skip
# Attributes slapd maintains by itself: a write touching only these is not a change of data.
MAINTAINED = {
    "entrycsn", "modifiersname", "modifytimestamp", "creatorsname", "createtimestamp",
    "entryuuid", "structuralobjectclass", "authtimestamp", "pwdfailuretime", "pwdlastsuccess",
    "memberof", "contextcsn", "pwdgraceusetime",
}  # fmt: skip
PERSONAL = {"mail", "sn", "givenname", "mobile", "userpassword"}


# ---------------------------------------------------------------------- DNs
def _rdns(dn: str) -> list[str]:
    parts, current, i = [], [], 0
    while i < len(dn):
        ch = dn[i]
        if ch == "\\" and i + 1 < len(dn):
            current.append(dn[i : i + 2])
            i += 2
            continue
        if ch == ",":
            parts.append("".join(current).strip())
            current = []
        else:
            current.append(ch)
        i += 1
    parts.append("".join(current).strip())
    return [p for p in parts if p]


def norm(dn: str) -> str:
    """A DN for comparisons: RDNs trimmed, attribute names and values lower-cased."""
    return ",".join(
        "=".join(side.strip() for side in rdn.split("=", 1)) for rdn in _rdns(dn.lower())
    )


def is_child(dn: str, parent: str) -> bool:
    """Whether `dn` sits directly under `parent`."""
    rdns = _rdns(norm(dn))
    return len(rdns) > 1 and ",".join(rdns[1:]) == norm(parent)


def is_profile(dn: str, applications_dn: str) -> bool:
    rdns = _rdns(norm(dn))
    return len(rdns) > 2 and ",".join(rdns[2:]) == norm(applications_dn)


# ---------------------------------------------------------------------- the log
@dataclass
class Change:
    start: str
    type: str
    dn: str
    by: str
    mods: list[tuple[str, str, str | None]] = field(default_factory=list)
    old: dict[str, list[str]] = field(default_factory=dict)
    new_rdn: str | None = None
    new_superior: str | None = None

    @property
    def attributes(self) -> list[str]:
        """The attributes really changed (names as written), without what slapd maintains."""
        seen: dict[str, str] = {}
        for attr, _, _ in self.mods:
            if attr.lower() not in MAINTAINED:
                seen.setdefault(attr.lower(), attr)
        return sorted(seen.values(), key=str.lower)

    def values(self, attr: str, op: str) -> list[str]:
        return [v for a, o, v in self.mods if a.lower() == attr.lower() and o == op and v]

    @property
    def when(self) -> datetime:
        return start_time(self.start)

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


def change_from(entry: Any) -> Change:
    return Change(
        start=text(entry.get("reqStart")) or "",
        type=(text(entry.get("reqType")) or "").lower(),
        dn=text(entry.get("reqDN")) or "",
        by=text(entry.get("reqAuthzID")) or "",
        mods=[parse_mod(text(v) or "") for v in entry.all("reqMod")],
        old=parse_old([text(v) or "" for v in entry.all("reqOld")]),
        new_rdn=text(entry.get("reqNewRDN")),
        new_superior=text(entry.get("reqNewSuperior")),
    )


def start_time(start: str) -> datetime:
    return datetime.strptime(start[:14], "%Y%m%d%H%M%S").replace(tzinfo=UTC)


def start_value(moment: datetime) -> str:
    """A reqStart value for a filter: `YYYYmmddHHMMSS.000000Z`."""
    return moment.astimezone(UTC).strftime("%Y%m%d%H%M%S") + ".000000Z"


# ---------------------------------------------------------------------- the cursor
@dataclass
class Cursor:
    last: str  # reqStart of the latest change read
    floor: str  # where the feed started: nothing before it is ever read

    def since(self) -> str:
        """Where the next read starts: the overlap before `last`, never before `floor`."""
        return max(self.floor, start_value(start_time(self.last) - OVERLAP))

    def advance(self, start: str) -> None:
        self.last = max(self.last, start)

    def dump(self) -> str:
        return json.dumps({"last": self.last, "floor": self.floor})

    @classmethod
    def load(cls, raw: str | None) -> Cursor | None:
        if not raw:
            return None
        try:
            data = json.loads(raw)
            return cls(str(data["last"]), str(data.get("floor") or data["last"]))
        except (ValueError, KeyError, TypeError):
            return None


def read_log(rt: Runtime, since: str) -> Iterator[Change]:
    """Log entries from `since`, page by page, in the order slapd wrote them (entry ids):
    a backlog of days is streamed, never held in memory at once."""
    entries = rt.directory.iter_search(
        LOG_BASE, f.and_(WRITES, f.ge("reqStart", since)), ATTRS, scope="one"
    )
    return (change_from(e) for e in entries)


def journaled_since(rt: Runtime, since: str) -> set[str]:
    """reqStart of the changes already journaled from `since` on."""
    with guarded(rt.db, "read the journal"):
        rows = rt.db.execute(
            "SELECT json_extract(details, '$.at') FROM journal"
            " WHERE at >= ? AND action LIKE 'ldap.%'",
            [iso(start_time(since))],
        ).fetchall()
    return {str(row[0]) for row in rows if row[0]}


def _save(rt: Runtime, cursor: Cursor) -> None:
    set_cursor(rt.db, JOB, cursor.dump(), clock=rt.clock)


def start(rt: Runtime) -> Cursor:
    """The first pass: the current end of the log becomes the cursor."""
    now = start_value(rt.clock())
    last = now
    # Changes of the last seconds (the next pass's overlap) are before the feed's start.
    for change in read_log(rt, start_value(rt.clock() - OVERLAP)):
        last = max(last, change.start)
    cursor = Cursor(last, floor=last)
    _save(rt, cursor)
    return cursor


# ---------------------------------------------------------------------- one change
class Feed:
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.layout = rt.layout
        self.own = norm(rt.settings.ldap.bind_dn)
        self._apps: dict[str, str] = {}

    def ignored(self, change: Change) -> bool:
        if norm(change.dn) == norm(self.layout.lease_dn):
            return True
        # The OpenID Connect provider's codes and tokens: bookkeeping of every login to an
        # application (three writes each), not changes anyone needs to read in the journal.
        if is_child(change.dn, self.layout.oidc_codes_dn) or is_child(
            change.dn, self.layout.oidc_tokens_dn
        ):
            return True
        return change.type == "modify" and not change.attributes

    def is_own(self, change: Change) -> bool:
        return norm(change.author) == self.own

    def _account(self, dn: str) -> tuple[str, str] | None:
        """(identifier, mail) of an account DN, or None if it is not (or no longer) one."""
        if not is_child(dn, self.layout.people_dn):
            return None
        entry = self.rt.directory.get(dn, ["uid", "mail"])
        if entry is None or not entry.get("mail"):
            return None
        return text(entry.get("uid")) or first_rdn_value(dn), text(entry.get("mail")) or ""

    def _application(self, profile_dn: str) -> str:
        app_dn = parent_dn(profile_dn)
        key = norm(app_dn)
        if key not in self._apps:
            entry = self.rt.directory.get(app_dn, ["cn", "apexAppCode"])
            name = text(entry.get("cn")) if entry else None
            self._apps[key] = name or first_rdn_value(app_dn)
        return self._apps[key]

    def notifications(self, change: Change) -> list[Mail]:
        mails: list[Mail] = []
        if change.type in ("add", "modify") and is_profile(change.dn, self.layout.applications_dn):
            for member in change.values("member", "+"):
                account = self._account(member)
                if account:
                    application = self._application(change.dn)
                    mails.append(Mail("attribution", [account[1]], {"application": application}))
        if change.type == "modify" and is_child(change.dn, self.layout.people_dn):
            for profile in change.values("apexDelegatedProfile", "+"):
                account = self._account(change.dn)
                if account and is_profile(profile, self.layout.applications_dn):
                    application = self._application(profile)
                    mails.append(Mail("delegation", [account[1]], {"application": application}))
            if PERSONAL & {a.lower() for a in change.attributes}:
                mails += self._personal_data(change)
        return mails

    def _personal_data(self, change: Change) -> list[Mail]:
        account = self._account(change.dn)
        if account is None:
            return []
        identifier, current = account
        old = (change.old.get("mail") or [current])[0]
        new = (change.values("mail", "=") + change.values("mail", "+") or [current])[0]
        recipients = [old]
        if new and new.lower() != old.lower():
            recipients.append(new)
        moment = change.when.astimezone(PARIS)
        context = {
            "date": moment.strftime("%d/%m/%Y"),
            "heure": moment.strftime("%H:%M:%S"),
            "identifiant": identifier,
        }
        return [Mail("personal_data", [address], dict(context)) for address in recipients]

    def details(self, change: Change, own: bool, mails: list[Mail]) -> dict[str, Any]:
        details: dict[str, Any] = {
            "at": change.start,
            "by": change.author or None,
            "attributes": change.attributes,
            "apexdir": own,
        }
        for key, op in (("members_added", "+"), ("members_removed", "-")):
            members = change.values("member", op)
            if members:
                details[key] = members
        if change.new_rdn:
            details["new_rdn"] = change.new_rdn
            details["new_superior"] = change.new_superior
        if mails:
            details["notified"] = sorted({m.template for m in mails})
        return details

    def actor(self, change: Change) -> str | None:
        """The partner who made the change himself (an account bound to LDAP), if so."""
        by = change.author
        return first_rdn_value(by) if by and is_child(by, self.layout.people_dn) else None

    def handle(self, change: Change) -> int | None:
        """Journal the change and queue its mails, in one transaction.

        Returns how many mails were queued, None for a change that is not journaled.
        """
        if self.ignored(change):
            return None
        own = self.is_own(change)
        mails = [] if own else self.notifications(change)
        journal = Journal(self.rt.db, clock=lambda: change.when)
        details = self.details(change, own, mails)
        operator = f"ldap:{change.author}" if change.author else "ldap:anonymous"

        def record() -> None:
            journal.record(
                f"ldap.{change.type}",
                change.dn,
                actor=self.actor(change),
                operator=operator,
                details=details,
            )

        commit(self.rt, mails, [], also=record)
        return len(mails)


def run(rt: Runtime, *, stop: Stop = never) -> dict[str, Any]:
    cursor = Cursor.load(get_cursor(rt.db, JOB))
    if cursor is None:
        cursor = start(rt)
        return {"started_at": cursor.last, "changes": 0, "notified": 0}
    since = cursor.since()
    handled = journaled_since(rt, since)
    feed = Feed(rt)
    counts = {"changes": 0, "notified": 0}
    try:
        for read, change in enumerate(read_log(rt, since), start=1):
            if stop():
                break
            if change.start not in handled:
                notified = feed.handle(change)
                if notified is not None:
                    counts["changes"] += 1
                    counts["notified"] += notified
            cursor.advance(change.start)
            if read % SAVE_EVERY == 0:
                _save(rt, cursor)
    except BaseException:
        with contextlib.suppress(Exception):  # keep what was done; the error is what matters
            _save(rt, cursor)
        raise
    _save(rt, cursor)
    return counts


def run_once(
    settings: Settings, clock: Clock = system_clock, *, stop: Stop | None = None
) -> dict[str, Any]:
    """`apexdir daemon run-once changes`."""
    return one_pass(settings, clock, run, stop)
