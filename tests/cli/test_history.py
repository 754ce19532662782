"""`apexdir journal --structure SIRET` and `--as` (issue 21 item 8): the structure's
history from the directory, in each account type's reach, with its filters."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from apexdir.daemon.jobs import housekeeping
from apexdir.directory.events import EventStore
from apexdir.models import Event
from apexdir.rules.history import new_event_id
from apexdir.runtime import Runtime
from tests.helpers import OTHER_SIRET, Cli, make_catalogue, make_right, make_service, make_structure

APP = "FICOBA"


@dataclass
class World:
    siret: str
    admin: str
    resp: str
    collab: str
    paie: str


@pytest.fixture
def world(app_cli: Cli) -> World:
    config = app_cli.config
    siret = make_structure(config, "73282932000074", "Banque Exemple")
    make_catalogue(config, APP, "Fichier des comptes bancaires", "CONSULTATION")
    for name in ("Comptabilité", "Paie"):
        make_service(config, siret, name)
    admin = app_cli.create_account(siret, "administrateur", "alice.admin@example.org", "Alice",
                                   "Admin")  # fmt: skip
    make_right(config, "grant", admin, APP, "CONSULTATION")
    kw = {"as_": admin}
    resp = app_cli.create_account(siret, "responsable", "remi.resp@example.org", "Remi", "Resp",
                                  service="Comptabilité", **kw)  # fmt: skip
    collab = app_cli.create_account(siret, "collaborateur", "colette.collab@example.org",
                                    "Colette", "Collab", service="Comptabilité", **kw)  # fmt: skip
    paie = app_cli.create_account(siret, "collaborateur", "paul.paie@example.org", "Paul",
                                  "Paie", service="Paie", **kw)  # fmt: skip
    make_right(config, "grant", collab, APP, "CONSULTATION", as_=admin)
    make_right(config, "grant", paie, APP, "CONSULTATION", as_=admin)
    return World(siret, admin, resp, collab, paie)


def test_an_agent_reads_a_structures_history(app_cli: Cli, world: World) -> None:
    """Every event of the structure, newest first, with who and the French label."""
    rows = app_cli.ok("journal", "--structure", world.siret)
    actions = [r["action"] for r in rows]
    assert actions[0] == "grant" and actions[-1] == "structure.create"
    assert {"account.invite", "account.complete", "account.validate", "service.create"} <= set(
        actions
    )
    grant = rows[0]
    assert grant["target"] == world.paie and grant["actor"] == world.admin
    assert grant["label"] == "Profil applicatif attribué"
    assert grant["details"]["profile"] == f"{APP}/CONSULTATION"
    first_grant = next(r for r in rows if r["action"] == "grant" and r["target"] == world.admin)
    assert first_grant["actor"] is None and first_grant["operator"]  # an agent, by OS user


def test_the_nodes_journal_without_structure_is_unchanged(app_cli: Cli, world: World) -> None:
    """Without --structure an agent still reads this node's journal, logins included."""
    rows = app_cli.ok("journal")
    assert "auth.verified" not in {r["action"] for r in rows}  # never logged in: none
    assert {"grant", "account.invite"} <= {r["action"] for r in rows}
    app_cli.fails(2, "journal", "--action", "grant")


def test_each_account_type_reads_its_own_reach(app_cli: Cli, world: World) -> None:
    """Administrateur: the structure; responsable: his service; collaborateur: refused."""
    mine = app_cli.ok("journal", as_=world.admin)
    assert {r["target"] for r in mine if r["action"] == "grant"} == {
        world.admin,
        world.collab,
        world.paie,
    }
    resp = app_cli.ok("journal", as_=world.resp)
    targets = {r["target"] for r in resp if r["action"] == "grant"}
    assert targets == {world.collab}  # not Paie's, not the administrateur's
    assert all(r["service"] is not None for r in resp)
    assert "un collaborateur ne peut pas consulter l'historique" in app_cli.fails(
        4, "journal", as_=world.collab
    )
    app_cli.fails(4, "journal", "--structure", OTHER_SIRET, as_=world.admin)


def test_filters_by_account_action_and_period(app_cli: Cli, world: World) -> None:
    """--account matches who acted or whom it concerned; --action one code; --since."""
    by_paie = app_cli.ok("journal", "--structure", world.siret, "--account", world.paie)
    assert {r["action"] for r in by_paie} == {"account.validate", "grant"}
    grants = app_cli.ok("journal", "--structure", world.siret, "--action", "grant")
    assert len(grants) == 3
    assert app_cli.ok("journal", "--structure", world.siret, "--since", "2999-01-01") == []
    assert "Action inconnue" in app_cli.fails(1, "journal", "--structure", world.siret,
                                               "--action", "nope")  # fmt: skip


def test_housekeeping_purges_events_past_retention(app_cli: Cli, world: World, rt: Runtime) -> None:
    """Events older than journal_retention_days leave the directory; the others stay."""
    store = EventStore(rt.directory, rt.layout)
    now = datetime.now(UTC)
    for days in (401, 450, 399):
        moment = now - timedelta(days=days)
        store.add(Event(id=new_event_id(moment), at=moment, action="grant",
                        structure=world.siret, target=world.paie))  # fmt: skip
    before = len(app_cli.ok("journal", "--structure", world.siret))
    assert housekeeping.run_directory(rt)["events_purged"] == 2
    assert len(app_cli.ok("journal", "--structure", world.siret)) == before - 2


def test_suspension_and_a_move_are_in_the_history_which_follows_the_new_siret(
    app_cli: Cli, world: World
) -> None:
    """The structure's life is in its history, and its events follow it to a new SIRET."""
    app_cli.ok("account", "suspend", world.paie, "--reason", "Départ", as_=world.admin)
    before = app_cli.ok("journal", "--structure", world.siret)
    assert before[0]["action"] == "account.suspend" and before[0]["label"] == "Compte suspendu"
    app_cli.ok("structure", "move", world.siret, "--to", OTHER_SIRET)
    after = app_cli.ok("journal", "--structure", OTHER_SIRET)
    assert after[0]["action"] == "structure.move"
    assert [r["action"] for r in after[1:]] == [r["action"] for r in before]
    assert {r["structure"] for r in after} == {OTHER_SIRET}
    app_cli.fails(3, "journal", "--structure", world.siret)  # the old SIRET names nothing
