"""« Revue des habilitations » in a real browser at 1,280 and 375 px (issue 21 item 10):
reached from the side menu, answered with the keyboard, nothing wider than the window (the
table scrolls in its own region), and no axe-core WCAG 2.1 A/AA violation. Screenshots go
to SCREENSHOTS (env APEX_SCREENSHOTS) when set."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import OTHER_SIRET, Cli
from tests.portal import test_browser as journeys
from tests.portal.conftest import CHROMIUM, WorkerTab
from tests.portal.test_browser import axe, sign_in, submit
from tests.portal.test_browser_widths import WIDTHS, at_width, fits, on_screen

app_cli = journeys.app_cli
live = journeys.live
page = journeys.page

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="no chromium")
APP = "FICOBA"


def shot(page: Any, name: str) -> None:
    folder = os.environ.get("APEX_SCREENSHOTS")
    if folder:
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)


def test_review_page(
    page: Any, worker_tab: WorkerTab, live: str, app_cli: Cli, structure: str
) -> None:
    """The administrateur opens the review from the menu, confirms one profile with the
    keyboard, withdraws another, submits once and reads the confirmation: at each width,
    the review of a structure of its own, in the worker's tab cleared of the other's
    session (`WorkerTab.forget`: no context, no renderer process started for it)."""
    app_cli.ok("app", "add", APP, "--name", "Fichier des comptes bancaires")
    for profile in ("CONSULTATION", "CONTROLE"):
        app_cli.ok("app", "profile-add", APP, profile)
    other = app_cli.create_structure(OTHER_SIRET, "Banque Autre", "Comptabilité", trade_name="BAU",
                                     street="2 rue de la Paix", city="Paris",
                                     postal_code="75002")  # fmt: skip
    reviews = {
        1280: open_review(
            app_cli, structure, "alice.admin@example.org", "louise.durand@example.org"
        ),
        375: open_review(app_cli, other, "anne.admin@example.org", "lucie.dupont@example.org"),
    }
    for size in WIDTHS:
        worker_tab.forget()
        page = worker_tab.tab
        admin, mail = reviews[size["width"]]
        with at_width(page, size):
            sign_in(page, live, app_cli, admin, mail)
            _review_page(page, size)


def open_review(app_cli: Cli, structure: str, admin_mail: str, collab_mail: str) -> tuple[str, str]:
    """In `structure`, an administrateur and a collaborateur holding both profiles, and the
    review open: the administrateur's identifier and mail."""
    first, last = admin_mail.split("@")[0].title().split(".")
    admin = app_cli.create_account(structure, "administrateur", admin_mail, first, last)
    app_cli.ok("grant", admin, APP, "CONSULTATION")
    app_cli.ok("grant", admin, APP, "CONTROLE")
    first, last = collab_mail.split("@")[0].title().split(".")
    collab = app_cli.create_account(
        structure, "collaborateur", collab_mail, first, last, service="Comptabilité", as_=admin
    )
    app_cli.ok("grant", collab, APP, "CONSULTATION", as_=admin)
    app_cli.ok("grant", collab, APP, "CONTROLE", as_=admin)
    app_cli.ok("review", "open", structure)
    return admin, admin_mail


def _review_page(page: Any, size: dict[str, int]) -> None:
    on_screen(page, page.get_by_text("La revue annuelle des habilitations de votre structure"))
    fits(page)
    axe(page)  # the home page's notice
    shot(page, f"accueil-revue-{size['width']}")
    on_screen(page, page.get_by_role("link", name="Revue des habilitations").last, whole=False)
    if size["width"] < 992:  # the side menu folds behind its button on small screens
        page.get_by_role("button", name="Menu de mon espace").click()
    page.get_by_role("link", name="Revue des habilitations").last.click()
    page.wait_for_url("**/structure/revue")
    on_screen(page, page.get_by_role("heading", name="Revue des habilitations", exact=True))
    fits(page)
    axe(page)
    shot(page, f"revue-{size['width']}")
    # The keyboard: focus the first radio of the first group, Space selects it.
    first = page.get_by_role("group", name="Fichier des comptes bancaires — CONSULTATION")
    first.get_by_label("Confirmer").focus()
    page.keyboard.press("Space")
    assert first.get_by_label("Confirmer").is_checked()
    second = page.get_by_role("group", name="Fichier des comptes bancaires — CONTROLE")
    second.locator("label", has_text="Retirer").click()  # DSFR: the label covers the input
    assert second.get_by_label("Retirer").is_checked()
    on_screen(page, page.get_by_role("button", name="Enregistrer mes choix"))
    submit(page, "Enregistrer mes choix")
    page.wait_for_url("**/structure/revue")
    status = page.get_by_role("status").first
    assert "1 habilitation(s) confirmée(s), 1 retirée(s)" in status.inner_text()
    assert "La revue des habilitations de votre structure est terminée" in page.inner_text("main")
    fits(page)
    axe(page)
    shot(page, f"revue-done-{size['width']}")
