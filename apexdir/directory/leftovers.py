"""What the directory's housekeeping reads off the accounts (`apexdir.workflows.housekeeping`):
their one-time secrets (`apexdir.directory.onetime`) and their notices
(`apexdir.directory.notices`), in one paged search, and the exact secret removed.

A secret is removed by a compare-and-swap on its exact value (`Directory.swap`: False when
another writer changed it meanwhile, every other error raised), so that a code issued since
the search is never removed.
"""

from __future__ import annotations

from dataclasses import dataclass

from apexdir.directory import filters as f
from apexdir.directory import notices, onetime
from apexdir.directory.connection import Directory
from apexdir.directory.layout import Layout
from apexdir.directory.mapping import as_text
from apexdir.directory.onetime import LOGIN_CODE, RESET_SECRET

SECRETS = (LOGIN_CODE, RESET_SECRET)
CHANGED = "pwdChangedTime"


@dataclass(frozen=True)
class Secret:
    """One stored one-time secret: which kind (its attribute) and its exact value."""

    kind: str
    value: str


@dataclass(frozen=True)
class Leftovers:
    """An account's secrets (login code first, then reset secret), notices and the
    pwdChangedTime of its current password (None: never changed)."""

    dn: str
    secrets: list[Secret]
    notices: list[str]
    password_changed: str | None


def accounts(directory: Directory, layout: Layout) -> list[Leftovers]:
    """The accounts that hold a one-time secret or a notice (one level under ou=people)."""
    entries = directory.search(
        layout.people_dn,
        f.and_(
            f.eq("objectClass", "apexAccount"),
            f.or_(*(f.present(a) for a in (*SECRETS, notices.ATTRIBUTE))),
        ),
        [*SECRETS, notices.ATTRIBUTE, CHANGED],
        scope="one",
    )
    return [
        Leftovers(
            dn=e.dn,
            secrets=[Secret(kind, value) for kind in SECRETS if (value := as_text(e.get(kind)))],
            notices=notices.of(e.all(notices.ATTRIBUTE)),
            password_changed=as_text(e.get(CHANGED)),
        )
        for e in entries
    ]


def remove_secret(directory: Directory, dn: str, secret: Secret) -> bool:
    """The exact value deleted; False when it changed meanwhile (or the account went)."""
    return onetime.swap(directory, dn, secret.kind, secret.value, None)
