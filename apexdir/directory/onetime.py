"""The one-time secrets kept on an account entry: login codes, reset codes and links.

A secret is one value of a single-valued attribute (`apexLoginCode`, `apexResetSecret`),
the record of its hash (`apexdir.rules.onetime`), so every node sees it. Every change of a
pending record is a compare-and-swap (`Directory.swap`): a try is spent *before* the answer
is judged, a redeemed record is removed once, and parallel requests get no more tries than
sequential ones. A swap that loses a race is read again; an unavailable directory is
raised, never taken for a lost race (nor, by the workflows, for a wrong code).

The decoy (`cn=decoy,ou=system`, `provision.decoy_dn`) stands in for an unknown identifier:
the same reads and writes, so that the time of an answer does not tell who exists.
"""

from __future__ import annotations

import re
import secrets
import uuid
from typing import Any

from apexdir.directory import filters as f
from apexdir.directory import mapping as m
from apexdir.directory.connection import Directory, Entry
from apexdir.directory.layout import Layout
from apexdir.directory.provision import decoy_dn
from apexdir.errors import NotFound
from apexdir.rules import onetime

LOGIN_CODE = "apexLoginCode"
RESET_SECRET = "apexResetSecret"
CAS_ROUNDS = 8  # compare-and-swap retries under contention before refusing
DECOY_TRY_ATTRIBUTE = "title"  # a value of the decoy's rewritten by each try it stands in for
_DECOY_TYPE = "collaborateur"
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def read(directory: Directory, dn: str, attribute: str) -> str | None:
    """The value of a single-valued attribute of `dn`, as text (None: no value, no entry)."""
    entry = directory.get(dn, [attribute])
    value = entry.get(attribute) if entry else None
    if isinstance(value, bytes):
        return value.decode("ascii", "replace")
    return str(value) if value is not None else None


def swap(directory: Directory, dn: str, attribute: str, old: str | None, new: str | None) -> bool:
    """Compare-and-swap of a single-valued attribute in one LDAP modify: deleting the exact
    old value fails if another request changed it meanwhile, and adding to a single-valued
    attribute fails if one is already there. False when it lost (or the entry is gone);
    `Unavailable` and every other error raised."""
    ops: list[tuple[str, list[Any]]] = []
    if old is not None:
        ops.append(("delete", [old]))
    if new is not None:
        ops.append(("add", [new]))
    if not ops:
        return True
    try:
        return directory.swap(dn, {attribute: ops})
    except NotFound:  # the account was deleted meanwhile: no record left to swap
        return False


def store(directory: Directory, dn: str, attribute: str, record: onetime.Record) -> None:
    """A new record on the entry; replacing the value voids any older one."""
    directory.replace(dn, **{attribute: record.format()})


def take_try(directory: Directory, dn: str, attribute: str) -> onetime.Record | None:
    """Spend one try of the pending record *before* the answer is judged, and return the
    record as it was: however many requests race, a record is judged at most `tries` times
    (a failed swap means another request took a try first: read again).

    A mailed link's record is returned untouched: its secret has 256 bits, so tries add
    nothing against guessing, and a try spent by whoever saw the link's public half would
    void the owner's link (issue 18 item 7). It stays single use (`consume`)."""
    for _ in range(CAS_ROUNDS):
        stored = read(directory, dn, attribute)
        record = onetime.parse(stored)
        if record is None:
            return None
        if record.kind == "mail":
            return record
        left = onetime.after_failure(record)
        if swap(directory, dn, attribute, stored, left.format() if left else None):
            return record
    return None  # endless contention: refuse rather than judge uncounted


def consume(directory: Directory, dn: str, attribute: str, record: onetime.Record) -> bool:
    """Remove a redeemed record (known by its salt); False when another request redeemed
    or replaced it first — single use wins over a race."""
    if record.kind != "mail" and record.tries <= 1:
        return True  # our try was its last: `take_try` removed it already
    for _ in range(CAS_ROUNDS):
        stored = read(directory, dn, attribute)
        current = onetime.parse(stored)
        if current is None or current.salt != record.salt:
            return False
        if swap(directory, dn, attribute, stored, None):
            return True
    return False


def put_back(directory: Directory, dn: str, attribute: str, record: onetime.Record) -> None:
    """Put a judged record back with the tries it has left, unless a newer request put a
    fresh secret there meanwhile (the add fails then, and the newer one stays)."""
    left = onetime.after_failure(record)
    if left is not None:
        swap(directory, dn, attribute, None, left.format())


# ---------------------------------------------------------------------- the decoy
def decoy_read(directory: Directory, layout: Layout, attribute: str) -> None:
    """The read of a pending record that a known identifier costs, on the decoy."""
    read(directory, decoy_dn(layout), attribute)


def decoy_try(directory: Directory, layout: Layout) -> None:
    """The write a try costs on a pending record, spent on the decoy when there is no
    record to spend it on (unknown identifier, or no pending code): without it a wrong
    code answered faster where no record existed (issue 18 item 6)."""
    directory.replace(decoy_dn(layout), **{DECOY_TRY_ATTRIBUTE: secrets.token_hex(16)})


def decoy_lookup(directory: Directory, layout: Layout) -> None:
    """What reading a partner's account costs, spent on the decoy for an unknown identifier:
    a subtree search, like the services' one, that returns an entry read and mapped like an
    account's (the payload and the parsing count too; the decoy has no account type, so
    it is mapped with the least one)."""
    for entry in directory.search(decoy_dn(layout), "(objectClass=*)", m.ACCOUNT_ATTRS):
        m.account_from(Entry(entry.dn, {**entry.attrs, "apexAccountType": [_DECOY_TYPE]}))


# ---------------------------------------------------------------------- reset links
def entry_uuid(directory: Directory, dn: str) -> bytes | None:
    """The entry's `entryUUID` (16 bytes), which a mailed link's public half seals."""
    value = read(directory, dn, "entryUUID") or ""
    return uuid.UUID(value).bytes if UUID.fullmatch(value) else None


def uid_by_uuid(directory: Directory, layout: Layout, raw: bytes) -> str | None:
    """The identifier of the account whose `entryUUID` is `raw`; None if not exactly one."""
    found = directory.search(
        layout.people_dn, f.eq("entryUUID", str(uuid.UUID(bytes=raw))), ["uid"]
    )
    if len(found) != 1:
        return None
    uid = found[0].get("uid")
    return str(uid[0] if isinstance(uid, list) else uid)
