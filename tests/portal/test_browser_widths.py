"""Issue 19 in a real browser at 1,280 and 375 px: what people must reach is inside the
window (bounding boxes within its width, the page never wider than the window), and
axe-core finds no WCAG 2.1 A/AA violation on the new pages and states.

Each test builds its world once and walks its journey at both widths (`at_width`), the
window resized before the pages are loaded: issue 20 item 9 (one set-up, one log-in where
the journey does not end the session, instead of two tests)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import Cli
from tests.portal import test_browser as journeys
from tests.portal.conftest import CHROMIUM, PASSWORD, Partner, last_code
from tests.portal.test_browser import axe, sign_in, submit

# The fixtures of the browser journeys (the live portal, the CLI in a thread of its own),
# registered here under the names the tests ask for; the browser is the worker's (conftest).
app_cli = journeys.app_cli
live = journeys.live
new_page = journeys.new_page
page = journeys.page

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="no chromium")

DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 375, "height": 812}
WIDTHS = (DESKTOP, PHONE)


@contextmanager
def at_width(page: Any, size: dict[str, int]) -> Iterator[None]:
    """The block's steps in a window of `size`; a failure says at which width."""
    page.set_viewport_size(size)
    try:
        yield
    except Exception as failure:  # an assertion, or Playwright's time-out
        failure.add_note(f"-- at {size['width']} px wide")
        raise


def on_screen(page: Any, locator: Any, whole: bool = True) -> None:
    """The element is shown and lies within the window's width (`whole`: its content is
    not cut either; DSFR's icon-only buttons, « Menu », cut their words by design)."""
    locator.scroll_into_view_if_needed()  # waits until it is visible and steady
    # Its box and whether it is cut, read in one call (`bounding_box` then a second
    # `evaluate` were two round trips to the browser, for 50 checks a run).
    x, right, rendered, cut = locator.evaluate(
        """e => { const r = e.getBoundingClientRect();
                  return [r.x, r.right, r.width > 0 || r.height > 0,
                          e.scrollWidth > e.clientWidth + 1]; }"""
    )
    width = page.viewport_size["width"]
    assert rendered, "not rendered"
    assert x >= 0 and right <= width + 0.5, (x, right, width)
    # Nor cut inside itself (a DSFR button squeezed to its icon hides its words).
    assert not (whole and cut), "cut"


def fits(page: Any) -> None:
    """Nothing pushes the page wider than the window (no horizontal scrolling)."""
    wider = page.evaluate("document.documentElement.scrollWidth")
    assert wider <= page.viewport_size["width"], f"{page.url}: {wider} px wide"


def test_pending_request_actions_on_screen(
    page: Any, live: str, app_cli: Cli, structure: str
) -> None:
    """Item 1: « Valider » and « Refuser » of a pending request are inside the window
    (a request of its own for each width, validated there)."""
    admin = app_cli.create_account(
        structure, "administrateur", "alice.admin@example.org", "Alice", "Admin"
    )
    firsts = {1280: "Louise", 375: "Pauline"}
    mails = {
        width: f"{first.lower()}.avec-une-adresse-vraiment-longue@exemple-de-domaine.example.org"
        for width, first in firsts.items()
    }
    for width, mail in mails.items():
        app_cli.invite(structure, "collaborateur", mail, "Comptabilité")
        app_cli.complete(mail, firsts[width], "Durand")
    sign_in(page, live, app_cli, admin, "alice.admin@example.org", landing=None)
    for size in WIDTHS:
        mail, first = mails[size["width"]], firsts[size["width"]].lower()
        with at_width(page, size):
            page.goto("/comptes")
            for name in (f"Valider la demande de {mail}", f"Refuser la demande de {mail}"):
                role = "button" if "Valider" in name else "link"
                on_screen(page, page.get_by_role(role, name=name))
            on_screen(page, page.get_by_role("heading", name=mail))
            fits(page)
            axe(page)
            page.get_by_role("button", name=f"Valider la demande de {mail}").click()
            page.wait_for_load_state()
            assert f"identifiant {first}.durand-px" in page.inner_text("main")


def test_header_menu_and_logout(page: Any, live: str, app_cli: Cli, partner: Partner) -> None:
    """Item 2: below 992 px the header's « Menu » opens a modal with « Se déconnecter » and
    the partner's menu; at 1,280 px the header's button and the side menu show them."""
    for size in WIDTHS:
        with at_width(page, size):
            sign_in(page, live, app_cli, partner.identifier, partner.mail)
            _header_menu_and_logout(page, size)


