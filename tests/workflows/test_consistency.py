"""Issue 3 §4: a multi-write command interrupted half-way is finished by running it again.

The interruption is real: our own directory adapter stops writing after N writes (it raises
what an unreachable server raises), or the slapd of a private instance is stopped between
two writes. Then the command runs again, through the CLI or the library, and the final state
is checked in the directory.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from apexdir.cli.context import exit_code
from apexdir.config import LdapSettings, Settings
from apexdir.directory.connection import Changes, Directory
from apexdir.directory.provision import initialize
from apexdir.directory.server import SlapdInstance
from apexdir.errors import Unavailable
from apexdir.runtime import Runtime
from apexdir.workflows import precreation, rights, services
from apexdir.workflows.accounts import update_personal_data
from apexdir.workflows.actors import AGENT
from apexdir.workflows.structures import create_structure
from tests.cli import flows
from tests.cli.flows import APP, READ
from tests.conftest import make_settings
from tests.helpers import OTHER_SIRET, PASSWORD, SIRET, Cli


class FailingDirectory(Directory):
    """apexdir's adapter that lets `budget` writes through, then fails as a dead server does."""

    def __init__(self, settings: LdapSettings, budget: int) -> None:
        super().__init__(settings)
        self.budget = budget
        self.writes = 0

    def _write(self, what: str) -> None:
        if self.writes >= self.budget:
            raise Unavailable(
                f"directory unavailable (injected after {self.writes} writes): {what}"
            )
        self.writes += 1

    def add(self, dn: str, attributes: Any) -> None:
        self._write(f"add {dn}")
        super().add(dn, attributes)

    def modify(self, dn: str, changes: Changes) -> None:
        self._write(f"modify {dn}")
        super().modify(dn, changes)

    def delete(self, dn: str) -> None:
        self._write(f"delete {dn}")
        super().delete(dn)


def failing(settings: Settings, budget: int) -> Runtime:
    rt = Runtime(settings, operator="tester")
    rt.__dict__["directory"] = FailingDirectory(settings.ldap, budget)
    return rt


def run_failing(settings: Settings, budget: int, func: Any, *args: Any, **kwargs: Any) -> None:
    rt = failing(settings, budget)
    try:
        with pytest.raises(Unavailable):
            func(rt, *args, **kwargs)
        assert rt.directory.writes == budget  # type: ignore[attr-defined]
    finally:
        rt.close()


def service_ref(slapd: SlapdInstance, identifier: str) -> str:
    entry = flows.entry(slapd, identifier)
    assert entry is not None
    return str(entry.get("apexServiceRef"))


def test_merge_interrupted_at_every_step_is_finished_by_running_it_again(
    app_cli: Cli, settings: Settings, slapd: SlapdInstance
) -> None:
    """Moves are interrupted, then the final delete: each re-run goes on; the DNs never change."""
    flows.structure(app_cli, SIRET, "Banque Exemple", "Source", "Cible")
    people = [
        flows.account(
            app_cli,
            SIRET,
            "collaborateur",
            f"c{i}@example.org",
            "Jean",
            f"Nom{chr(65 + i)}",
            service="Source",
        )
        for i in range(3)
    ]
    request = flows.invite(app_cli, SIRET, "responsable", "r@example.org", "Source")
    dns = {i: flows.entry(slapd, i).dn.lower() for i in people}  # type: ignore[union-attr]
    for budget in (2, 1, 1):  # 2 moves, 1 move, the last move then the delete fails
        run_failing(settings, budget, services.merge_services, AGENT, SIRET, "Source", "Cible")
        names = [s["name"] for s in app_cli.ok("service", "list", SIRET)]
        assert names == ["Cible", "Source"], "the source stays until everything has moved"
    result = app_cli.ok("service", "merge", SIRET, "Source", "Cible")
    assert result == {"source": "Source", "target": "Cible", "moved": 0, "requests_moved": 0}
    assert [s["name"] for s in app_cli.ok("service", "list", SIRET)] == ["Cible"]
    target_dn = {s.name: s.dn for s in _services(settings)}["Cible"]
    for identifier in people:
        assert flows.entry(slapd, identifier).dn.lower() == dns[identifier]  # type: ignore[union-attr]
        assert service_ref(slapd, identifier).lower() == target_dn.lower()
        assert app_cli.ok("account", "show", identifier)["service"] == "Cible"
    pending = app_cli.ok("account", "pending")
    assert [(p["request_id"], p["service"]) for p in pending] == [(request, "Cible")]


