"""What the anonymous steps share: the identifier as typed, the decoy that stands in for an
unknown one, and the try spent on a pending code or link before it is judged.

An unknown identifier costs the same directory work as a known one with a wrong secret
(issue 12, issue 18 item 6): the same reads, on the decoy, and the same write.
"""

from __future__ import annotations

from apexdir import messages
from apexdir.directory import onetime as store
from apexdir.directory import ppolicy
from apexdir.directory.provision import decoy_dn
from apexdir.errors import AuthenticationFailed
from apexdir.models import Account, AccountStatus
from apexdir.rules import onetime
from apexdir.rules.identifiers import clean_identifier
from apexdir.runtime import Runtime
from apexdir.workflows.accounts import account_or_none

INVALID_CREDENTIALS = messages.text("login.invalid")


def account_named(rt: Runtime, identifier: str) -> Account | None:
    """The account of a typed identifier, None when it names none (no decoy work)."""
    clean = clean_identifier(identifier)
    if clean is None:
        return None
    return account_or_none(rt, clean)


def find(rt: Runtime, identifier: str) -> Account | None:
    """The account an anonymous step names; for an unknown identifier, None after the same
    directory work: reading a partner's account is a read of its entry, mapped, then one
    more request (the names of his structure's services); the unknown one's read finds
    nothing, and the decoy's entry is read and mapped instead."""
    account = account_named(rt, identifier)
    if account is None:
        store.decoy_lookup(rt.directory, rt.layout)
    return account


def decoy_bind(rt: Runtime, password: str) -> None:
    """What a wrong password costs, spent for an unknown identifier: a bind that slapd
    checks (the hash) and refuses (the failure recorded, a durable write), on the decoy,
    whose policy never locks it."""
    ppolicy.authenticate(rt.settings.ldap, decoy_dn(rt.layout), password)


def spend_try(
    rt: Runtime,
    identifier: str,
    attribute: str,
    kinds: tuple[str, ...],
    refusal: str,
    reason: str,
) -> tuple[Account, onetime.Record]:
    """The pending record of an active account, one try spent before it is judged; an
    unknown or inactive identifier spends the same read on the decoy, then gets the same
    refusal as an account with no such record. `refusal` is a catalogue code."""
    account = find(rt, identifier)
    if account is None or account.status != AccountStatus.ACTIVE:
        store.decoy_read(rt.directory, rt.layout, attribute)  # the read a known one costs…
        store.decoy_try(rt.directory, rt.layout)  # … and the write
        raise AuthenticationFailed(code=refusal, reason=reason)
    record = store.take_try(rt.directory, account.dn, attribute)
    if record is None:
        store.decoy_try(rt.directory, rt.layout)
    if record is None or record.kind not in kinds:
        raise AuthenticationFailed(code=refusal, reason=reason)
    return account, record