def _header_menu_and_logout(page: Any, size: Any) -> None:
    header = page.locator("header")
    if size is PHONE:
        menu = header.get_by_role("button", name="Menu")
        on_screen(page, menu, whole=False)
        menu.click()
        modal = page.locator("#menu-entete")
        modal.get_by_role("link", name="Gestion des données personnelles").wait_for()
        for name in ("Accueil", "Accès aux applications", "Gestion des données personnelles"):
            on_screen(page, modal.get_by_role("link", name=name, exact=True))
        logout = modal.get_by_role("button", name="Se déconnecter")
        on_screen(page, logout)
        axe(page)  # the open modal
        modal.get_by_role("link", name="Gestion des données personnelles").click()
        page.wait_for_url(re.compile(r"/donnees-personnelles$"))
        header.get_by_role("button", name="Menu").click()
        page.locator("#menu-entete").get_by_role("button", name="Se déconnecter").click()
    else:
        assert not header.get_by_role("button", name="Menu").is_visible()
        assert not page.locator("#menu-entete nav").is_visible()
        on_screen(page, page.locator("nav.fr-sidemenu").get_by_role("link", name="Accueil"))
        header.locator(".fr-header__tools").get_by_role("button", name="Se déconnecter").click()
    page.wait_for_load_state()
    assert "Vous êtes déconnecté." in page.inner_text("main")


def test_summaries_wrap(page: Any, app_cli: Cli, structure: str) -> None:
    """Item 4: the pré-création's « Votre compte » and récapitulatif show every value
    within the window, and axe's scrollable-region-focusable no longer fires (an
    invitation of its own for each width)."""
    mails = {
        1280: "marie-charlotte.de-la-fontaine-saint-andre@notaires-exemple.example.org",
        375: "marie-charlotte.de-la-fontaine-saint-andre@notaires-exemples.example.org",
    }
    links = {}
    for width, mail in mails.items():
        app_cli.invite(structure, "collaborateur", mail, "Comptabilité")
        links[width] = app_cli.link_for(mail).rsplit("/", 1)[-1]
    for size in WIDTHS:
        with at_width(page, size):
            _summaries_wrap(page, mails[size["width"]], links[size["width"]], size)


def _summaries_wrap(page: Any, mail: str, token: str, size: dict[str, int]) -> None:
    page.goto("/creation/" + token)
    if size is PHONE:  # the form first, what the agent entered below it
        form_top = page.locator("form").first.bounding_box()["y"]
        assert (
            form_top
            < page.get_by_role("heading", name="Votre compte", exact=True).bounding_box()["y"]
        )
    on_screen(page, page.locator("dd", has_text=mail))
    fits(page)
    axe(page)
    page.fill("#nom", "De La Fontaine Saint-André")
    page.fill("#prenom", "Marie-Charlotte")
    page.fill("#mot_de_passe", PASSWORD)
    page.fill("#confirmation", PASSWORD)
    submit(page, "Valider")
    page.wait_for_url(re.compile(r"/recapitulatif$"))
    for value in (mail, "Comptabilité", "De La Fontaine Saint-André"):
        on_screen(page, page.locator("dd", has_text=value).first)
    on_screen(page, page.get_by_role("button", name="Envoyer votre création de compte"))
    fits(page)
    axe(page)


def test_failed_submit_focuses_the_errors(page: Any, partner: Partner) -> None:
    """Item 6: after a failed submit the summary has the focus and the title says
    « Erreur : »; the reset journey's title names it."""
    for size in WIDTHS:
        with at_width(page, size):
            _failed_submit_focuses_the_errors(page, partner)


def _failed_submit_focuses_the_errors(page: Any, partner: Partner) -> None:
    page.goto("/connexion")
    assert not page.title().startswith("Erreur")
    page.fill("#identifiant", partner.identifier)
    page.fill("#mot_de_passe", "pas-le-bon")
    submit(page, "Se connecter")
    assert page.title().startswith("Erreur : Connexion")
    focused = page.evaluate("document.activeElement.id")
    assert focused == "erreurs", focused
    on_screen(page, page.locator("#erreurs"))
    axe(page)
    page.goto("/mot-de-passe-oublie")
    assert "réinitialisation du mot de passe" in page.title()
    submit(page, "Envoyer code de sécurité")
    assert page.title().startswith("Erreur : ")
    assert page.evaluate("document.activeElement.getAttribute('role')") == "alert"
    axe(page)


def test_legal_pages_from_the_footer(page: Any) -> None:
    """Item 8: the footer links open the three pages; each passes axe and fits. Each page
    is opened from the footer of the page before it (the login page's for the first): the
    same footer on every page, one page load less a link than going back each time."""
    for size in WIDTHS:
        with at_width(page, size):
            page.goto("/connexion")
            for link, heading in (
                ("Accessibilité : partiellement conforme", "Déclaration d'accessibilité"),
                ("Mentions légales", "Mentions légales"),
                ("Données personnelles", "Données personnelles"),
            ):
                footer_link = page.locator("footer").get_by_role("link", name=link)
                on_screen(page, footer_link)
                footer_link.click()
                page.wait_for_load_state()
                assert page.get_by_role("heading", level=1).inner_text() == heading
                fits(page)
                axe(page)


