"""Checks of an account row that need nothing but its values, and what makes them fast.

Names, mail and mobile (phonenumbers: ≈ 90 µs a number), the LDIF attributes passed on and
pwdChangedTime are checked for every row of a 100,000-account file before anything is
written. They need no other row: a big LDIF file is read and checked in pieces, one process
per CPU (`apexdir.bulk.ldiffile`); other files from `PARALLEL_FROM` rows send their contacts
to the same processes. The cyclic garbage collector is paused while a file is read and
checked: it would walk millions of long-lived objects again and again for nothing.

The rules themselves take a fast path for the values a bulk file nearly always holds (a
mobile in French E.164, a GeneralizedTime without fraction: `normalize_mobile`,
`generalized_time`).
"""

from __future__ import annotations

import contextlib
import gc
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from apexdir.bulk.items import AccountItem
from apexdir.errors import Invalid
from apexdir.rules.contact import normalize_mobile, validate_mail
from apexdir.rules.text import control_character, directory_string, generalized_time, single_value
from apexdir.workflows.creation_form import person_name

# What the pool's processes were forked with (`Pool.start`), read by their tasks.
INHERITED: dict[str, Any] = {}


@dataclass
class Pool:
    executor: Any  # concurrent.futures.ProcessPoolExecutor
    workers: int
    started: bool = False
    forks: bool = True  # its processes are forked: they inherit this one's memory

    def start(self, **inherited: Any) -> bool:
        """Fork the processes now, with `inherited` in their `INHERITED` (a big file's text:
        sent to them piece by piece instead, it cost ≈ 0.1 s a piece). False when they do
        not have it: forked already, or not forked at all."""
        if self.started or not self.forks:
            self.started = True
            return False
        INHERITED.update(inherited)
        try:
            list(self.executor.map(int, range(self.workers)))  # forks them all, then runs
        finally:
            INHERITED.clear()  # theirs now; this process's copy may go
        self.started = True
        return True


Contact = tuple[str, str, str, str | None]
# From this many accounts, names, mails and mobiles (phonenumbers: ≈ 90 µs a number) are
# checked by a pool of processes, one per CPU: they need nothing but the values.
PARALLEL_FROM = 20_000
# LDIF attributes passed on to a new account as they are (ldifentries.PASSED_ON): their syntax,
# schema bound and cardinality (apex.schema, inetorgperson.schema), so that slapd cannot
# refuse one of them once other lines are written. (kind, bound, single-valued)
PASSED_ON_RULES: dict[str, tuple[str, int | None, bool]] = {
    "apexStatus": ("text", 32, True),
    "apexRequestedAt": ("time", None, True),
    "apexValidatedAt": ("time", None, True),
    "apexCreatedBy": ("text", 256, True),
    "apexValidatedBy": ("text", 256, True),
    "displayName": ("text", None, True),
    "description": ("text", 1024, False),
}


def passed_on(extra: dict[str, list[str]]) -> dict[str, list[str]]:
    """The LDIF attributes passed on to an account, checked as slapd will check them."""
    for attr, values in extra.items():
        kind, bound, single = PASSED_ON_RULES[attr]
        if single:
            single_value(attr, values)
        for value in values:
            if kind == "time":
                generalized_time(attr, value)
            else:
                directory_string(attr, value, max_length=bound)
    return extra


def later_error(item: AccountItem) -> str | None:
    """What the last checks of an account (attributes passed on, pwdChangedTime) refuse."""
    try:
        if item.extra:
            passed_on(item.extra)
        if item.password_changed:
            generalized_time("pwdChangedTime", item.password_changed)
    except Invalid as exc:
        return str(exc)
    return None


def check_accounts(items: list[AccountItem]) -> None:
    """Every check of `items` that needs nothing but the row: kept on `item.checked`."""
    rows = [(i.last_name, i.first_name, i.mail, i.mobile) for i in items]
    for item, contact in zip(items, _contacts(rows), strict=True):
        item.checked = (contact, later_error(item))


def _person(label: str, value: str) -> str:
    """A nom or prénom: the form's rule, and nothing slapd's DirectoryString would refuse
    (the form's rule lets C1 controls and undecodable characters through)."""
    text = " ".join(value.split())
    if text and len(text) <= 64 and text.isprintable() and "<" not in text and ">" not in text:
        # What both rules return for it, without the form's test of each character; the
        # value itself when unchanged, so that a worker's result pickles as a reference.
        return value if text == value else text
    text = person_name(label, value)
    bad = control_character(text)
    if bad:
        raise Invalid(f"{label} : caractère de contrôle ou invalide ({bad})")
    return text


def _mail(value: str) -> str:
    mail = validate_mail(value)
    return value if mail == value else mail  # the same object: see `_person`


def _contacts(rows: list[tuple[str, str, str, str | None]]) -> list[Contact | str]:
    """(sn, givenName, mail, mobile) normalized, or the first rule broken, per row."""
    out: list[Contact | str] = []
    for last, first, mail, number in rows:
        try:
            out.append(
                (
                    _person("Nom", last),
                    _person("Prénom", first),
                    _mail(mail),
                    normalize_mobile(number) if number else None,
                )
            )
        except Invalid as exc:
            out.append(str(exc))
    return out


def contact_fields(
    rows: list[tuple[str, str, str, str | None]], pool: Pool | None = None
) -> list[Contact | str]:
    """`_contacts` of every row, by `pool`'s processes when there are many rows."""
    if pool is None or len(rows) < PARALLEL_FROM:
        return _contacts(rows)
    pool.start()
    size = -(-len(rows) // pool.workers)
    chunks = [rows[i : i + size] for i in range(0, len(rows), size)]
    return [result for chunk in pool.executor.map(_contacts, chunks) for result in chunk]


@contextlib.contextmanager
def checking_pool(expected_rows: int) -> Iterator[Pool | None]:
    """Processes for reading a big LDIF file (`ldiffile.read_parallel`) and for
    `contact_fields`, forked at their first use (`Pool.start`): a reader first puts there
    what they should inherit. None when not worth it, or when fork is unsafe (another
    thread, e.g. a test's SMTP sink or an LDAP receiver, could be holding a lock)."""
    workers = min(os.cpu_count() or 1, 4)
    if expected_rows < PARALLEL_FROM or workers < 2 or threading.active_count() > 1:
        yield None
        return
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import get_context

    executor = ProcessPoolExecutor(workers, mp_context=get_context("fork"))
    try:
        yield Pool(executor, workers)
    finally:
        executor.shutdown(cancel_futures=True)


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Reading and checking a big file allocates millions of long-lived, acyclic objects:
    the cyclic collector's full passes over them cost ≈ 30 % of the time, for nothing.

    When the pause ends, what it allocated and kept is set apart from the collector
    (`gc.freeze`): else the first collections of each generation after it would still walk
    all of it (≈ 2 s after a 100,000-account file). `gc_restored` gives it back."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.freeze()
            gc.enable()


@contextlib.contextmanager
def gc_restored() -> Iterator[None]:
    """Around a whole run: once its objects are freed, what `gc_paused` set apart is the
    collector's again (cycles made during a pause are then collected as usual). Not when
    something else had frozen objects before the run: those stay as it wanted them."""
    frozen_before = gc.get_freeze_count()
    try:
        yield
    finally:
        if not frozen_before:
            gc.unfreeze()