def _services(settings: Settings) -> list[Any]:
    from apexdir.directory.repository import Repository

    rt = Runtime(settings)
    try:
        return Repository(rt.directory, rt.layout).services(SIRET)
    finally:
        rt.close()


def _request_identifier(slapd: SlapdInstance, request_id: str) -> str | None:
    with flows.admin(slapd) as directory:
        entry = directory.get(slapd.layout.request_dn(request_id), ["apexIdentifier"])
    return str(entry.get("apexIdentifier")) if entry and entry.get("apexIdentifier") else None


def test_validate_interrupted_at_each_write_creates_one_account(
    app_cli: Cli, settings: Settings, slapd: SlapdInstance
) -> None:
    """Before the reservation, after it, after the account: the re-run ends with one account."""
    flows.structure(app_cli, SIRET, "Banque Exemple")
    names = [("Marie", "Martin"), ("Cathy", "Noël"), ("Sylvie", "d'Alembert")]
    requests = []
    for i, (first, last) in enumerate(names):
        mail = f"v{i}@example.org"
        requests.append(flows.invite(app_cli, SIRET, "administrateur", mail))
        flows.complete(app_cli, mail, first, last)
    expected = ["marie.martin-px", "cathy.noel-px", "sylvie.dalembert-px"]
    for budget, request, identifier in zip((0, 1, 2), requests, expected, strict=True):
        run_failing(settings, budget, precreation.validate, AGENT, request)
        reserved = _request_identifier(slapd, request)
        assert reserved == (identifier if budget else None)
        assert (flows.entry(slapd, identifier) is not None) == (budget == 2)
        assert app_cli.ok("account", "pending", "--status", "submitted")  # still pending
        assert app_cli.ok("account", "validate", request)["identifier"] == identifier
        assert app_cli.ok("account", "validate", request)["identifier"] == identifier  # again
        assert flows.bind(slapd, identifier)
        assert flows.mails_to(app_cli, f"v{budget}@example.org", "validation")
    accounts = app_cli.ok("account", "list")
    assert sorted(a["identifier"] for a in accounts) == sorted(expected)
    accepted = app_cli.ok("account", "pending", "--status", "accepted")
    assert sorted(p["request_id"] for p in accepted) == sorted(requests)
    with flows.admin(slapd) as directory:
        for request in requests:
            held = directory.get(slapd.layout.request_dn(request), ["apexPendingPassword"])
            assert held is not None and not held.attrs.get("apexPendingPassword")


def test_rerun_never_adopts_another_persons_account(
    app_cli: Cli, settings: Settings, slapd: SlapdInstance
) -> None:
    """The identifier reserved by an interrupted run was taken since by someone with the same
    name and address, in another structure: the re-run creates its own account, numbered."""
    flows.structure(app_cli, SIRET, "Banque Exemple")
    flows.structure(app_cli, OTHER_SIRET, "La Poste")
    first = flows.invite(app_cli, SIRET, "administrateur", "marie@example.org")
    flows.complete(app_cli, "marie@example.org", "Marie", "Martin")
    run_failing(settings, 1, precreation.validate, AGENT, first)
    assert _request_identifier(slapd, first) == "marie.martin-px"
    second = flows.invite(app_cli, OTHER_SIRET, "administrateur", "marie@example.org")
    flows.complete(app_cli, "marie@example.org", "Marie", "Martin")
    assert app_cli.ok("account", "validate", second)["identifier"] == "marie.martin-px"
    assert app_cli.ok("account", "validate", first)["identifier"] == "marie.martin2-px"
    shown = {a["identifier"]: a["siret"] for a in app_cli.ok("account", "list")}
    assert shown == {"marie.martin-px": OTHER_SIRET, "marie.martin2-px": SIRET}


