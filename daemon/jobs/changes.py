"""The change feed: tail slapd's accesslog, journal every write, notify what apexdir did not.

slapd's accesslog overlay (suffix `cn=accesslog`, readable only by apexdir's account) logs
every successful write with who made it (`reqAuthzID`), what (`reqMod`, `attr:+ value`,
`attr:- value`, `attr:= value`) and, for accounts, the old personal data (`reqOld`). So a
change made by any LDAP client — `ldapmodify` by an agent, an application, a script — is
journaled and, where the workflows would have mailed, mailed the same way:

- a member added to a profile group → "Attribution de profils applicatifs" to that partner;
  removed → "Retrait de profils applicatifs";
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

Every provider's log. Each slapd provider logs in its own accesslog (not replicated) the
writes made on it *and* the writes it received by replication, so the feed reads the log
of every provider in `ldap.uris`, each with its own connection and cursor, and journals
each change once, whichever log it is read from first. What the logs hold (slapd 2.5,
plain syncrepl, seen with two providers):

- the write on the provider that served it: the request as the client sent it, e.g. a
  whole-list replace `member:= a`, `member:= b`, and `reqAuthzID` = the client;
- its copy on every other provider: the difference syncrepl computed between the entry it
  had and the one it received (`member:- old`, `member:+ new`; `member:= …` only when no
  old value is kept), with `reqAuthzID` = the consumer's rootdn — the same identity as an
  agent writing as the rootdn, so it tells nothing;
- in both, the same `entryCSN` (the log entry's own, and `entryCSN:=` in reqMod), and the
  same `modifiersName` (the original author).

The key is therefore the write's `entryCSN`: a timestamp, a counter and the serverID of
the provider that made it, unique per write in the whole replica set and carried unchanged
by replication. `reqStart` differs per provider (a copy is logged when it arrives) and is
not unique across them (its sub-second part is often a small counter), `reqAuthzID` cannot
tell a copy from a rootdn write, and slapd 2.5
writes no `reqEntryUUID` (which would name the entry, not the write, anyway). Keeping only
the entries whose CSN serverID is the provider's own would also work, but apexdir does not
know the providers' serverIDs, and a provider lost for good would take its not yet read
changes with it, whereas their copies are on the others.

A whole-list replace of `member` (or `apexDelegatedProfile`) as written on its provider says
what the list became, not who was added; the copy on another provider says it. So such a
change, read before its copy, looks the copy up by its CSN in the other providers' logs
(`entryCSN` is indexed there). Not found yet, it is left for the next pass for up to
`REPLICATION_GRACE` (its log's cursor waits for it); then, and at once with a single
provider, it is journaled with the new list (`members_replaced`) and mails no one: the log
keeps no old values of groups (logging them would copy the whole member list at every
grant). A provider that was cut off receives the entry's last state once, with the last CSN
only: its copy of several changes is one difference, which may mail again a member already
notified by the first of them.

Cursors: per provider, `reqStart` (the accesslog RDN, increasing, indexed) of the last entry
read in that provider's log, kept in the state store (job state `changes <uri>`; the first
provider's takes over the single `changes` cursor of the feed that read one log). Each pass
re-reads an overlap of a few seconds before it, because an operation is logged when it ends
but keyed by when it started. What was already handled is known from the journal itself:
each change is journaled (with its CSN, at the CSN's time) and mailed in one local
transaction, and a change whose CSN is already journaled is skipped — so a crash, a cursor
saved late, or the copy in another log re-reads a change but never notifies it twice.
Writes that are not journaled (slapd's own bookkeeping) are simply ignored again. A
provider's first pass starts at the current end of its log (no flood of old changes). A
provider that does not answer is skipped for the pass (counted in `unavailable`, logged),
its cursor kept: when it comes back, its log is read from where it was left, within
`logpurge` (7 days) — a provider down longer loses what was purged, unless its copies on the
others were read.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from apexdir.clock import Clock, system_clock
from apexdir.config import Settings
from apexdir.daemon.jobs.common import Mail, Stop, commit, never, one_pass, text
from apexdir.directory import filters as f
from apexdir.directory.accesslog import holds_secret, purge_record, sweep
from apexdir.directory.connection import Directory
from apexdir.directory.layout import first_rdn_value
from apexdir.directory.mapping import parent_dn
from apexdir.errors import ApexError, Unavailable
from apexdir.mail.render import PARIS
from apexdir.runtime import Runtime
from apexdir.state.db import guarded, iso
from apexdir.state.jobs import get_cursor, set_cursor
from apexdir.state.journal import Journal

log = logging.getLogger("apexdir.daemon")

JOB = "changes"
LOG_BASE = "cn=accesslog"
OVERLAP = timedelta(seconds=5)
# How long a whole-list replace waits for its copy on another provider (replication takes
# well under a second when the providers are up; this covers a provider restarting).
REPLICATION_GRACE = timedelta(minutes=2)
# A long backlog saves its progress now and then (a crash re-reads, the journal dedupes).
SAVE_EVERY = 500
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
PERSONAL = {"mail", "sn", "givenname", "mobile", "userpassword"}
# The lists whose added values are mailed: a whole-list replace of them needs the copy.
NOTIFIED_LISTS = {"member", "apexdelegatedprofile"}


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
    csn: str = ""  # the write's entryCSN: the same in every provider's log
    record: str = ""  # the log entry's own DN (reqStart=…,cn=accesslog)

    @property
    def key(self) -> str:
        """What identifies the write across the providers' logs (module docstring)."""
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
        reqOld): deleted once read (apexdir.directory.accesslog)."""
        return holds_secret([a for a, _, _ in self.mods] + list(self.old))

    def values(self, attr: str, op: str) -> list[str]:
        return [v for a, o, v in self.mods if a.lower() == attr.lower() and o == op and v]

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
        csn=text(entry.get("entryCSN")) or "",
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
    return datetime.strptime(start[:14], "%Y%m%d%H%M%S").replace(tzinfo=UTC)


def csn_time(csn: str) -> datetime:
    """`20261201061958.913424Z#000000#002#000000` → its moment."""
    return datetime.strptime(csn[:21], "%Y%m%d%H%M%S.%f").replace(tzinfo=UTC)


def start_value(moment: datetime) -> str:
    """A reqStart value for a filter: `YYYYmmddHHMMSS.000000Z`."""
    return moment.astimezone(UTC).strftime("%Y%m%d%H%M%S") + ".000000Z"


# ---------------------------------------------------------------------- the cursors
@dataclass
class Cursor:
    last: str  # reqStart of the latest change read
    floor: str  # where the feed started: nothing before it is ever read
    held: str | None = None  # the earliest change left for the next pass: re-read from it

    def since(self) -> str:
        """Where the next read starts: the overlap before `last`, never before `floor`."""
        return max(self.floor, start_value(start_time(self.last) - OVERLAP))

    def advance(self, start: str) -> None:
        self.last = max(self.last, start)

    def hold(self, start: str) -> None:
        self.held = min(self.held or start, start)

    def dump(self) -> str:
        last = min(self.last, self.held) if self.held else self.last
        return json.dumps({"last": last, "floor": self.floor})

    @classmethod
    def load(cls, raw: str | None) -> Cursor | None:
        if not raw:
            return None
        try:
            data = json.loads(raw)
            return cls(str(data["last"]), str(data.get("floor") or data["last"]))
        except (ValueError, KeyError, TypeError):
            return None


def cursor_name(uri: str) -> str:
    """The job-state name of one provider's cursor."""
    return f"{JOB} {uri}"


