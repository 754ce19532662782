"""The tests' worlds (structures and accounts) built through the real flows once per worker,
then put back from what the first build left.

The tests build about 600 accounts and 330 structures, most of them the same few worlds: the
same structure, the same « Marie Martin »… Each account goes through the creation a partner
goes through (invitation, the mail delivered through the SMTP sink, the form, validation:
about 16 LDAP operations and 120 ms of a loaded worker), and that was the largest part of the
tests' own time (issue 20 item 9).

A world is the sequence of calls to the builders of tests/helpers.py (`make_structure`,
`make_account`, `make_catalogue`, `make_service`, `make_right`, `make_world`) a test made
since its directory, state store and sinks were empty. The first time a worker meets a sequence, the
call runs for real and what it left is kept: the entries under the branches the tests write
to (user attributes, as slapd returns them), the state store's pages, the mails and texts
the sinks received. The next test making the same call on the same world gets the difference
written back instead: the entries added, changed or removed, as apexdir's own account wrote
them (slapd still hashes nothing twice, ppolicy still stamps the password's time), the state
store copied page by page (SQLite's backup), the sinks' rows added again.

A world is only put back where it is exactly the one kept:
- before the first call, nothing was written to the directory since the last wipe (slapd's
  accesslog, tests/writes.py), the state store is the empty template page for page, and the
  sinks hold nothing;
- before the next calls, nothing was written since the last one (accesslog), and the state
  store and the sinks are as that call left them.
Anything else (a mail read in between, a command run, a store opened with other settings)
makes the call run for real, untracked. `TEST_WORLDS=build` builds every world for real;
`TEST_WORLDS=report` prints how many each worker built, put back and left untracked.

What differs from a build: the times the flows wrote (a validation, a journal line, an event)
are those of the first build, up to the worker's lifetime ago, but always of the same day (in
UTC and in Paris: worlds kept on another day are forgotten); slapd's own (createTimestamp,
pwdChangedTime) are new. A test comparing with "now" allows for minutes.

The creation flows themselves are tested where they are the subject (tests/cli/
test_creation_flow.py, the portal's journeys), never through this cache.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from apexdir.directory.connection import Directory
from apexdir.directory.layout import Layout
from apexdir.rules.history import PARIS
from apexdir.runtime import Runtime
from tests.writes import mark, written_since

# The branches a test writes to, emptied after every test (tests/conftest.wipe).
BRANCHES = ("structures", "people", "applications", "requests")

Entries = dict[str, dict[str, list[bytes]]]
Rows = list[tuple[Any, ...]]


@dataclass(frozen=True)
class Kept:
    """What one world left: directory entries by DN, the state store, the sinks' rows."""

    entries: Entries
    state: bytes
    mails: Rows
    sms: Rows
    result: str = ""


NOTHING = Kept({}, b"", [], [])  # a pristine world, as far as what is put back goes


@dataclass(frozen=True)
class Place:
    """Where a test's world stands after its last call: what it is, and how to tell that
    nothing moved since (an accesslog mark, the store's digest, the sinks' row counts)."""

    key: tuple[str, ...]
    since: str
    state: bytes
    sinks: tuple[int, int]


@dataclass
class Worlds:
    pristine: str | None = None  # the accesslog mark right after the last wipe
    template: bytes = b""  # digest of the empty state store
    kept: dict[tuple[str, ...], Kept] = field(default_factory=dict)
    places: dict[str, Place] = field(default_factory=dict)
    day: tuple[date, date] | None = None  # the days (UTC, Paris) the worlds were kept
    counts: dict[str, int] = field(default_factory=lambda: {"built": 0, "kept": 0, "untracked": 0})


WORLDS = Worlds()


def wiped() -> None:
    """The directory's writable branches were just emptied (tests/conftest.wipe)."""
    WORLDS.pristine = mark()


def empty_store(template: bytes) -> None:
    """The empty state store every test starts from (tests/conftest._state_template)."""
    WORLDS.template = _digest_image(template)


