"""The directory's housekeeping (the daemon's `housekeeping` job, on the lease holder):
forget what has expired in the shared directory.

- one-time secrets on accounts (`apexLoginCode`, `apexResetSecret`, records of
  apexdir/rules/onetime.py) past their expiry or out of tries are removed, each with a
  compare-and-swap on its exact value so that a code issued meanwhile is never removed;
  a value this version cannot read is removed only if an expiry can still be found in it
  (a record of a later format is left alone);
- password notices (`apexNotice` expiry-…/expired:…) of a former password are removed;
- OpenID Connect access tokens past their expiry, and authorization codes past their expiry
  and the replay window (apexdir/oidc/store.py), are deleted;
- the structures' history in the directory (`ou=events`, issue 21 item 8) keeps
  `policy.journal_retention_days`, like the journal.
"""

from __future__ import annotations

import contextlib
from datetime import datetime
from typing import Any

from apexdir.clock import from_generalized_time
from apexdir.directory import leftovers, notices
from apexdir.oidc import store as oidc_store
from apexdir.rules import onetime
from apexdir.runtime import Runtime
from apexdir.workflows import history
from apexdir.workflows.notices import Record, Stop, commit, never

PASSWORD_NOTICES = ("expiry-", "expired:")


def expired_secret(value: str, now: datetime) -> bool:
    """Whether a stored one-time secret can go: expired, out of tries, or void."""
    record = onetime.parse(value)
    if record is not None:
        return record.tries <= 0 or record.expires_at <= now
    for part in value.split(";"):
        with contextlib.suppress(ValueError):
            if len(part) >= 15 and part.endswith("Z"):
                return from_generalized_time(part) <= now
    return False


def stale_notices(notices: list[str], changed: str | None) -> list[str]:
    """Password notices that name another pwdChangedTime than the current one."""
    return [
        n
        for n in notices
        if n.startswith(PASSWORD_NOTICES) and n.split(":", 1)[-1] != (changed or "")
    ]


def clean_accounts(rt: Runtime, now: datetime, stop: Stop) -> dict[str, int]:
    counts = {"secrets_removed": 0, "notices_removed": 0}
    for account in leftovers.accounts(rt.directory, rt.layout):
        if stop():
            break
        for secret in account.secrets:
            # The exact value is deleted: a code issued since this search stays.
            if expired_secret(secret.value, now) and leftovers.remove_secret(
                rt.directory, account.dn, secret
            ):
                counts["secrets_removed"] += 1
        stale = stale_notices(account.notices, account.password_changed)
        if stale and notices.removed(account.dn, stale).apply(rt.directory):
            counts["notices_removed"] += len(stale)
    return counts


def run_directory(rt: Runtime, *, stop: Stop = never) -> dict[str, Any]:
    """The directory's part: one-time secrets, stale notices, OpenID Connect leftovers."""
    now = rt.clock()
    counts: dict[str, Any] = clean_accounts(rt, now, stop)
    if not stop():
        counts.update(oidc_store.purge(rt, now))
    if not stop():
        counts["events_purged"] = history.purge(rt, now=now)
    if counts["secrets_removed"] or counts["notices_removed"]:
        commit(rt, [], [Record("housekeeping", None, counts)])
    return counts