def test_idle_warning_and_prolonger(
    new_page: Callable[[], Any], live: str, app_cli: Cli, partner: Partner
) -> None:
    """Item 9: 2 minutes before the idle time-out a dialog offers « Prolonger », which
    keeps the session (the keep-alive answers) and closes it; then the way back after a
    new login lands on the page asked for. A browser of its own for each width (its own
    fake clock and cookies)."""
    for size in WIDTHS:
        page = new_page()
        with at_width(page, size):
            page.clock.install()
            # Logged in without the login pages: the second login below is the subject.
            sign_in(page, live, app_cli, partner.identifier, partner.mail, landing="/structure")
            _idle_warning_and_prolonger(page, app_cli, partner)


def _idle_warning_and_prolonger(page: Any, app_cli: Cli, partner: Partner) -> None:
    dialog = page.locator("#apex-inactivite")
    assert not dialog.is_visible()
    page.clock.fast_forward("12:30")
    assert not dialog.is_visible()
    page.clock.fast_forward("00:40")  # 13 min 10 s: 1 min 50 s left
    prolong = dialog.get_by_role("button", name="Prolonger")
    prolong.wait_for(state="visible")
    on_screen(page, prolong)
    axe(page)
    with page.expect_response(re.compile(r"/session/prolonger$")) as answer:
        prolong.click()
    assert answer.value.json() == {"connecte": True, "inactivite": 900}
    dialog.wait_for(state="hidden")
    # Logged out meanwhile (another tab): the page asked for comes back after the login.
    page.context.clear_cookies()
    page.goto("/donnees-personnelles")
    page.wait_for_url(re.compile(r"/connexion\?next=/donnees-personnelles$"))
    page.fill("#identifiant", partner.identifier)
    page.fill("#mot_de_passe", PASSWORD)
    submit(page, "Se connecter")
    page.fill("#code", last_code(app_cli, partner.mail))
    submit(page, "Vérifier")
    page.wait_for_url(re.compile(r"/donnees-personnelles$"))


def test_new_pages_pass_axe_on_a_phone(
    page: Any, live: str, app_cli: Cli, structure: str, tmp_path: Path
) -> None:
    """The pages this issue changed, at 375 px: the applications' links, the deletion page
    that says what to do first, the account page's hints, the security code page."""
    page.set_viewport_size(PHONE)
    app_cli.ok("app", "add", "FICOBA", "--name", "Ficoba", "--url", "https://ficoba.example/")
    app_cli.ok("app", "profile-add", "FICOBA", "CONSULTATION")
    admin = app_cli.create_account(
        structure, "administrateur", "alice.admin@example.org", "Alice", "Admin"
    )
    collab = app_cli.create_account(
        structure, "collaborateur", "colette.collab@example.org", "Colette", "Collab",
        service="Comptabilité",
    )  # fmt: skip
    app_cli.ok("app", "profile-add", "FICOBA", "MISE A JOUR")
    app_cli.ok("grant", admin, "FICOBA", "CONSULTATION")
    app_cli.ok("grant", admin, "FICOBA", "MISE A JOUR")
    app_cli.ok("grant", collab, "FICOBA", "CONSULTATION")
    sign_in(page, live, app_cli, admin, "alice.admin@example.org", landing=None)
    for path, visible in (
        ("/applications", ("link", "Accéder à l'application Ficoba")),
        (f"/comptes/{collab}", ("button", "Habiliter")),
        (f"/comptes/{collab}/supprimer", ("link", "Retour au compte")),
        ("/comptes", ("button", "Envoyer l'invitation")),
        ("/services", ("button", "Créer le service")),
    ):
        page.goto(path)
        on_screen(page, page.get_by_role(visible[0], name=visible[1], exact=True))
        fits(page)
        axe(page)
    page.locator("header").get_by_role("button", name="Menu").click()
    page.locator("#menu-entete").get_by_role("button", name="Se déconnecter").click()
    page.wait_for_load_state()
    page.goto("/mot-de-passe-oublie")
    from apexdir.portal.captcha import latest_dev_answer

    page.fill("#identifiant", "alice.admin-px")
    page.get_by_role("button", name="Changer d'image").click()
    page.wait_for_load_state()
    assert page.input_value("#identifiant") == "alice.admin-px"
    answer = latest_dev_answer(tmp_path / "portal-sinks")
    assert answer is not None
    page.fill("#captcha", answer["answer"])
    page.focus("#captcha")
    page.keyboard.press("Enter")  # the form's default button sends, not « Changer d'image »
    page.wait_for_url(re.compile(r"/mot-de-passe-oublie/code$"))
    on_screen(page, page.get_by_role("button", name="Valider le code de sécurité saisi"))
    fits(page)
    axe(page)