def built(
    rt: Runtime,
    sinks: Path | None,
    config_text: str,
    call: tuple[Any, ...],
    build: Callable[[Runtime], str],
) -> str:
    """The result of `build(rt)`, the call `call` on this test's world: run for real, or put
    back from what the same call on the same world left earlier in this worker."""
    _new_day()
    state = str(rt.settings.state.path)
    off = sinks is None or os.environ.get("TEST_WORLDS") == "build"
    key = None if off else _where(rt, sinks, state)  # type: ignore[arg-type]
    if sinks is None or key is None:
        WORLDS.places.pop(state, None)
        WORLDS.counts["untracked"] += 1
        return build(rt)
    if key == ():  # a pristine world: the settings are part of what it is
        key = (config_text.replace(state, "<state>"),)
    key = (*key, repr(call))
    kept = WORLDS.kept.get(key)
    before = NOTHING if len(key) == 2 else WORLDS.kept.get(key[:-1])
    if kept is None or before is None:
        result = build(rt)
        WORLDS.counts["built"] += 1
        kept = WORLDS.kept[key] = _capture(rt, sinks, result)
    else:
        WORLDS.counts["kept"] += 1
        _put_back(rt, sinks, before, kept)
    WORLDS.places[state] = Place(key, mark(), _store_digest(state), _counts(sinks))
    return kept.result


def _new_day() -> None:
    """Worlds kept on another day (in UTC or in Paris, the portal's days) are forgotten, and
    the worlds under way with them: a date the flows wrote yesterday is not today's."""
    now = datetime.now(UTC)
    day = (now.date(), now.astimezone(PARIS).date())
    if WORLDS.day != day:
        WORLDS.kept.clear()
        WORLDS.places.clear()
        WORLDS.day = day


def _where(rt: Runtime, sinks: Path, state: str) -> tuple[str, ...] | None:
    """This test's world key, () when pristine, None when it is no kept world."""
    place = WORLDS.places.get(state)
    if place is None:
        if WORLDS.pristine is None or not WORLDS.template:
            return None
        since, digest, counts, key = WORLDS.pristine, WORLDS.template, (0, 0), ()
    else:
        since, digest, counts, key = place.since, place.state, place.sinks, place.key
    if _counts(sinks) != counts or _store_digest(state) != digest:
        return None
    if written_since(_directory(rt), since):
        return None
    return key


# -- what a world is made of -------------------------------------------------------------


_DIRECTORIES: dict[tuple[Any, ...], Directory] = {}


def _directory(rt: Runtime) -> Directory:
    """One connection as apexdir's account per directory for this worker's worlds, kept
    open: a connection and a bind for every call (each call has a runtime of its own) were
    half of what a kept world cost."""
    ldap = rt.settings.ldap
    key = (tuple(ldap.uris), ldap.bind_dn, ldap.password())
    if key not in _DIRECTORIES:
        _DIRECTORIES[key] = Directory(ldap)
    return _DIRECTORIES[key]


def _entries(rt: Runtime) -> Entries:
    """The entries under the written branches (not the branches), user attributes as slapd
    holds them: one search of the whole tree, as tests/conftest.wipe does."""
    written = in_written_branches(rt.layout)
    found: Entries = {}
    directory = _directory(rt)
    tree = directory._results(rt.layout.base_dn, "(objectClass=*)", ["*"], "sub", True, "world")
    for item in tree:
        if written(item["dn"]):
            found[item["dn"]] = {k: list(v) for k, v in item["raw_attributes"].items() if v}
    return found


def written_branches(layout: Layout) -> list[str]:
    """The subtrees the tests write to, emptied after every test. The OpenID Connect codes
    and tokens too: a test's leftovers would be purged by another's housekeeping run, and
    counted there. The tombstones too: an identifier retired by one test is free again for
    the next."""
    return [
        *(f"ou={b},{layout.base_dn}" for b in BRANCHES),
        layout.apps_dn,
        layout.oidc_codes_dn,
        layout.oidc_tokens_dn,
        layout.oidc_federation_dn,
        layout.retired_dn,
        layout.events_dn,
        layout.reviews_dn,
    ]


