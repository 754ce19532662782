"""Pré-création from the mailed link (guide ch. 1.3): form → récapitulatif → confirmation."""

from __future__ import annotations

from typing import Any

from tests.helpers import Cli
from tests.portal.conftest import PASSWORD, Browser, text_of

MAIL = "louise.durand@example.org"


def _invited(app_cli: Cli, structure: str) -> tuple[str, str]:
    request = app_cli.invite(structure, "collaborateur", MAIL, "Comptabilité")
    link = app_cli.link_for(MAIL)
    return request, "/creation/" + link.rstrip("/").rsplit("/", 1)[-1]


FORM = {
    "nom": "Durand",
    "prenom": "Louise",
    "mobile": "06 12 34 56 78",
    "mot_de_passe": PASSWORD,
    "confirmation": PASSWORD,
}


def test_form_recap_and_confirmation(browser: Browser, app_cli: Cli, structure: str) -> None:
    """The whole journey; the request then waits for validation with the chosen data."""
    request, path = _invited(app_cli, structure)
    form = browser.get(path)
    text = text_of(form.text)
    assert form.status_code == 200
    assert "Étape 1 sur 3" in text and structure in text and "Banque Exemple" in text
    assert "fortement recommandé de fournir un numéro de téléphone portable" in text
    assert "12 à 20 caractères" in text
    assert form.headers["Referrer-Policy"] == "no-referrer"
    recap = browser.post(path, FORM, follow_redirects=True)
    text = text_of(recap.text)
    assert "Étape 2 sur 3" in text
    for value in (
        structure,
        "Banque Exemple",
        "BEX",
        "Argenteuil",
        "Durand",
        "Louise",
        MAIL,
        "06 12 34 56 78",
    ):
        assert value in text, value
    assert PASSWORD not in recap.text
    assert "Retour à l'étape 1" in text
    done = browser.post(path + "/recapitulatif", follow_redirects=True)
    assert "Le formulaire de pré-création a été transmis pour validation." in text_of(done.text)
    pending = app_cli.ok("account", "pending", "--structure", structure)
    mine = next(r for r in pending if r["request_id"] == request)
    assert mine["status"] == "submitted"
    # The account exists once validated, with the password chosen on the form.
    identifier = app_cli.ok("account", "validate", request)["identifier"]
    assert identifier == "louise.durand-px"
    app_cli.ok("login", identifier, input=PASSWORD + "\n")


def test_double_submission_is_acted_on_once(browser: Browser, app_cli: Cli, structure: str) -> None:
    """A second click on « Envoyer » shows the confirmation again; one submission recorded."""
    _, path = _invited(app_cli, structure)
    browser.get(path)
    browser.post(path, FORM)
    browser.get(path + "/recapitulatif")
    token_page = browser.last
    first = browser.post(path + "/recapitulatif")
    browser.last = token_page
    second = browser.post(path + "/recapitulatif")
    assert first.status_code == second.status_code == 302
    assert second.location.endswith("/creation/confirmation")
    submitted = [e for e in app_cli.ok("journal") if e["action"] == "account.complete"]
    assert len(submitted) == 1


def test_every_wrong_field_is_listed(browser: Browser, app_cli: Cli, structure: str) -> None:
    """All errors at the top and at each field; values kept except the passwords."""
    _, path = _invited(app_cli, structure)
    browser.get(path)
    page = browser.post(
        path,
        {
            "nom": "",
            "prenom": "",
            "mobile": "0112",
            "mot_de_passe": "court",
            "confirmation": "autre",
        },
    )
    text = text_of(page.text)
    assert page.status_code == 200
    assert "Veuillez corriger les erreurs suivantes" in text
    for message in (
        "Saisissez votre nom.",
        "Saisissez votre prénom.",
        "Numéro de mobile invalide : « 0112 » n'est pas un numéro valide. Saisissez un numéro "
        "de mobile à 10 chiffres, par exemple 06 12 34 56 78.",
        "Le mot de passe doit contenir entre 12 et 20 caractères",
        "Les deux mots de passe ne correspondent pas : saisissez le même mot de passe",
    ):
        assert message in text, message
    assert 'href="#nom"' in page.text and 'href="#mobile"' in page.text
    assert 'value="0112"' in page.text and "court" not in page.text
    assert (
        'aria-describedby="mot_de_passe-regles mot_de_passe-jauge mot_de_passe-messages"'
        in page.text
    )
    # Nothing was kept: the form still starts empty.
    assert app_cli.ok("account", "pending", "--structure", structure)[0]["status"] == "invited"


def test_forged_spent_or_unknown_links_get_one_clear_page(
    browser: Browser, app_cli: Cli, structure: str
) -> None:
    """A bad token is a French page (404), whatever its shape."""
    _, path = _invited(app_cli, structure)
    for bad in (
        path + "x",
        "/creation/abc.def",
        "/creation/%00",
        "/creation/" + "a" * 5000,
        "/creation/*)(uid=*",
        "/creation/%FF%FE",
    ):
        page = browser.get(bad)
        assert page.status_code == 404, bad
        assert "Ce lien ne peut pas être utilisé" in text_of(page.text)


def test_the_recap_needs_step_one(browser: Browser, app_cli: Cli, structure: str) -> None:
    """The récapitulatif of an untouched link sends back to the form."""
    _, path = _invited(app_cli, structure)
    page = browser.get(path + "/recapitulatif")
    assert page.status_code == 302 and page.location.endswith(path)


def test_back_to_step_one_keeps_the_draft(browser: Browser, app_cli: Cli, structure: str) -> None:
    """« Retour à l'étape 1 » shows the names typed, never the password."""
    _, path = _invited(app_cli, structure)
    browser.get(path)
    browser.post(path, FORM)
    page = browser.get(path)
    assert 'value="Durand"' in page.text and 'value="Louise"' in page.text
    assert PASSWORD not in page.text


def test_no_csrf_no_submission(browser: Browser, app_cli: Cli, structure: str) -> None:
    """Without the CSRF token nothing is kept."""
    _, path = _invited(app_cli, structure)
    page = browser.post(path, FORM, csrf=False)
    assert page.status_code == 400
    assert app_cli.ok("account", "pending", "--structure", structure)[0]["status"] == "invited"


def test_other_methods_are_refused(browser: Browser) -> None:
    """A French page for a method the page does not accept."""
    page = browser.client.put("/connexion")
    assert page.status_code == 405 and "Méthode non autorisée" in text_of(page.text)


def _unused(_: Any) -> None:  # keeps the import list honest for type checkers
    return None
