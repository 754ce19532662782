"""Issue 19 item 5: codes that were used do not count towards the pause, a partner can ask
for the code again, and the page says how long it is valid."""

from __future__ import annotations

from flask import Flask

from tests.helpers import Cli
from tests.portal.conftest import CODE_SUBJECT, Browser, Partner, last_code, text_of


def test_a_fourth_login_in_a_quarter_hour_is_ordinary(
    app: Flask, app_cli: Cli, partner: Partner
) -> None:
    for _ in range(5):
        browser = Browser(app.test_client(), app.root_path)  # type: ignore[arg-type]
        home = browser.login(app_cli, partner.identifier, partner.mail)
        assert "suspendue" not in text_of(home.text) and home.status_code == 200
        browser.post("/deconnexion", {})
    assert not [m for m in app_cli.mails(to=partner.mail) if "suspendue" in m["body"]]


def test_resend_the_code(browser: Browser, app_cli: Cli, partner: Partner) -> None:
    browser.get("/connexion")
    browser.post(
        "/connexion", {"identifiant": partner.identifier, "mot_de_passe": "Str0ng-Passw0rd!"}
    )
    page = browser.get("/connexion/code")
    text = text_of(page.text)
    assert "valable 10 minutes" in text and "Renvoyer le code" in text
    first = last_code(app_cli, partner.mail)
    resent = browser.post("/connexion/code/renvoyer", {}, follow_redirects=True)
    assert "Un code de vérification vous a été envoyé par mail" in text_of(resent.text)
    codes = [m for m in app_cli.mails(to=partner.mail) if m["subject"] == CODE_SUBJECT]
    assert len(codes) == 2
    second = last_code(app_cli, partner.mail)
    if second != first:  # the older code is void once a new one is sent
        refused = browser.post("/connexion/code", {"code": first})
        assert "incorrect" in text_of(refused.text)
    home = browser.post("/connexion/code", {"code": second}, follow_redirects=True)
    assert "Dernière connexion" in text_of(home.text) or "Première connexion" in text_of(home.text)


def test_resend_without_a_login_in_progress_goes_back_to_the_login(browser: Browser) -> None:
    browser.get("/connexion")
    page = browser.post("/connexion/code/renvoyer", {})
    assert page.status_code == 302 and page.location.endswith("/connexion")
