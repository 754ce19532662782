"""The write side of the one map (directory.mapping): a model written, then read back by the
same map, is the model again; a status transition read back is the status it names."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from apexdir.directory import mapping as m
from apexdir.directory.connection import Changes, Entry
from apexdir.directory.layout import Layout
from apexdir.directory.requests import (
    REQUEST_READ,
    decision_changes,
    request_attrs,
    request_from,
    undecision_changes,
)
from apexdir.models import AccountType, CreationRequest, Service, Structure

LAYOUT = Layout("dc=apex,dc=test")


def _stored(dn: str, attrs: dict[str, Any]) -> Entry:
    """The entry slapd keeps of an add (as `Directory.add` sends it: empty values dropped)."""
    kept = {k: v if isinstance(v, list) else [v] for k, v in attrs.items()}
    return Entry(dn, {k: v for k, v in kept.items() if v not in ([None], [], [""])})


def _replaced(entry: Entry, values: dict[str, Any]) -> Entry:
    """The entry after `Directory.replace(dn, **values)`: None, [] or "" removes a value."""
    attrs = {k: v for k, v in entry.attrs.items() if k not in values}
    for attr, value in values.items():
        if value not in (None, [], ""):
            attrs[attr] = value if isinstance(value, list) else [value]
    return Entry(entry.dn, attrs)


def test_a_structure_written_reads_back_the_same() -> None:
    """Every field of the map goes to its attribute and comes back; an open structure."""
    structure = Structure(
        siret="12345678200010", name="Mairie", category="collectivite", trade_name="Ville",
        street="1 place", street2=None, postal_code="75001", city="Paris", country="FR",
    )  # fmt: skip
    structure.dn = LAYOUT.structure_dn(structure.siret)
    attrs = {"objectClass": ["apexStructure"], **m.structure_attrs(structure)}
    assert m.structure_from(_stored(structure.dn, attrs)) == structure


def test_a_structure_closed_then_reopened_reads_back_open() -> None:
    """Closing writes the status and reason; reopening removes both."""
    structure = Structure(siret="12345678200010", name="Mairie", category="collectivite")
    structure.dn = LAYOUT.structure_dn(structure.siret)
    entry = _stored(structure.dn, m.structure_attrs(structure))
    closed = _replaced(entry, m.structure_state_changes(True, "fusion"))
    assert (m.structure_from(closed).status, m.structure_from(closed).reason) == (
        "closed",
        "fusion",
    )
    assert m.structure_from(_replaced(closed, m.structure_state_changes(False))) == structure


def test_a_service_written_reads_back_the_same() -> None:
    """Its id and name by the map; its SIRET from its place under the structure."""
    service = Service(id="0b5e", name="Comptabilité", siret="12345678200010")
    service.dn = LAYOUT.service_dn(service.siret, service.id)
    attrs = m.service_attrs(service)
    assert attrs["objectClass"] == ["apexService"]
    assert m.service_from(_stored(service.dn, attrs)) == service


def _account() -> Entry:
    draft = m.AccountDraft(
        "anne.martin", "Anne", "Martin", "anne@example.fr", AccountType.COLLABORATEUR,
        LAYOUT.structure_dn("12345678200010"), validated_at=datetime(2026, 12, 1, 9, tzinfo=UTC),
        created_by="agent", validated_by="agent", mobile="+33600000000",
        service_dn=LAYOUT.service_dn("12345678200010", "0b5e"),
    )  # fmt: skip
    return _stored(LAYOUT.account_dn(draft.identifier), m.account_attrs(draft))


def test_an_account_draft_reads_back_as_the_account() -> None:
    """The draft's values come back through the read side of the same map."""
    account = m.account_from(_account())
    assert (account.identifier, account.first_name, account.last_name) == (
        "anne.martin",
        "Anne",
        "Martin",
    )
    assert (account.mail, account.mobile, account.type) == (
        "anne@example.fr",
        "+33600000000",
        "collaborateur",
    )
    assert (account.siret, account.service_id, account.status) == (
        "12345678200010",
        "0b5e",
        "active",
    )
    assert account.validated_at == datetime(2026, 12, 1, 9, tzinfo=UTC)
    assert account.requested_at is None and not account.locked_by_administrator


def test_account_transitions_read_back_as_their_status() -> None:
    """Suspension and closure lock the account by ppolicy's administrative lock; their end
    lifts it."""
    entry = _account()
    suspended = m.account_from(_replaced(entry, m.suspension_changes(True)))
    assert (suspended.status, suspended.locked_by_administrator) == ("suspended", True)
    active = m.account_from(_replaced(entry, m.suspension_changes(False)))
    assert (active.status, active.locked_by_administrator) == ("active", False)
    closed_entry = _replaced(entry, m.closure_changes(True, "g1"))
    closed = m.account_from(closed_entry)
    assert (closed.status, closed.locked_by_administrator, closed.session_generation) == (
        "structure-closed",
        True,
        "g1",
    )
    reopened = m.account_from(_replaced(closed_entry, m.closure_changes(False)))
    assert (reopened.status, reopened.locked_by_administrator) == ("active", False)


def _request() -> CreationRequest:
    siret = "12345678200010"
    return CreationRequest(
        id="a1b2c3", mail="anne@example.fr", type="collaborateur", siret=siret,
        structure_dn=LAYOUT.structure_dn(siret), status="invited", dn=LAYOUT.request_dn("a1b2c3"),
        service_id="0b5e", service_dn=LAYOUT.service_dn(siret, "0b5e"), client_application="app",
        created_by="agent", requested_at=datetime(2026, 12, 1, 9, tzinfo=UTC),
        expires_at=datetime(2026, 12, 8, 9, tzinfo=UTC), token_hash="h",
    )  # fmt: skip


def test_a_request_written_reads_back_the_same() -> None:
    """Every field of the request's map comes back (its service's name aside: a lookup)."""
    req = _request()
    attrs = request_attrs(req)
    assert attrs["objectClass"] == ["apexRequest"]
    assert attrs["apexExpiresAt"] == "20261208090000Z"
    assert request_from(_stored(req.dn, attrs)) == req
    assert set(attrs) - {"objectClass"} <= set(REQUEST_READ)


def _modified(entry: Entry, changes: Changes) -> Entry:
    """The entry after `Directory.modify` (a compare-and-swap assumed won)."""
    attrs = {k: list(v) for k, v in entry.attrs.items()}
    for attr, ops in changes.items():
        for op, values in ops:
            old = attrs.get(attr, [])
            if op == "delete":
                assert all(v in old for v in values), f"{attr}: {values} not in {old}"
                attrs[attr] = [v for v in old if v not in values]
            else:
                attrs[attr] = (old if op == "add" else []) + list(values)
    return Entry(entry.dn, {k: v for k, v in attrs.items() if v})


def test_a_refusal_and_its_undoing_read_back_as_the_request() -> None:
    """A refusal decides (status, reason, who, when; link gone); its undoing puts back the
    request as it was read, compare-and-swap from the status read each way."""
    req = _request()
    entry = _stored(req.dn, request_attrs(req))
    when = datetime(2026, 12, 2, 10, tzinfo=UTC)
    refused_entry = _modified(entry, decision_changes(req, "refused", when, "agent", "doublon"))
    refused = request_from(refused_entry)
    assert (refused.status, refused.reason, refused.decided_by) == ("refused", "doublon", "agent")
    assert refused.decided_at == when and refused.token_hash is None
    back = _modified(refused_entry, undecision_changes(req, "refused", None))
    assert request_from(back) == req
