"""Management screens (issue 10): services, invitations and validations, habilitations and
délégations — each page for each account type, forbidden ones included."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from apexdir.rules.permissions import is_allowed
from tests.helpers import OTHER_SIRET, Cli, make_catalogue, make_right, make_service
from tests.portal.conftest import Browser, text_of

APP = "FICOBA"


@dataclass
class World:
    admin: str
    resp: str
    collab: str
    paie: str  # a collaborateur of another service
    siret: str


def mail_of(identifier: str) -> str:
    first, last = identifier.removesuffix("-px").split(".")
    return f"{first}.{last}@example.org"


@pytest.fixture
def world(app_cli: Cli, structure: str) -> World:
    config = app_cli.config
    profiles = ("CONSULTATION", "CONTROLE", "ARCHIVES")
    make_catalogue(config, APP, "Fichier des comptes bancaires", *profiles)
    make_service(config, structure, "Paie")
    admin = app_cli.create_account(
        structure, "administrateur", "alice.admin@example.org", "Alice", "Admin"
    )
    make_right(config, "grant", admin, APP, "CONSULTATION")
    make_right(config, "grant", admin, APP, "CONTROLE")
    resp = app_cli.create_account(
        structure,
        "responsable",
        "remi.resp@example.org",
        "Remi",
        "Resp",
        service="Comptabilité",
        as_=admin,
    )
    collab = app_cli.create_account(
        structure,
        "collaborateur",
        "colette.collab@example.org",
        "Colette",
        "Collab",
        service="Comptabilité",
        as_=admin,
    )
    paie = app_cli.create_account(
        structure,
        "collaborateur",
        "paul.paie@example.org",
        "Paul",
        "Paie",
        service="Paie",
        as_=admin,
    )
    return World(admin, resp, collab, paie, structure)


@pytest.fixture
def login(app: Flask, app_cli: Cli, tmp_path: Path) -> Any:
    def as_(identifier: str) -> Browser:
        browser = Browser(app.test_client(), tmp_path / "portal-sinks")
        home = browser.login(app_cli, identifier, mail_of(identifier))
        assert home.status_code == 200
        return browser

    return as_


def test_collaborateur_has_no_management_screens(world: World, login: Any) -> None:
    """A collaborateur: 403 on /comptes and /services; his menu does not offer them."""
    browser = login(world.collab)
    home = browser.get("/accueil").text
    assert 'href="/comptes"' not in home and 'href="/services"' not in home
    for path in ("/comptes", "/services", f"/comptes/{world.paie}"):
        page = browser.get(path)
        assert page.status_code == 403, path
        assert "Accès refusé" in text_of(page.text)


def _listed(page_html: str) -> set[str]:
    """The identifiers of the accounts table of /comptes (each links to its page)."""
    return set(re.findall(r'href="/comptes/([^"/?]+)"', page_html))


def test_account_list_and_comptes_list_the_same_accounts(
    world: World, login: Any, app_cli: Cli
) -> None:
    """`account list --as X` and X's /comptes show one set, from one rule
    (`accounts.manageable`): an administrateur his structure, a responsable his service —
    with two services, a responsable in each, and an account of another structure."""
    other = app_cli.create_account(
        world.siret,
        "responsable",
        "pia.paie@example.org",
        "Pia",
        "Paie",
        service="Paie",
        as_=world.admin,
    )
    app_cli.ok(
        "structure", "create", "--siret", OTHER_SIRET, "--category", "Banques", "--name", "B"
    )
    app_cli.ok("service", "create", OTHER_SIRET, "Comptabilité")
    stranger = app_cli.create_account(
        OTHER_SIRET, "administrateur", "sam.autre@example.org", "Sam", "Autre"
    )
    everyone = {world.admin, world.resp, world.collab, world.paie, other}
    expected = {
        world.admin: everyone,
        world.resp: {world.resp, world.collab},
        other: {other, world.paie},
    }
    for who, accounts in expected.items():
        cli = {a["identifier"] for a in app_cli.ok("account", "list", as_=who)}
        page = login(who).get("/comptes")
        assert page.status_code == 200, who
        assert cli == _listed(page.text) == accounts, who
    assert stranger in {a["identifier"] for a in app_cli.ok("account", "list")}


def test_responsable_sees_his_service_only(world: World, login: Any) -> None:
    """The service's accounts; invitations of collaborateurs of his service only; no
    services screen."""
    browser = login(world.resp)
    page = browser.get("/comptes")
    text = text_of(page.text)
    assert world.collab in text and world.paie not in text and world.admin not in text
    options = re.findall(r'<option value="([^"]*)"', page.text)
    assert "collaborateur" in options and "responsable" not in options
    assert "Comptabilité" in options and "Paie" not in options
    assert browser.get("/services").status_code == 403
    # Forged: a collaborateur of another service, by form value.
    browser.get("/comptes")
    forged = browser.post(
        "/comptes",
        {
            "invitation-type_compte": "collaborateur",
            "invitation-service": "Paie",
            "invitation-mail": "x@example.org",
        },
    )
    assert forged.status_code == 403
    assert browser.get(f"/comptes/{world.paie}").status_code == 200  # consultation: structure
    browser.get(f"/comptes/{world.paie}")
    grant = browser.post(
        f"/comptes/{world.paie}/habiliter", {"habiliter-profil": f"{APP}/CONSULTATION"}
    )
    assert grant.status_code == 403


def test_services_create_rename_merge_delete(world: World, login: Any, app_cli: Cli) -> None:
    """The administrator runs his services; a merge shows the accounts moved first."""
    browser = login(world.admin)
    browser.get("/services")
    created = browser.post("/services", {"nom": "Contentieux"}, follow_redirects=True)
    assert "Le service « Contentieux » a été créé." in text_of(created.text)
    duplicate = browser.post("/services", {"nom": "Contentieux"}, follow_redirects=True)
    assert "existe déjà" in text_of(duplicate.text)
    ids = dict(
        re.findall(r'href="/services/([0-9a-z-]+)">([^<]+)</a>', browser.get("/services").text)
    )
    by_name = {v: k for k, v in ids.items()}
    browser.get(f"/services/{by_name['Paie']}")
    renamed = browser.post(
        f"/services/{by_name['Paie']}", {"renommer-nom": "Paie et budget"}, follow_redirects=True
    )
    assert "s'appelle désormais « Paie et budget »" in text_of(renamed.text)
    # Delete refused while an account remains: the page says why.
    page = text_of(browser.get(f"/services/{by_name['Paie']}/supprimer").text)
    assert (
        "Transférez d'abord le compte de ce service" in page
        and "Confirmer la suppression" not in page
    )
    refused = browser.post(f"/services/{by_name['Paie']}/supprimer", follow_redirects=True)
    assert "compte encore 1 compte(s)" in text_of(refused.text)
    # Merge: the récapitulatif lists the account moved, then the confirmation moves it.
    recap = browser.get(
        f"/services/{by_name['Paie']}/fusionner?fusion-cible={by_name['Contentieux']}"
    )
    assert "PAIE Paul" in text_of(recap.text) and "Confirmer la fusion" in text_of(recap.text)
    merged = browser.post(
        f"/services/{by_name['Paie']}/fusionner",
        {"cible": by_name["Contentieux"]},
        follow_redirects=True,
    )
    assert "a été fusionné dans « Contentieux » : 1 compte(s)" in text_of(merged.text)
    assert app_cli.ok("account", "show", world.paie)["service"] == "Contentieux"
    # A service of another structure, or none at all: 404.
    assert browser.get("/services/nimporte-quoi").status_code == 404


def test_invite_validate_and_refuse(world: World, login: Any, app_cli: Cli) -> None:
    """Invitation → the invitee completes → « Valider »; another one « Refuser » with a motif."""
    browser = login(world.admin)
    browser.get("/comptes")
    sent = browser.post(
        "/comptes",
        {
            "invitation-type_compte": "responsable",
            "invitation-service": "Paie",
            "invitation-application": APP,
            "invitation-mail": "rita.resp@example.org",
        },
        follow_redirects=True,
    )
    assert "L'invitation a été envoyée à rita.resp@example.org." in text_of(sent.text)
    assert "Invitation envoyée" in text_of(sent.text)
    app_cli.complete("rita.resp@example.org", "Rita", "Resp")
    page = browser.get("/comptes")
    (request,) = re.findall(r"/comptes/demandes/([0-9a-f]+)/valider", page.text)
    validated = browser.post(f"/comptes/demandes/{request}/valider", follow_redirects=True)
    assert "identifiant rita.resp-px" in text_of(validated.text)
    assert app_cli.ok("account", "show", "rita.resp-px")["type"] == "responsable"
    # A second click on « Valider »: a clear message, no second account, no second mail.
    again = browser.post(f"/comptes/demandes/{request}/valider", follow_redirects=True)
    assert "rita.resp2-px" not in text_of(again.text)
    validations = [
        m for m in app_cli.mails(to="rita.resp@example.org") if "Validation" in m["subject"]
    ]
    assert len(validations) == 1
    # Refusal with a motif, mailed to the requester.
    browser.get("/comptes")
    browser.post(
        "/comptes",
        {
            "invitation-type_compte": "collaborateur",
            "invitation-service": "Paie",
            "invitation-application": "",
            "invitation-mail": "zoe.zed@example.org",
        },
    )
    app_cli.complete("zoe.zed@example.org", "Zoé", "Zed")
    page = browser.get("/comptes")
    (request,) = re.findall(r"/comptes/demandes/([0-9a-f]+)/refuser", page.text)
    browser.get(f"/comptes/demandes/{request}/refuser")
    empty = browser.post(f"/comptes/demandes/{request}/refuser", {"motif": ""})
    assert "Saisissez le motif du refus." in text_of(empty.text)
    done = browser.post(
        f"/comptes/demandes/{request}/refuser",
        {"motif": "Personne inconnue du service"},
        follow_redirects=True,
    )
    assert "a été refusée" in text_of(done.text)
    refusal = app_cli.mails(to="zoe.zed@example.org")[-1]
    assert "Personne inconnue du service" in refusal["body"]


def test_grant_delegate_and_the_responsable_grants(world: World, login: Any, app_cli: Cli) -> None:
    """Administrator: habilitation and délégation of profiles he holds (a forged one is
    refused); the responsable then grants the delegated profile in his service."""
    browser = login(world.admin)
    page = browser.get(f"/comptes/{world.resp}")
    offered = re.findall(r'<option value="([^"]+)"', page.text)
    assert f"{APP}/CONSULTATION" in offered and f"{APP}/ARCHIVES" not in offered
    forged = browser.post(
        f"/comptes/{world.collab}/habiliter", {"habiliter-profil": f"{APP}/ARCHIVES"}
    )
    assert forged.status_code == 403
    assert app_cli.ok("account", "show", world.collab)["habilitations"] == []
    browser.get(f"/comptes/{world.resp}")
    delegated = browser.post(
        f"/comptes/{world.resp}/deleguer",
        {"deleguer-profil": f"{APP}/CONSULTATION"},
        follow_redirects=True,
    )
    # Confirmations name the profile as the page does (application name — profile).
    assert "Le profil « Fichier des comptes bancaires — CONSULTATION » a été délégué" in text_of(
        delegated.text
    )
    responsable = login(world.resp)
    page = responsable.get(f"/comptes/{world.collab}")
    assert f"{APP}/CONSULTATION" in re.findall(r'<option value="([^"]+)"', page.text)
    granted = responsable.post(
        f"/comptes/{world.collab}/habiliter",
        {"habiliter-profil": f"{APP}/CONSULTATION"},
        follow_redirects=True,
    )
    assert "« Fichier des comptes bancaires — CONSULTATION » a été attribué" in text_of(
        granted.text
    )
    assert f"{APP}/CONSULTATION a été" not in text_of(granted.text)
    assert app_cli.ok("account", "show", world.collab)["habilitations"] == [f"{APP}/CONSULTATION"]
    assert [m for m in app_cli.mails(to=mail_of(world.collab)) if "Attribution" in m["subject"]]
    # Withdrawing the délégation keeps the habilitation granted with it, and says so.
    browser.get(f"/comptes/{world.resp}")
    withdrawn = browser.post(
        f"/comptes/{world.resp}/retirer-delegation",
        {"retirer-delegation-profil": f"{APP}/CONSULTATION"},
        follow_redirects=True,
    )
    assert world.collab in text_of(withdrawn.text)
    assert app_cli.ok("account", "show", world.collab)["habilitations"] == [f"{APP}/CONSULTATION"]


def test_deletion_guard_and_transfer(world: World, login: Any, app_cli: Cli) -> None:
    """Deletion refused while habilitations remain (the page lists them); after the
    revocation, the account goes; a transfer moves an account to another service."""
    app_cli.ok("grant", world.collab, APP, "CONSULTATION", as_=world.admin)
    browser = login(world.admin)
    confirm = text_of(browser.get(f"/comptes/{world.collab}/supprimer").text)
    # No confirmation the guard would refuse: what to do first instead.
    assert "Retirez d'abord ses habilitations" in confirm
    assert "Confirmer la suppression" not in confirm
    refused = browser.post(f"/comptes/{world.collab}/supprimer", follow_redirects=True)
    assert "détient encore 1 habilitation(s)" in text_of(refused.text)
    browser.get(f"/comptes/{world.collab}")
    browser.post(f"/comptes/{world.collab}/retirer", {"retirer-profil": f"{APP}/CONSULTATION"})
    browser.get(f"/comptes/{world.collab}/supprimer")
    deleted = browser.post(f"/comptes/{world.collab}/supprimer", follow_redirects=True)
    assert f"Le compte {world.collab} a été supprimé." in text_of(deleted.text)
    app_cli.fails(3, "account", "show", world.collab)
    browser.get(f"/comptes/{world.paie}")
    moved = browser.post(
        f"/comptes/{world.paie}/transferer",
        {"transfert-service": "Comptabilité"},
        follow_redirects=True,
    )
    assert "transféré dans le service « Comptabilité »" in text_of(moved.text)
    # A stale page: the account is gone meanwhile.
    gone = browser.post(f"/comptes/{world.collab}/renvoi-identifiant")
    assert gone.status_code in (302, 404)


def test_other_structure_and_hostile_paths(world: World, login: Any, app_cli: Cli) -> None:
    """An administrator of another structure: 403; hostile identifiers: 404, never a 500."""
    app_cli.ok(
        "structure", "create", "--siret", OTHER_SIRET, "--category", "Banques", "--name", "La Poste"
    )
    other = app_cli.create_account(
        OTHER_SIRET, "administrateur", "oscar.autre@example.org", "Oscar", "Autre"
    )
    browser = login(other)
    assert browser.get(f"/comptes/{world.collab}").status_code == 403
    browser.get("/comptes")
    forged = browser.post(f"/comptes/{world.collab}/supprimer")
    assert forged.status_code == 403
    for bad in ("*", "a%00b", "x" * 3000, "uid=x,ou=people", "%FF%FE"):
        assert browser.get(f"/comptes/{bad}").status_code == 404, bad
    assert browser.post("/comptes/demandes/%2A/valider").status_code in (302, 404)
    assert app_cli.ok("account", "show", world.collab)["identifier"] == world.collab


# The permission table's cells, through the portal: each page answers 403 exactly where
# `apexdir.rules.permissions` refuses the actor (collaborateur and responsable of
# Comptabilité, administrateur), and acts where it allows.
CELLS = [
    # (who, method, path, form, action, target)
    ("GET", "/services", {}, "service_manage", None),
    ("GET", "/comptes/{collab}", {}, "account_view", "collab"),
    ("GET", "/comptes/{paie}", {}, "account_view", "paie"),
    ("GET", "/comptes/{collab}/supprimer", {}, "account_delete", "collab"),
    ("GET", "/comptes/{paie}/supprimer", {}, "account_delete", "paie"),
    ("POST", "/comptes/{collab}/renvoi-identifiant", {}, "resend_identifier", "collab"),
    ("POST", "/comptes/{paie}/renvoi-identifiant", {}, "resend_identifier", "paie"),
    ("POST", "/comptes/{resp}/renvoi-identifiant", {}, "resend_identifier", "resp"),
    (
        "POST",
        "/comptes/{paie}/transferer",
        {"transfert-service": "Comptabilité"},
        "account_transfer",
        "paie",
    ),
    (
        "POST",
        "/comptes/{resp}/deleguer",
        {"deleguer-profil": f"{APP}/CONSULTATION"},
        "delegate",
        "resp",
    ),
]


@pytest.mark.parametrize("who", ["admin", "resp"])
def test_permission_cells(world: World, login: Any, who: str) -> None:
    """403 where the table refuses, never where it allows."""
    from apexdir.rules.permissions import AccountType, Action, Actor, ActorType, Target

    kinds = {
        "admin": AccountType.ADMINISTRATEUR,
        "resp": AccountType.RESPONSABLE,
        "collab": AccountType.COLLABORATEUR,
        "paie": AccountType.COLLABORATEUR,
    }
    services = {"admin": None, "resp": "compta", "collab": "compta", "paie": "paie"}
    me = Actor(
        type=ActorType(kinds[who].value),
        identifier=who,
        structure=world.siret,
        service=services[who],
    )
    browser = login(getattr(world, who))
    for method, path, form, action, target in CELLS:
        url = path.format(collab=world.collab, paie=world.paie, resp=world.resp)
        if target is None:
            aim = Target(structure=world.siret)
        else:
            aim = Target(
                account_type=kinds[target],
                structure=world.siret,
                service=services[target],
                identifier=target,
            )
        allowed = is_allowed(me, Action(action), aim)
        browser.get("/accueil")
        if method == "GET":
            status = browser.get(url).status_code
        else:
            data = {"csrf_token": browser.hidden("csrf_token"), **form}
            status = browser.post(url, data, csrf=False).status_code
        assert (status == 403) is (not allowed), (who, url, status, allowed)
