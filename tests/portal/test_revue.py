"""« Revue des habilitations » (issue 21 item 10) through the test client: the menu and the
home page's notice while a review is open, who may open the page, one submit confirming and
withdrawing, a forged answer refused, the review completed."""

from __future__ import annotations

import re
from typing import Any

from apexdir.directory.repository import Repository
from apexdir.runtime import Runtime
from apexdir.workflows import review
from apexdir.workflows.actors import AGENT
from tests.helpers import Cli, make_right
from tests.portal import test_gestion
from tests.portal.conftest import text_of
from tests.portal.test_gestion import APP, World

world = test_gestion.world
login = test_gestion.login


def field(identifier: str, profile: str) -> str:
    return f"d:{identifier}|{APP}/{profile}"


def grants(app_cli: Cli, world: World) -> None:
    config, admin = app_cli.config, world.admin
    make_right(config, "grant", world.resp, APP, "CONSULTATION", as_=admin)
    make_right(config, "grant", world.collab, APP, "CONSULTATION", as_=admin)
    make_right(config, "grant", world.collab, APP, "CONTROLE", as_=admin)


def test_menu_and_notice_only_while_a_review_is_open(
    world: World, login: Any, rt: Runtime, app_cli: Cli
) -> None:
    """No review: no menu entry, the page says so; open: the entry, the notice, the table."""
    grants(app_cli, world)
    admin = login(world.admin)
    home = admin.get("/accueil").text
    assert 'href="/structure/revue"' not in home
    assert "Aucune revue des habilitations" in text_of(admin.get("/structure/revue").text)
    review.open_review(rt, AGENT, world.siret)
    home = admin.get("/accueil").text
    assert 'href="/structure/revue"' in home and "revue annuelle des habilitations" in home
    page = admin.get("/structure/revue")
    assert page.status_code == 200
    assert 'aria-current="page"' in page.text
    text = text_of(page.text)
    assert "3 habilitations restent à revoir" in text
    for who in (world.resp, world.collab):
        assert who in text
    assert world.admin not in re.sub(r"<header.*?</header>", "", page.text, flags=re.S)
    assert f'name="{field(world.collab, "CONTROLE")}" value="retirer"' in page.text
    assert "Colette COLLAB" in text and "Comptabilité" in text and "Collaborateur" in text


def test_responsable_and_collaborateur_are_refused(
    world: World, login: Any, rt: Runtime, app_cli: Cli
) -> None:
    grants(app_cli, world)
    review.open_review(rt, AGENT, world.siret)
    for who in (world.resp, world.collab):
        browser = login(who)
        assert 'href="/structure/revue"' not in browser.get("/accueil").text
        assert browser.get("/structure/revue").status_code == 403
        refused = browser.post("/structure/revue", {field(world.collab, "CONTROLE"): "retirer"})
        assert refused.status_code == 403


def test_one_submit_confirms_and_withdraws_then_completes(
    world: World, login: Any, rt: Runtime, app_cli: Cli
) -> None:
    """Confirm one, withdraw one (the LDAP entry, the holder's mail), leave one; then the
    last one: « terminée », the menu entry gone; the history shows the confirmations."""
    grants(app_cli, world)
    review.open_review(rt, AGENT, world.siret)
    admin = login(world.admin)
    admin.get("/structure/revue")
    done = admin.post(
        "/structure/revue",
        {
            field(world.collab, "CONSULTATION"): "confirmer",
            field(world.collab, "CONTROLE"): "retirer",
            field(world.resp, "CONSULTATION"): "",
        },
        follow_redirects=True,
    )
    text = text_of(done.text)
    assert "1 habilitation(s) confirmée(s), 1 retirée(s)" in text
    assert 'role="status"' in done.text
    assert "1 habilitation reste à revoir" in text
    held = Repository(rt.directory, rt.layout).account(world.collab).habilitations
    assert held == [f"{APP}/CONSULTATION"]
    subjects = [m["subject"] for m in app_cli.mails(to="colette.collab@example.org")]
    assert "APEX Partenaires – Retrait de profils applicatifs" in subjects
    assert 'value="confirmer" checked' in done.text  # the confirmed one shows as such
    last = admin.post(
        "/structure/revue", {field(world.resp, "CONSULTATION"): "confirmer"}, follow_redirects=True
    )
    assert "La revue des habilitations de votre structure est terminée" in text_of(last.text)
    assert 'href="/structure/revue"' not in admin.get("/accueil").text
    history = text_of(admin.get("/structure/historique").text)
    assert "Habilitation confirmée (revue des habilitations) : FICOBA/CONSULTATION" in history
    assert "Revue des habilitations terminée" in history


def test_forged_or_stale_answers_are_refused(
    world: World, login: Any, rt: Runtime, app_cli: Cli
) -> None:
    """An answer for a habilitation not held, or a value other than the two: an error
    message, nothing written; nothing chosen: said too; no CSRF token: 400."""
    grants(app_cli, world)
    review.open_review(rt, AGENT, world.siret)
    admin = login(world.admin)
    admin.get("/structure/revue")
    stale = admin.post(
        "/structure/revue", {field(world.collab, "ARCHIVES"): "confirmer"}, follow_redirects=True
    )
    assert "n'est pas à revoir" in text_of(stale.text) and 'role="alert"' in stale.text
    odd = admin.post(
        "/structure/revue", {field(world.collab, "CONTROLE"): "oui"}, follow_redirects=True
    )
    assert "Réponse de la revue des habilitations invalide" in text_of(odd.text)
    empty = admin.post("/structure/revue", {}, follow_redirects=True)
    assert "au moins une habilitation" in text_of(empty.text)
    no_token = admin.post(
        "/structure/revue", {field(world.collab, "CONTROLE"): "retirer"}, csrf=False
    )
    assert no_token.status_code == 400
    held = Repository(rt.directory, rt.layout).account(world.collab).habilitations
    assert len(held) == 2
