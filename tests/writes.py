""" "Nothing written", read from the test slapd's accesslog rather than from a snapshot.

The test slapd logs every successful write to the main database (`logops writes`,
`logsuccess TRUE`: apexdir/directory/templates/slapd.conf.j2). So a command wrote nothing
when no write was logged since a mark taken before it: one indexed search of the few newest
records, where comparing snapshots read and decoded every entry of the tree twice (a third
of the fuzz test's time). It is also a stronger check: a write undone afterwards, which a
snapshot cannot see, is in the log.

The mark is an entryCSN, not a reqStart: slapd's reqStart is the second plus a counter
(`20261206194356.000007Z`), while the CSN it gives a write (and copies onto the write's log
record) is its clock to the microsecond, the machine's clock the test reads too. A write
begun after `mark()` has a CSN above it; one before, below it.

What is not a change of data, as the old snapshots of user attributes did not see it
either: a modify touching only what slapd maintains by itself — the bind's authTimestamp
(lastbind), ppolicy's failure times, modifiersName/modifyTimestamp/entryCSN
(`apexdir.directory.accesslog.MAINTAINED`).

One blind spot, as for the change feed: `daemon run-once changes` deletes the log records
carrying a secret once it has read them; a write of a secret made by that very command
would be gone from the log. The command writes no data of its own.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from apexdir.config import LdapSettings
from apexdir.directory import filters as f
from apexdir.directory.accesslog import LOG_BASE, Change, change_from
from apexdir.directory.connection import Directory
from apexdir.directory.server import SlapdInstance


def log_reader(slapd: SlapdInstance) -> Directory:
    """A connection as apexdir's account, the only reader of `cn=accesslog` (its ACL)."""
    return Directory(
        LdapSettings(
            uris=[slapd.uri],
            base_dn=slapd.base_dn,
            bind_dn=slapd.layout.apexdir_dn,
            bind_password_file=slapd.apexdir_password_file,
        )
    )


def mark() -> str:
    """Now, as a CSN: every write slapd begins from now on has a greater entryCSN."""
    return datetime.now(UTC).strftime("%Y%m%d%H%M%S.%fZ#000000#000#000000")


# What a write's record says of it: enough to tell a change of data and to show it.
_READ = ["reqType", "reqDN", "reqMod"]


def written_since(
    log: Directory, since: str, ignore: Callable[[Change], bool] = lambda change: False
) -> list[Change]:
    """The writes of data logged since the mark `since` (`mark()`), but those `ignore`d."""
    # Every record is a write (`logops writes`, and only the successful ones): the filter is
    # the mark alone, and only the three attributes a change needs are read.
    found = log.search(LOG_BASE, f.ge("entryCSN", since), _READ, scope="one", paged=False)
    changes = [change_from(entry) for entry in found]
    # A modify of maintained attributes only is no change of data; an add, a delete or a
    # rename always is (a delete logs no reqMod at all).
    return [c for c in changes if (c.type != "modify" or c.attributes) and not ignore(c)]


def shown(changes: list[Change]) -> list[tuple[str, str, list[str]]]:
    """What an assertion message says of the writes: their type, entry and attributes."""
    return [(c.type, c.dn, c.attributes) for c in changes]
