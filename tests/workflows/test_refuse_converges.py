"""Issue 12 item 1: validate and refuse converge, whatever write slapd died at.

A real slapd (a private instance) is stopped at each write of `validate`; once it is back,
the request is refused: no account may be left for it (none binds, none logs in). A refusal
itself interrupted before it removed the account is finished by running it again.
"""

from __future__ import annotations

from typing import Any

import ldap3
import pytest

from apexdir.config import Settings
from apexdir.directory.connection import Directory
from apexdir.directory.server import SlapdInstance
from apexdir.errors import AuthenticationFailed, Conflict, Unavailable
from apexdir.runtime import Runtime
from apexdir.workflows import auth, precreation
from apexdir.workflows.actors import AGENT
from apexdir.workflows.structures import create_structure
from tests.helpers import PASSWORD, SIRET
from tests.workflows.test_consistency import (  # noqa: F401 (fixture)
    StoppingDirectory,
    _spooled_link,
    private_slapd,
)

REASON = "Pièces justificatives manquantes"


def _submitted(rt: Runtime, mail: str, first: str, last: str) -> str:
    req = precreation.invite(rt, AGENT, siret=SIRET, account_type="administrateur", mail=mail)
    precreation.complete(rt, _spooled_link(rt, mail), last_name=last, first_name=first,
                         mobile=None, password=PASSWORD, confirmation=PASSWORD,
                         submit=True)  # fmt: skip
    return req.id


def _broken(settings: Settings, instance: SlapdInstance, budget: int) -> Runtime:
    rt = Runtime(settings, operator="tester")
    rt.__dict__["directory"] = StoppingDirectory(settings.ldap, instance, budget=budget)
    return rt


def _interrupted(settings: Settings, instance: SlapdInstance, budget: int, func: Any,
                 *args: Any) -> None:  # fmt: skip
    rt = _broken(settings, instance, budget)
    try:
        with pytest.raises(Unavailable):
            func(rt, AGENT, *args)
    finally:
        rt.close()
    instance.start()


def _binds(instance: SlapdInstance, identifier: str) -> bool:
    conn = ldap3.Connection(instance.uri, instance.layout.account_dn(identifier), PASSWORD,
                            receive_timeout=10)  # fmt: skip
    try:
        return bool(conn.bind())
    finally:
        conn.unbind()


def test_refusing_after_each_interrupted_write_of_validate_leaves_no_account(
    private_slapd: tuple[SlapdInstance, Settings],  # noqa: F811
) -> None:
    """slapd stopped before the reservation, before the account, before the acceptance:
    the refusal succeeds and no account binds or logs in; a re-run of validate is refused."""
    instance, settings = private_slapd
    rt = Runtime(settings, operator="tester")
    people = [("Marie", "Martin"), ("Cathy", "Noël"), ("Sylvie", "d'Alembert")]
    identifiers = ["marie.martin-px", "cathy.noel-px", "sylvie.dalembert-px"]
    try:
        create_structure(rt, AGENT, siret=SIRET, category="Banques", name="Banque Exemple")
        requests = [_submitted(rt, f"r{i}@example.org", *p) for i, p in enumerate(people)]
    finally:
        rt.close()
    for budget, request, identifier in zip((0, 1, 2), requests, identifiers, strict=True):
        _interrupted(settings, instance, budget, precreation.validate, request)
        with Directory(settings.ldap) as directory:
            created = directory.exists(instance.layout.account_dn(identifier))
        assert created == (budget == 2)  # the last write left an account behind
        rt = Runtime(settings, operator="tester")
        try:
            done = precreation.refuse(rt, AGENT, request, REASON)
            assert done.status == "refused"
            with Directory(settings.ldap) as directory:
                assert not directory.exists(instance.layout.account_dn(identifier))
            assert not _binds(instance, identifier)
            with pytest.raises(AuthenticationFailed):
                auth.login(rt, identifier, PASSWORD)
            with pytest.raises(Conflict, match="est refusée : seul un formulaire envoyé"):
                precreation.validate(rt, AGENT, request)
        finally:
            rt.close()


def test_a_refusal_interrupted_before_removing_the_account_is_finished_by_a_rerun(
    private_slapd: tuple[SlapdInstance, Settings],  # noqa: F811
) -> None:
    """The account exists (validation cut after it), the refusal is cut after its decision:
    running the refusal again removes the account."""
    instance, settings = private_slapd
    rt = Runtime(settings, operator="tester")
    try:
        create_structure(rt, AGENT, siret=SIRET, category="Banques", name="Banque Exemple")
        request = _submitted(rt, "r@example.org", "Marie", "Martin")
    finally:
        rt.close()
    _interrupted(settings, instance, 2, precreation.validate, request)
    _interrupted(settings, instance, 1, precreation.refuse, request, REASON)
    assert _binds(instance, "marie.martin-px")  # decided, but the account is still there
    rt = Runtime(settings, operator="tester")
    try:
        assert precreation.refuse(rt, AGENT, request, REASON).status == "refused"
    finally:
        rt.close()
    assert not _binds(instance, "marie.martin-px")
