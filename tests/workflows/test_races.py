"""Two people acting on the same creation request at the same moment: one outcome, not two.

The race is made deterministic with our own directory adapter: before its N-th write it lets
another actor (through the CLI) run the competing command to the end.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from apexdir.config import LdapSettings, Settings
from apexdir.directory.connection import Changes, Directory
from apexdir.directory.server import SlapdInstance
from apexdir.errors import Conflict, Invalid
from apexdir.runtime import Runtime
from apexdir.workflows import precreation
from apexdir.workflows.actors import AGENT
from tests.cli import flows
from tests.helpers import PASSWORD, SIRET, Cli


class RacingDirectory(Directory):
    """Before write number `at` (1-based), runs `meanwhile` once."""

    def __init__(self, settings: LdapSettings, at: int, meanwhile: Callable[[], None]) -> None:
        super().__init__(settings)
        self.at = at
        self.meanwhile = meanwhile
        self.writes = 0

    def _write(self) -> None:
        self.writes += 1
        if self.writes == self.at:
            self.meanwhile()

    def add(self, dn: str, attributes: Any) -> None:
        self._write()
        super().add(dn, attributes)

    def modify(self, dn: str, changes: Changes) -> None:
        self._write()
        super().modify(dn, changes)

    def delete(self, dn: str) -> None:
        self._write()
        super().delete(dn)


def racing(settings: Settings, at: int, meanwhile: Callable[[], None]) -> Runtime:
    rt = Runtime(settings, operator="tester")
    rt.__dict__["directory"] = RacingDirectory(settings.ldap, at, meanwhile)
    return rt


def submitted(cli: Cli, mail: str = "m@example.org") -> str:
    flows.structure(cli, SIRET, "Banque Exemple")
    request = flows.invite(cli, SIRET, "administrateur", mail)
    flows.complete(cli, mail, "Marie", "Martin")
    return request


@pytest.mark.parametrize("at", [1, 2, 3], ids=["before-reserve", "before-add", "before-accept"])
def test_two_validators_make_one_account(
    app_cli: Cli, settings: Settings, slapd: SlapdInstance, at: int
) -> None:
    """Whatever write the other validator overtakes, one account, one identifier, accepted."""
    request = submitted(app_cli)
    other = lambda: app_cli.ok("account", "validate", request)  # noqa: E731
    rt = racing(settings, at, other)
    try:
        assert precreation.validate(rt, AGENT, request).identifier == "marie.martin-px"
    finally:
        rt.close()
    assert [a["identifier"] for a in app_cli.ok("account", "list")] == ["marie.martin-px"]
    accepted = app_cli.ok("account", "pending", "--status", "accepted")
    assert [p["request_id"] for p in accepted] == [request]
    assert flows.bind(slapd, "marie.martin-px")
    assert flows.mails_to(app_cli, "m@example.org", "validation")


def test_a_refusal_overtaking_a_validation_leaves_no_account(
    app_cli: Cli, settings: Settings, slapd: SlapdInstance
) -> None:
    """Refused while the account was being created: the account goes, no validation mail."""
    request = submitted(app_cli)
    other = lambda: app_cli.ok("account", "refuse", request, "--reason", "Doublon")  # noqa: E731
    rt = racing(settings, 3, other)
    try:
        with pytest.raises(Conflict, match="a été refusée entre-temps"):
            precreation.validate(rt, AGENT, request)
    finally:
        rt.close()
    assert app_cli.ok("account", "list") == []
    assert flows.entry(slapd, "marie.martin-px") is None
    assert flows.mails_to(app_cli, "m@example.org", "refusal")
    assert not flows.mails_to(app_cli, "m@example.org", "validation")


def test_a_validation_overtaking_a_refusal_wins(app_cli: Cli, settings: Settings) -> None:
    """Accepted while the refusal was being written: the refusal is refused, no refusal mail."""
    request = submitted(app_cli)
    other = lambda: app_cli.ok("account", "validate", request)  # noqa: E731
    rt = racing(settings, 1, other)
    try:
        with pytest.raises(Conflict, match="est acceptée"):
            precreation.refuse(rt, AGENT, request, "Doublon")
    finally:
        rt.close()
    assert [a["identifier"] for a in app_cli.ok("account", "list")] == ["marie.martin-px"]
    assert not flows.mails_to(app_cli, "m@example.org", "refusal")


def test_one_link_submitted_twice_at_once(app_cli: Cli, settings: Settings) -> None:
    """The second submission of a link (racing the first) is refused; the first one stands."""
    flows.structure(app_cli, SIRET, "Banque Exemple")
    request = flows.invite(app_cli, SIRET, "administrateur", "m@example.org")
    link = app_cli.link_for("m@example.org")
    form = ["account", "complete", link, "--last-name", "Martin", "--first-name", "Marie", "--yes"]
    other = lambda: app_cli.ok(*form, input=f"{PASSWORD}\n{PASSWORD}\n")  # noqa: E731
    rt = racing(settings, 1, other)
    try:
        with pytest.raises(Invalid, match="déjà été utilisé"):
            precreation.complete(
                rt,
                link,
                last_name="Autre",
                first_name="Nom",
                mobile=None,
                password=PASSWORD,
                confirmation=PASSWORD,
                submit=True,
            )
    finally:
        rt.close()
    assert app_cli.ok("account", "validate", request)["identifier"] == "marie.martin-px"
