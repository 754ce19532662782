"""The notices an entry was sent (`apexNotice`, one value each: `expiry-15:<pwdChangedTime>`,
`locked:<pwdAccountLockedTime>`, `invitation-reminder`…), and the compare-and-swap marks
that note them.

A notice is sent once because it is noted first: a `Marking` is one compare-and-swap modify
(`Directory.swap`: False when another writer noted it or changed the entry meanwhile, every
other error raised) and the changes that take it back when the mail cannot be queued
(`apexdir.workflows.notices.mark_then_commit`). The request's own markings (a status moved,
a link swapped) are built by `apexdir.directory.requests` as the same `Marking`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from apexdir.clock import to_generalized_time
from apexdir.directory.connection import Directory
from apexdir.directory.mapping import as_text

ATTRIBUTE = "apexNotice"
LOCKED_AT = "pwdAccountLockedTime"
Ops = dict[str, list[tuple[str, list[Any]]]]


@dataclass(frozen=True)
class Marking:
    """A compare-and-swap on the entry `dn` (`mark`) and the changes that undo it."""

    dn: str
    mark: Ops
    unmark: Ops

    def apply(self, directory: Directory) -> bool:
        """The mark written in one modify; False when the entry changed meanwhile."""
        return directory.swap(self.dn, self.mark)

    def take_back(self, directory: Directory) -> None:
        """The mark undone (a plain modify: every error raised)."""
        directory.modify(self.dn, self.unmark)


def added(dn: str, notice: str) -> Marking:
    """`notice` noted on `dn` (the add fails if another writer noted it first)."""
    return Marking(dn, {ATTRIBUTE: [("add", [notice])]}, {ATTRIBUTE: [("delete", [notice])]})


def replacing(dn: str, old: list[str], notice: str) -> Marking:
    """The exact values `old` (if any) swapped for `notice`."""
    mark: list[tuple[str, list[Any]]] = [("add", [notice])]
    unmark: list[tuple[str, list[Any]]] = [("delete", [notice])]
    if old:
        mark.insert(0, ("delete", list(old)))
        unmark.append(("add", list(old)))
    return Marking(dn, {ATTRIBUTE: mark}, {ATTRIBUTE: unmark})


def removed(dn: str, values: list[str]) -> Marking:
    """The exact `values` deleted (fails if one of them went meanwhile)."""
    return Marking(
        dn, {ATTRIBUTE: [("delete", list(values))]}, {ATTRIBUTE: [("add", list(values))]}
    )


def of(values: list[Any]) -> list[str]:
    """Notices as text, from the values of an entry's `apexNotice`."""
    return [as_text(v) or "" for v in values]


@dataclass(frozen=True)
class LockState:
    """What the lock's notice needs of an account: its notices and ppolicy's lock time."""

    notices: list[str]
    locked_at: str | None  # pwdAccountLockedTime as GeneralizedTime text; None: not locked


def lock_state(directory: Directory, dn: str) -> LockState:
    """The account's notices and lock time (both empty when the entry is gone)."""
    entry = directory.get(dn, [ATTRIBUTE, LOCKED_AT])
    if entry is None:
        return LockState([], None)
    locked = entry.get(LOCKED_AT)
    stamp = to_generalized_time(locked) if isinstance(locked, datetime) else str(locked or "")
    return LockState(of(entry.all(ATTRIBUTE)), stamp or None)