def load_cursor(rt: Runtime, uri: str) -> Cursor | None:
    cursor = Cursor.load(get_cursor(rt.db, cursor_name(uri)))
    if cursor is None and uri == rt.settings.ldap.uris[0]:
        # The feed used to read one log, the first provider's while it was up: its cursor.
        cursor = Cursor.load(get_cursor(rt.db, JOB))
    return cursor


def save_cursor(rt: Runtime, uri: str, cursor: Cursor) -> None:
    set_cursor(rt.db, cursor_name(uri), cursor.dump(), clock=rt.clock)


def read_log(directory: Directory, since: str) -> Iterator[Change]:
    """Log entries from `since`, page by page, in the order slapd wrote them (entry ids):
    a backlog of days is streamed, never held in memory at once."""
    entries = directory.iter_search(
        LOG_BASE, f.and_(WRITES, f.ge("reqStart", since)), ATTRS, scope="one"
    )
    return (change_from(e) for e in entries)


def start(rt: Runtime, uri: str, directory: Directory) -> tuple[Cursor, int]:
    """A provider's first pass: the current end of its log becomes its cursor, and the
    records before it that carry a secret, which the feed will never read, are deleted
    (how many: the second value)."""
    last = start_value(rt.clock())
    # Changes of the last seconds (the next pass's overlap) are before the feed's start.
    for change in read_log(directory, start_value(rt.clock() - OVERLAP)):
        last = max(last, change.start)
    cursor = Cursor(last, floor=last)
    save_cursor(rt, uri, cursor)
    try:
        swept = sweep(directory, until=last)
    except Unavailable:
        raise
    except ApexError as exc:  # e.g. a provider whose ACL predates the purge
        log.warning("change feed: cannot delete secret records in %s: %s", uri, exc)
        swept = 0
    return cursor, swept