def in_written_branches(layout: Layout) -> Callable[[str], bool]:
    """Whether a DN lies under one of `written_branches` (the branches themselves stay)."""
    under = tuple("," + dn_key(base) for base in written_branches(layout))
    return lambda dn: dn_key(dn).endswith(under)


def _capture(rt: Runtime, sinks: Path, result: str) -> Kept:
    with sqlite3.connect(str(rt.settings.state.path)) as conn:
        state = conn.serialize()
    mails, sms = _rows(sinks)
    return Kept(_entries(rt), state, mails, sms, result)


def _put_back(rt: Runtime, sinks: Path, before: Kept, after: Kept) -> None:
    directory = _directory(rt)
    now = before.entries  # what the directory holds: nothing was written since (_where)
    for dn in sorted(set(now) - set(after.entries), key=depth, reverse=True):
        directory.delete(dn)
    for dn in sorted(after.entries, key=depth):
        wanted = after.entries[dn]
        if dn not in now:
            directory.add(dn, wanted)
        elif now[dn] != wanted:
            changes = {
                name: [("replace", wanted.get(name, []))]
                for name in set(now[dn]) | set(wanted)
                if now[dn].get(name) != wanted.get(name)
            }
            directory.modify(dn, changes)
    image = sqlite3.connect(":memory:")
    # An in-memory copy cannot be in WAL mode (bytes 18–19 of the header say which): it is
    # read as a rollback-journal database, and the store keeps its own mode.
    image.deserialize(after.state[:18] + b"\x01\x01" + after.state[20:])
    with sqlite3.connect(str(rt.settings.state.path)) as target:
        image.backup(target)
    image.close()
    _add_rows(sinks, after.mails[len(before.mails) :], after.sms[len(before.sms) :])


def dn_key(dn: str) -> str:
    """A DN as compared with the written branches (spaces after commas, case)."""
    return dn.replace(", ", ",").lower()


def depth(dn: str) -> int:
    """How deep a DN lies: parents are added before, and deleted after, their children."""
    return dn.count(",")


def _store_digest(path: str) -> bytes:
    with sqlite3.connect(path) as conn:
        return _digest_image(conn.serialize())


def _digest_image(image: bytes) -> bytes:
    """The digest of a store's pages, the header's change counters left out (bytes 24–27
    and 92–99: they count writes, not what is stored)."""
    return hashlib.sha256(image[:24] + image[28:92] + image[100:]).digest()


def _counts(sinks: Path) -> tuple[int, int]:
    from apexdir.dev.store import DB_NAME, _connect, _flush_live

    _flush_live(sinks)
    if not (sinks / DB_NAME).exists():
        return (0, 0)
    with _connect(sinks) as conn:
        mails = conn.execute("SELECT count(*) FROM mails").fetchone()[0]
        sms = conn.execute("SELECT count(*) FROM sms").fetchone()[0]
    return (int(mails), int(sms))


_MAIL = ("mail_from", "recipients", "subject", "body", "html", "message_id", "date", "raw")
_SMS = ('"to"', "body", "date")


def _rows(sinks: Path) -> tuple[Rows, Rows]:
    from apexdir.dev.store import DB_NAME, _connect, _flush_live

    _flush_live(sinks)
    if not (sinks / DB_NAME).exists():
        return [], []
    with _connect(sinks) as conn:
        mails = conn.execute(f"SELECT {', '.join(_MAIL)} FROM mails ORDER BY id").fetchall()
        sms = conn.execute(f"SELECT {', '.join(_SMS)} FROM sms ORDER BY id").fetchall()
    return mails, sms


def _add_rows(sinks: Path, mails: Rows, sms: Rows) -> None:
    from apexdir.dev.store import _connect

    if not mails and not sms:
        return
    with _connect(sinks) as conn:
        conn.executemany(
            f"INSERT INTO mails ({', '.join(_MAIL)}) VALUES ({', '.join('?' * len(_MAIL))})",
            mails,
        )
        conn.executemany(
            f"INSERT INTO sms ({', '.join(_SMS)}) VALUES ({', '.join('?' * len(_SMS))})", sms
        )