class BrokenOutbox:
    """A spool that cannot take a message (state store unavailable)."""

    def enqueue_mail(self, *args: Any, **kwargs: Any) -> int:
        raise Unavailable("state store unavailable: queue a message")


def test_a_write_whose_mail_cannot_be_queued_is_undone(
    app_cli: Cli, settings: Settings, slapd: SlapdInstance
) -> None:
    """invite, grant, delegate, me update, refuse: no mail, no change; validate: no mail, the
    request still pending — and running each again works."""
    w = flows.world(app_cli)
    request = flows.invite(app_cli, SIRET, "administrateur", "v@example.org")
    flows.complete(app_cli, "v@example.org", "Victor", "Hugo", "06 12 34 56 78")
    before = flows.snapshot(slapd)
    rt = Runtime(settings, operator="tester")
    rt.__dict__["outbox"] = BrokenOutbox()
    try:
        calls = [
            lambda: precreation.invite(
                rt, AGENT, siret=SIRET, account_type="administrateur", mail="new@example.org"
            ),
            lambda: rights.grant(rt, AGENT, w.collab1, APP, READ),
            lambda: rights.delegate(rt, AGENT, w.resp2, APP, READ),
            lambda: update_personal_data(
                rt, AGENT, w.collab1, mail="new@example.org", last_name="Autre", mobile=""
            ),
        ]
        calls.append(lambda: precreation.refuse(rt, AGENT, request, "Non"))
        for call in calls:
            with pytest.raises(Unavailable):
                call()
            assert flows.snapshot(slapd) == before
        # A validation keeps the account it made, and puts the request back as submitted.
        with pytest.raises(Unavailable):
            precreation.validate(rt, AGENT, request)
        assert flows.entry(slapd, "victor.hugo-px") is not None
        assert [p["request_id"] for p in app_cli.ok("account", "pending")] == [request]
    finally:
        rt.close()
    assert app_cli.ok("account", "validate", request)["identifier"] == "victor.hugo-px"
    assert flows.mails_to(app_cli, "v@example.org", "validation")
    assert len(app_cli.ok("account", "list", "--type", "administrateur")) == 3
    flows.invite(app_cli, SIRET, "administrateur", "new@example.org")
    app_cli.ok("grant", w.collab1, APP, READ)
    app_cli.ok("delegate", w.resp2, APP, READ)
    app_cli.ok("me", "update", w.collab1, "--mail", "new@example.org")


# ---------------------------------------------------------------------- a real stop of slapd
@pytest.fixture
def private_slapd(tmp_path: Path, sinks: Any) -> Iterator[tuple[SlapdInstance, Settings]]:
    """A slapd of this test alone: stopping it disturbs no other test."""
    instance = SlapdInstance(tmp_path / "slapd", dbnosync=True, lastbind_precision=0)
    instance.start()
    settings = make_settings(instance, sinks, tmp_path / "state.db")
    settings.ldap.connect_timeout = 1
    with Directory(settings.ldap) as directory:
        initialize(directory, Runtime(settings).layout, settings.policy)
    yield instance, settings
    instance.destroy()


class StoppingDirectory(Directory):
    """Stops the server itself after `budget` writes: the next write meets a dead slapd."""

    def __init__(self, settings: LdapSettings, instance: SlapdInstance, budget: int) -> None:
        super().__init__(settings)
        self.instance = instance
        self.budget = budget

    def _write(self) -> None:
        if self.budget == 0:
            self.instance.stop()
        self.budget -= 1

    def add(self, dn: str, attributes: Any) -> None:
        self._write()
        super().add(dn, attributes)

    def modify(self, dn: str, changes: Changes) -> None:
        self._write()
        super().modify(dn, changes)

    def delete(self, dn: str) -> None:
        self._write()
        super().delete(dn)


