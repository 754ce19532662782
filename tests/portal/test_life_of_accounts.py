"""« Suspendre » / « Réactiver » on /comptes/<identifier>, the last administrateur's
explanation, and what a suspended person meets at the portal (SPEC §10, issue 21)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

from flask import Flask

from apexdir.directory.server import SlapdInstance
from tests.helpers import Cli
from tests.portal import test_gestion as gestion
from tests.portal.conftest import PASSWORD, Browser, text_of
from tests.portal.test_gestion import APP, World, mail_of

# The management screens' fixtures: a structure with each type of account, logged in.
world = gestion.world
login = gestion.login

SUSPENDED = "APEX Partenaires – Suspension de votre compte APEX Partenaires"


def _raw_bind(slapd: SlapdInstance, identifier: str) -> int:
    dn = slapd.layout.account_dn(identifier)
    return subprocess.run(
        ["ldapwhoami", "-x", "-H", slapd.uri, "-D", dn, "-w", PASSWORD],
        capture_output=True,
        check=False,
    ).returncode


def _suspend_form(browser: Browser, identifier: str, motif: str) -> dict[str, str]:
    page = browser.get(f"/comptes/{identifier}")
    assert '<label class="fr-label" for="suspendre-motif">Motif' in page.text
    assert ">Suspendre</button>" in page.text
    token = re.findall(r'name="suspendre-csrf_token"[^>]*value="([^"]+)"', page.text)
    assert token, "no suspension form"
    return {"suspendre-csrf_token": token[0], "suspendre-motif": motif}


def test_suspend_and_reactivate_from_the_account_page(
    world: World, login: Any, app_cli: Cli, slapd: SlapdInstance
) -> None:
    """The administrateur suspends with a motif: the person's open session ends, slapd
    refuses her binds, the mail quotes the motif; « Réactiver » lifts it all."""
    victim = login(world.collab)  # a session open before the suspension
    assert victim.get("/accueil").status_code == 200
    admin = login(world.admin)
    form = _suspend_form(admin, world.collab, "Absence prolongée")
    done = admin.post(f"/comptes/{world.collab}/suspendre", form, csrf=False, follow_redirects=True)
    text = text_of(done.text)
    assert f"Le compte {world.collab} est suspendu" in text
    assert "Statut Suspendu" in text and ">Réactiver</button>" in done.text
    assert ">Suspendre</button>" not in done.text
    assert _raw_bind(slapd, world.collab) == 49
    ended = victim.get("/accueil")
    assert ended.status_code == 302 and "/connexion" in ended.location
    bodies = [m["body"] for m in app_cli.mails(to=mail_of(world.collab))
              if m["subject"] == SUSPENDED]  # fmt: skip
    assert bodies and 'Motif indiqué : "Absence prolongée"' in bodies[-1]

    back = admin.post(f"/comptes/{world.collab}/reactiver", follow_redirects=True)
    assert f"Le compte {world.collab} est réactivé" in text_of(back.text)
    assert "Statut Actif" in text_of(back.text)
    assert _raw_bind(slapd, world.collab) == 0
    assert login(world.collab).get("/accueil").status_code == 200


def test_a_suspended_account_logs_in_like_an_unknown_one(
    world: World, app: Flask, app_cli: Cli, tmp_path: Path
) -> None:
    """With the right password, the login page says what it says of an unknown identifier."""
    app_cli.ok("account", "suspend", world.collab)

    def answer(identifier: str) -> tuple[int, str]:
        browser = Browser(app.test_client(), tmp_path / "portal-sinks")
        browser.get("/connexion")
        page = browser.post("/connexion", {"identifiant": identifier, "mot_de_passe": PASSWORD})
        found = re.findall(r'<div class="fr-alert fr-alert--error.*?</div>', page.text, re.S)
        return page.status_code, text_of(found[0] if found else "")

    suspended, unknown = answer(world.collab), answer("personne.inconnue-px")
    assert suspended == unknown
    assert "Identifiant ou mot de passe incorrect" in suspended[1]


def test_last_administrateur_is_explained_and_refusals_are_french(
    world: World, login: Any, app_cli: Cli
) -> None:
    """His page says why he can be neither deleted, suspended nor retyped; a responsable
    and a collaborateur cannot suspend (403); a motif carrying a link is refused in French."""
    admin = login(world.admin)
    own = text_of(admin.get(f"/comptes/{world.admin}").text)
    assert "Dernier administrateur actif" in own
    assert "ne peut être ni supprimé, ni suspendu, ni changer de type" in own
    assert "Dernier administrateur actif" not in text_of(admin.get(f"/comptes/{world.collab}").text)

    form = _suspend_form(admin, world.paie, "voir https://evil.example")
    refused = admin.post(
        f"/comptes/{world.paie}/suspendre", form, csrf=False, follow_redirects=True
    )
    assert "lien" in text_of(refused.text).lower()
    assert app_cli.ok("account", "show", world.paie)["status"] == "active"

    for who in (world.resp, world.collab):
        browser = login(who)
        browser.get("/accueil")
        data = {"csrf_token": browser.hidden("csrf_token")}
        assert browser.post(f"/comptes/{world.paie}/suspendre", data, csrf=False).status_code == 403
        assert browser.post(f"/comptes/{world.paie}/reactiver", data, csrf=False).status_code == 403
    assert app_cli.ok("account", "show", world.paie)["status"] == "active"


def test_revoke_tells_the_holder(world: World, login: Any, app_cli: Cli) -> None:
    """« Retirer » on the page: the holder gets « Retrait de profils applicatifs »."""
    app_cli.ok("grant", world.collab, APP, "CONSULTATION", as_=world.admin)
    admin = login(world.admin)
    admin.get(f"/comptes/{world.collab}")
    page = admin.post(
        f"/comptes/{world.collab}/retirer",
        {"retirer-profil": f"{APP}/CONSULTATION"},
        follow_redirects=True,
    )
    assert "La personne est prévenue par mail." in text_of(page.text)
    subjects = [m["subject"] for m in app_cli.mails(to=mail_of(world.collab))]
    assert "APEX Partenaires – Retrait de profils applicatifs" in subjects


def test_a_suspension_for_inactivity_is_shown_and_lifted_like_any_other(
    world: World, login: Any, settings: Any, slapd: SlapdInstance
) -> None:
    """Suspended by the daemon's workflow: « Suspendu pour inactivité » with its
    explanation on /comptes/<id>; « Réactiver » lifts it and the raw bind works again."""
    from datetime import UTC, datetime, timedelta

    from apexdir.directory.repository import Repository
    from apexdir.runtime import Runtime
    from apexdir.workflows.suspension import suspend_for_inactivity

    rt = Runtime(settings, operator="daemon-test")
    try:
        account = Repository(rt.directory, rt.layout).account(world.collab)
        since = datetime.now(UTC) - timedelta(days=400)
        assert suspend_for_inactivity(rt, account, since=since, warned=None) == "suspended"
    finally:
        rt.close()
    assert _raw_bind(slapd, world.collab) == 49
    admin = login(world.admin)
    page = text_of(admin.get(f"/comptes/{world.collab}").text)
    assert "Statut Suspendu pour inactivité" in page
    assert "Suspension pour inactivité" in page and "365 jours" in page
    back = admin.post(f"/comptes/{world.collab}/reactiver", follow_redirects=True)
    assert "Statut Actif" in text_of(back.text)
    assert "inactivité" not in text_of(back.text)
    assert _raw_bind(slapd, world.collab) == 0
