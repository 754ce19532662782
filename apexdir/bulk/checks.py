"""Checks of an account row that need nothing but its values, and what makes them fast.

Names, mail and mobile (phonenumbers: ≈ 90 µs a number) are checked for every row of a
100,000-account file before anything is written: from `PARALLEL_FROM` rows they are split
among processes, one per CPU. The cyclic garbage collector is paused while a file is read and
checked: it would walk millions of long-lived objects again and again for nothing.
"""

from __future__ import annotations

import contextlib
import gc
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from apexdir.errors import Invalid
from apexdir.rules.contact import normalize_mobile, validate_mail
from apexdir.rules.text import control_character
from apexdir.workflows.precreation import _name as person_name


@dataclass(frozen=True)
class Pool:
    executor: Any  # concurrent.futures.ProcessPoolExecutor
    workers: int


Contact = tuple[str, str, str, str | None]
# From this many accounts, names, mails and mobiles (phonenumbers: ≈ 90 µs a number) are
# checked by a pool of processes, one per CPU: they need nothing but the values.
PARALLEL_FROM = 20_000


def _person(label: str, value: str) -> str:
    """A nom or prénom: the form's rule, and nothing slapd's DirectoryString would refuse
    (the form's rule lets C1 controls and undecodable characters through)."""
    text = person_name(label, value)
    bad = control_character(text)
    if bad:
        raise Invalid(f"{label} : caractère de contrôle ou invalide ({bad})")
    return text


def _contacts(rows: list[tuple[str, str, str, str | None]]) -> list[Contact | str]:
    """(sn, givenName, mail, mobile) normalized, or the first rule broken, per row."""
    out: list[Contact | str] = []
    for last, first, mail, mobile in rows:
        try:
            out.append(
                (
                    _person("Nom", last),
                    _person("Prénom", first),
                    validate_mail(mail),
                    normalize_mobile(mobile) if mobile else None,
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
    size = -(-len(rows) // pool.workers)
    chunks = [rows[i : i + size] for i in range(0, len(rows), size)]
    return [result for chunk in pool.executor.map(_contacts, chunks) for result in chunk]


@contextlib.contextmanager
def checking_pool(expected_rows: int) -> Iterator[Pool | None]:
    """Processes for `contact_fields`, started now: forking costs little while the heap is
    small (before the file is read). None when not worth it, or when fork is unsafe (another
    thread, e.g. a test's SMTP sink or an ldap3 receiver, could be holding a lock)."""
    workers = min(os.cpu_count() or 1, 4)
    if expected_rows < PARALLEL_FROM or workers < 2 or threading.active_count() > 1:
        yield None
        return
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import get_context

    executor = ProcessPoolExecutor(workers, mp_context=get_context("fork"))
    try:
        list(executor.map(int, range(workers)))  # start every worker now
        yield Pool(executor, workers)
    finally:
        executor.shutdown(cancel_futures=True)


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Reading and checking a big file allocates millions of long-lived, acyclic objects:
    the cyclic collector's full passes over them cost ≈ 30 % of the time, for nothing."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