def _spooled_link(rt: Runtime, mail: str) -> str:
    rows = rt.db.execute("SELECT recipients, body_text FROM outbox ORDER BY id").fetchall()
    bodies = [body for to, body in rows if mail in json.loads(to)]
    found = re.findall(r"URL : (\S+)", "\n".join(bodies))
    assert found, mail
    return str(found[-1])


def test_slapd_stopped_in_the_middle_of_a_merge_and_of_a_validation(
    private_slapd: tuple[SlapdInstance, Settings],
) -> None:
    """slapd dies between two writes (exit 5); once it is back, the same command finishes."""
    instance, settings = private_slapd
    rt = Runtime(settings, operator="tester")
    try:
        create_structure(rt, AGENT, siret=SIRET, category="Banques", name="Banque Exemple")
        for name in ("Source", "Cible"):
            services.create_service(rt, AGENT, SIRET, name)
        requests = []
        for i, (first, last) in enumerate(
            [("Marie", "Martin"), ("Jean", "Dupont"), ("Léa", "Roux")]
        ):
            mail = f"p{i}@example.org"
            req = precreation.invite(
                rt, AGENT, siret=SIRET, account_type="collaborateur", mail=mail, service="Source"
            )
            precreation.complete(
                rt,
                _spooled_link(rt, mail),
                last_name=last,
                first_name=first,
                mobile=None,
                password=PASSWORD,
                confirmation=PASSWORD,
                submit=True,
            )
            requests.append(req.id)
        for req in requests[:2]:
            precreation.validate(rt, AGENT, req)
    finally:
        rt.close()

    # The validation of the third: slapd stops once the identifier is reserved, before the
    # account is added.
    broken = Runtime(settings, operator="tester")
    broken.__dict__["directory"] = StoppingDirectory(settings.ldap, instance, budget=1)
    with pytest.raises(Unavailable) as info:
        precreation.validate(broken, AGENT, requests[2])
    assert exit_code(info.value) == 5
    broken.close()
    instance.start()
    with Directory(settings.ldap) as directory:
        held = directory.get(broken.layout.request_dn(requests[2]), ["apexIdentifier"])
        assert held is not None and held.get("apexIdentifier") == "lea.roux-px"
        assert not directory.exists(broken.layout.account_dn("lea.roux-px"))

    # The merge: slapd stops after the first account moved.
    broken = Runtime(settings, operator="tester")
    broken.__dict__["directory"] = StoppingDirectory(settings.ldap, instance, budget=1)
    with pytest.raises(Unavailable):
        services.merge_services(broken, AGENT, SIRET, "Source", "Cible")
    broken.close()
    instance.start()

    rt = Runtime(settings, operator="tester")
    try:
        assert precreation.validate(rt, AGENT, requests[2]).identifier == "lea.roux-px"
        result = services.merge_services(rt, AGENT, SIRET, "Source", "Cible")
        # One account had moved before slapd stopped; the other and the one just validated
        # (its request was still in Source) move now.
        assert (result.moved, result.requests_moved) == (2, 0)
        from apexdir.directory.repository import Repository

        repo = Repository(rt.directory, rt.layout)
        assert [s.name for s in repo.services(SIRET)] == ["Cible"]
        accounts = repo.accounts(siret=SIRET)
        assert sorted(a.identifier for a in accounts) == [
            "jean.dupont-px",
            "lea.roux-px",
            "marie.martin-px",
        ]
        assert {a.service for a in accounts} == {"Cible"}
        assert all(r.status == "accepted" for r in repo.requests(siret=SIRET))
    finally:
        rt.close()
