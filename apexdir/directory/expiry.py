"""The directory's side of the password expiry notices (`apexdir.rules.expiry`): the one
search for the accounts whose password crossed a threshold, and the maximum age slapd
enforces (`pwdMaxAge` of the default ppolicy entry).

The search is selective on the server side (`pwdChangedTime` ranges:
`rules.expiry.scan_ranges`; there is deliberately no index on `pwdChangedTime`:
docs/MEASUREMENTS, an `eq` index made this very search 40 times slower, and slapd would
still have to test every account of the unindexed range). Accounts that are not active are
left out by slapd.
"""

from __future__ import annotations

from dataclasses import dataclass

from apexdir.directory import filters as f
from apexdir.directory import notices
from apexdir.directory.connection import Directory
from apexdir.directory.layout import Layout
from apexdir.directory.mapping import ACTIVE_ACCOUNT, as_text
from apexdir.rules.expiry import Range

CHANGED = "pwdChangedTime"
# Every attribute asked costs the LDAP client's parsing on each account returned: the status is
# filtered by slapd (mapping.ACTIVE_ACCOUNT).
ATTRS = ["uid", "mail", CHANGED, notices.ATTRIBUTE]


@dataclass(frozen=True)
class Candidate:
    """An active account as the expiry rules read it (texts as stored; None when absent)."""

    dn: str
    identifier: str | None
    mail: str | None
    changed: str | None  # pwdChangedTime, the GeneralizedTime the notices name
    notices: frozenset[str]


def scan_filter(ranges: list[Range]) -> str:
    """The active accounts whose pwdChangedTime is in one of `ranges`."""
    changed = f.or_(*(f.and_(f.ge(CHANGED, low), f.le(CHANGED, high)) for low, high in ranges))
    return f.and_(f.eq("objectClass", "apexAccount"), changed, ACTIVE_ACCOUNT)


def candidates(directory: Directory, layout: Layout, ranges: list[Range]) -> list[Candidate]:
    """The accounts of `scan_filter` (one paged search, one level under ou=people)."""
    if not ranges:
        return []
    entries = directory.search(layout.people_dn, scan_filter(ranges), ATTRS, scope="one")
    return [
        Candidate(
            dn=e.dn,
            identifier=as_text(e.get("uid")),
            mail=as_text(e.get("mail")),
            changed=as_text(e.get(CHANGED)),
            notices=frozenset(notices.of(e.all(notices.ATTRIBUTE))),
        )
        for e in entries
    ]


def max_age_seconds(directory: Directory, layout: Layout) -> int | None:
    """pwdMaxAge of the default policy, in seconds; None when it cannot be read."""
    entry = directory.get(layout.default_policy_dn, ["pwdMaxAge"])
    try:
        return int(entry.get("pwdMaxAge")) if entry else None
    except (TypeError, ValueError):
        return None
