"""The directory's side of dormant accounts (`apexdir.rules.dormancy`): the one search for
the accounts that may owe a step, and the compare-and-swap writes of their mark.

The search asks slapd for the active accounts whose last bind (`authTimestamp`, absent when
the account never logged in) and creation (`createTimestamp`) are both older than the
warning's moment, and for the active accounts that carry a warning (a login since may have
made it stale). Neither time is indexed: the search is one pass over `ou=people` a day,
selective on the server side, and returns only the dormant few.

Every mark is written with a compare-and-swap on the exact value (`apexDormancy` is
single-valued): a second daemon, or a pass run again, finds the mark moved and does
nothing. The suspension writes the mark in the same modify as the status and ppolicy's
administrative lock (`mapping.suspension_changes`), so a suspension for inactivity is never
half-made.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from apexdir.clock import from_generalized_time
from apexdir.directory import filters as f
from apexdir.directory import mapping as m
from apexdir.directory.connection import Directory
from apexdir.directory.layout import Layout
from apexdir.models import Account

ATTRIBUTE = "apexDormancy"
# What the rule, the mails, the history and the last administrateur's guard read: every
# attribute asked costs ldap3's parsing on each account returned (no memberOf lists here).
ATTRS = ["uid", "mail", "apexAccountType", "apexStructureRef", "apexServiceRef", "apexStatus",
         "authTimestamp", "createTimestamp", ATTRIBUTE]  # fmt: skip


@dataclass(frozen=True)
class Candidate:
    """An active account as the dormancy rules read it."""

    account: Account
    created: datetime | None
    mark: str | None  # the raw value of apexDormancy


def candidates(directory: Directory, layout: Layout, bound: datetime) -> list[Candidate]:
    """Active accounts without a bind or a creation after `bound`, and active accounts
    carrying a warning: one paged search, one level under ou=people."""
    unused = f.and_(
        f.or_(f.le("authTimestamp", bound), f.not_(f.present("authTimestamp"))),
        f.le("createTimestamp", bound),
    )
    warned = f.starts(ATTRIBUTE, "warned:")
    query = f.and_(f.eq("objectClass", "apexAccount"), m.ACTIVE_ACCOUNT, f.or_(unused, warned))
    entries = directory.search(layout.people_dn, query, ATTRS, scope="one")
    out = []
    for entry in entries:
        created = entry.get("createTimestamp")
        mark = entry.get(ATTRIBUTE)
        out.append(
            Candidate(
                account=m.account_from(entry),
                created=from_generalized_time(created) if created else None,
                mark=str(mark) if mark else None,
            )
        )
    return out


def _swap(old: str | None, new: str | None) -> list[tuple[str, list[Any]]]:
    ops: list[tuple[str, list[Any]]] = []
    if old:
        ops.append(("delete", [old]))
    if new:
        ops.append(("add", [new]))
    return ops


def swap_mark(directory: Directory, dn: str, old: str | None, new: str | None) -> bool:
    """Replace the mark `old` (None: no mark) by `new` (None: none); False if another
    writer changed it meanwhile."""
    return directory.swap(dn, {ATTRIBUTE: _swap(old, new)})


def suspend(directory: Directory, account: Account, old: str | None, new: str) -> bool:
    """Suspend the account for inactivity — status, slapd's lock and the mark in one
    modify — provided its mark is still `old`; False if it moved meanwhile."""
    changes: dict[str, list[tuple[str, list[Any]]]] = {ATTRIBUTE: _swap(old, new)}
    for attr, value in m.suspension_changes(True).items():
        changes[attr] = [("replace", [] if value is None else [value])]
    return directory.swap(account.dn, changes)