# ---------------------------------------------------------------------- the journal
def journaled(rt: Runtime, change: Change) -> bool:
    """Whether this write is in the journal, read from any provider's log: by its CSN, at the
    CSN's time (an indexed look-up). An entry without CSN (journaled before the feed kept
    them, or a log without CSNs) is known by its reqStart."""
    with guarded(rt.db, "read the journal"):
        row = rt.db.execute(
            "SELECT 1 FROM journal WHERE action LIKE 'ldap.%' AND ("
            " (at = ? AND json_extract(details, '$.csn') = ?) OR"
            " (at = ? AND json_extract(details, '$.at') = ?"
            "  AND json_extract(details, '$.csn') IS NULL)) LIMIT 1",
            [iso(change.when), change.csn, iso(start_time(change.start)), change.start],
        ).fetchone()
    return row is not None


# ---------------------------------------------------------------------- the providers
class Providers:
    """One connection per provider of `ldap.uris`, to read its log alone; a provider that
    fails is left alone for the rest of the pass."""

    def __init__(self, rt: Runtime) -> None:
        self.settings = rt.settings.ldap
        self.uris = list(dict.fromkeys(self.settings.uris))
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


# ---------------------------------------------------------------------- one change
class Feed:
    def __init__(self, rt: Runtime, providers: Providers) -> None:
        self.rt = rt
        self.providers = providers
        self.layout = rt.layout
        self.own = norm(rt.settings.ldap.bind_dn)
        self._apps: dict[str, str] = {}
        self.changes = self.notified = self.waiting = self.purged = 0
        self._purge_refused: set[str] = set()

    def read(self, uri: str, cursor: Cursor, stop: Stop) -> None:
        """Handle one provider's log from its cursor, and move the cursor."""
        since = cursor.since()
        try:
            for read, change in enumerate(read_log(self.providers.directory(uri), since), 1):
                if stop():
                    break
                # At or before the floor: the end of the log when the feed started.
                fresh = change.start > cursor.floor and not self.ignored(change)
                taken = self._take(uri, cursor, change) if fresh else True
                if taken and change.secret:
                    self._purge(uri, change)  # a held change is read again: kept
                cursor.advance(change.start)
                if read % SAVE_EVERY == 0:
                    save_cursor(self.rt, uri, cursor)
        except BaseException:
            with contextlib.suppress(Exception):  # keep what was done; the error matters
                save_cursor(self.rt, uri, cursor)
            raise
        save_cursor(self.rt, uri, cursor)

    def _take(self, uri: str, cursor: Cursor, change: Change) -> bool:
        """Journal and notify `change` unless done already; False when it is held."""
        if journaled(self.rt, change):
            return True  # read in another log first, or in the overlap
        resolved = self.resolve(change, uri)
        if resolved is None:
            cursor.hold(change.start)
            self.waiting += 1
            return False
        self.changes += 1
        self.notified += self.handle(resolved)
        return True

    def _purge(self, uri: str, change: Change) -> None:
        """Delete a record carrying a secret, now that it is journaled (or needs not be):
        the log keeps no password hash nor one-time record longer than a feed pass."""
        if uri in self._purge_refused or not change.record:
            return
        try:
            self.purged += purge_record(self.providers.directory(uri), change.record)
        except Unavailable:
            raise
        except ApexError as exc:  # e.g. a provider whose ACL predates the purge
            log.warning("change feed: cannot delete secret records in %s: %s", uri, exc)
            self._purge_refused.add(uri)

    def ignored(self, change: Change) -> bool:
        if norm(change.dn) == norm(self.layout.lease_dn):
            return True
        # The OpenID Connect provider's codes and tokens (three writes a login to an
        # application) and the structures' history events (the journal row is the event):
        # bookkeeping, not changes anyone needs to read in the journal again.
        kept = (self.layout.oidc_codes_dn, self.layout.oidc_tokens_dn, self.layout.events_dn)
        if any(is_child(change.dn, parent) for parent in kept):
            return True
        return change.type == "modify" and not change.attributes

    def is_own(self, change: Change) -> bool:
        return norm(change.author) == self.own

    def resolve(self, change: Change, uri: str) -> Change | None:
        """`change` with who was added to a list it replaced whole, from its copy in another
        log; None to wait for that copy (module docstring)."""
        if not change.csn or not change.replaced() or self.is_own(change):
            return change  # apexdir's own writes mail nothing here: no need to know
        copy = self.providers.copy_of(change, uri)
        if copy is not None:
            return with_copy(change, copy)
        waiting = self.rt.clock() - change.when < REPLICATION_GRACE
        return None if waiting and len(self.providers.uris) > 1 else change

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
            # A deleted account is no longer one (refint's removal mails nobody).
            for member in change.values("member", "-"):
                account = self._account(member)
                if account:
                    application = self._application(change.dn)
                    mails.append(Mail("withdrawal", [account[1]], {"application": application}))
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
            "csn": change.csn or None,
            "by": change.author or None,
            "attributes": change.attributes,
            "apexdir": own,
        }
        lists = (("members_added", "+"), ("members_removed", "-"), ("members_replaced", "="))
        for key, op in lists:
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

    def handle(self, change: Change) -> int:
        """Journal the change (one `read` did not ignore) and queue its mails, in one
        transaction; how many mails were queued."""
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
    """One pass over the log of every provider, in `ldap.uris` order."""
    providers = Providers(rt)
    feed = Feed(rt, providers)
    started: dict[str, str] = {}
    unread: list[str] = []
    try:
        for uri in providers.uris:
            if stop():
                break
            try:
                cursor = load_cursor(rt, uri)
                if cursor is None:
                    cursor, swept = start(rt, uri, providers.directory(uri))
                    started[uri] = cursor.last
                    feed.purged += swept
                else:
                    feed.read(uri, cursor, stop)
            except Unavailable as exc:
                providers.failed(uri, exc)
                unread.append(uri)
    finally:
        providers.close()
    result: dict[str, Any] = {"started_at": started} if started else {}
    result |= {"changes": feed.changes, "notified": feed.notified}
    if feed.waiting:
        result["waiting"] = feed.waiting
    if feed.purged:
        result["purged"] = feed.purged
    if unread:
        result["unavailable"] = unread
    return result


def run_once(
    settings: Settings, clock: Clock = system_clock, *, stop: Stop | None = None
) -> dict[str, Any]:
    """`apexdir daemon run-once changes`."""
    return one_pass(settings, clock, run, stop)
