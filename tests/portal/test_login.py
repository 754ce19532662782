"""Login (guide ch. 3) through Flask's test client: password, mailed code, home, logout."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from apexdir.clock import FrozenClock
from tests.portal.conftest import PASSWORD, Browser, Partner, last_code, text_of


def test_login_page_has_the_guides_labels(browser: Browser) -> None:
    """The anonymous home page is the login form with its labels and button."""
    page = browser.get("/")
    html = page.text
    assert page.status_code == 200
    assert '<label class="fr-label" for="identifiant">Identifiant' in html
    assert '<label class="fr-label" for="mot_de_passe">Mot de passe' in html
    assert "Se connecter" in html and "Mot de passe oublié ?" in html
    assert "<title>Connexion — Mon espace APEX Partenaires</title>" in html
    assert html.count("<h1") == 1 and 'lang="fr"' in html


def test_password_then_code_opens_the_home_page(
    browser: Browser, app_cli: Any, partner: Partner
) -> None:
    """Identifier + password mail a code; the code opens the home page with the name."""
    home = browser.login(app_cli, partner.identifier, partner.mail)
    text = text_of(home.text)
    assert home.status_code == 200
    assert "Marie MARTIN" in text
    assert "Première connexion" in text or "Dernière connexion le" in text
    assert "Accès aux applications" in text and "Gestion des données personnelles" in text
    # A second login shows the first one's date.
    browser.post("/deconnexion")
    again = browser.login(app_cli, partner.identifier, partner.mail)
    assert "Dernière connexion le" in text_of(again.text)


def test_wrong_password_and_unknown_identifier_answer_alike(
    browser: Browser, partner: Partner
) -> None:
    """Same page, same words, for a wrong password and an identifier that does not exist."""
    browser.get("/connexion")
    wrong = browser.post(
        "/connexion", {"identifiant": partner.identifier, "mot_de_passe": "Pas-le-B0n-Mot!!"}
    )
    unknown = browser.post(
        "/connexion", {"identifiant": "nobody.here-px", "mot_de_passe": "Pas-le-B0n-Mot!!"}
    )
    assert wrong.status_code == unknown.status_code == 200
    assert "Identifiant ou mot de passe incorrect." in text_of(wrong.text)
    assert "Identifiant ou mot de passe incorrect." in text_of(unknown.text)
    # The identifier is kept, never the password.
    assert f'value="{partner.identifier}"' in wrong.text
    assert "Pas-le-B0n-Mot" not in wrong.text


def test_wrong_code_tells_the_tries_left(browser: Browser, app_cli: Any, partner: Partner) -> None:
    """A wrong code keeps the code page with the tries left; the right one still works."""
    browser.get("/connexion")
    browser.post("/connexion", {"identifiant": partner.identifier, "mot_de_passe": PASSWORD})
    browser.get("/connexion/code")
    code = last_code(app_cli, partner.mail)
    wrong = "000000" if code != "000000" else "111111"
    page = browser.post("/connexion/code", {"code": wrong})
    assert "il vous reste 4 essais" in text_of(page.text)
    assert 'aria-invalid="true"' in page.text
    home = browser.post("/connexion/code", {"code": code}, follow_redirects=True)
    assert "Marie MARTIN" in text_of(home.text)


def test_code_page_without_password_step_goes_back(browser: Browser) -> None:
    """The code page is reached only after the password."""
    page = browser.get("/connexion/code")
    assert page.status_code == 302 and page.location.endswith("/connexion")


def test_pages_need_a_login(browser: Browser) -> None:
    """Every page of the partner's space sends an anonymous visitor to the login page,
    which is told to come back to it (`next`)."""
    from urllib.parse import parse_qs, urlsplit

    for path in (
        "/accueil",
        "/applications",
        "/structure",
        "/donnees-personnelles",
        "/structure/comptes/marie.martin-px",
    ):
        page = browser.get(path)
        assert page.status_code == 302, path
        where = urlsplit(page.location)
        assert where.path == "/connexion" and parse_qs(where.query)["next"] == [path]


def test_logout_ends_the_session(browser: Browser, app_cli: Any, partner: Partner) -> None:
    """After « Se déconnecter » the home page needs a login again."""
    browser.login(app_cli, partner.identifier, partner.mail)
    page = browser.post("/deconnexion", follow_redirects=True)
    assert "Vous êtes déconnecté." in text_of(page.text)
    assert browser.get("/accueil").status_code == 302


def test_post_without_csrf_token_is_refused(
    browser: Browser, partner: Partner, app_cli: Any
) -> None:
    """A form sent without its CSRF token gets a French page and does nothing."""
    page = browser.post(
        "/connexion", {"identifiant": partner.identifier, "mot_de_passe": PASSWORD}, csrf=False
    )
    assert page.status_code == 400
    assert "Formulaire expiré" in text_of(page.text)
    assert not [m for m in app_cli.mails(to=partner.mail) if "Code" in m["subject"]]


def test_session_cookie_flags(make_app: Any, partner: Partner) -> None:
    """HttpOnly and SameSite=Lax always; Secure once the portal is served over https."""
    for base_url, secure in (("http://127.0.0.1:5000", False), ("https://apex.example", True)):
        client = make_app(base_url=base_url, dev_sinks_dir=None).test_client()
        cookie = client.get("/connexion").headers.get("Set-Cookie") or ""
        assert cookie.startswith("apex_session=")
        assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
        assert ("Secure" in cookie) is secure


def test_idle_session_expires(make_app: Any, app_cli: Any, partner: Partner, tmp_path: Any) -> None:
    """Past the idle time-out, the next page asks for a login again, with a message."""
    clock = FrozenClock(datetime.now(UTC))
    app = make_app(clock=clock)
    browser = Browser(app.test_client(), tmp_path / "portal-sinks")
    browser.login(app_cli, partner.identifier, partner.mail)
    assert browser.get("/accueil").status_code == 200
    clock.advance(minutes=16)
    page = browser.get("/accueil", follow_redirects=True)
    assert "Votre session a expiré" in text_of(page.text)
    assert browser.get("/accueil").status_code == 302


@pytest.mark.parametrize(
    "identifier",
    ["*)(uid=*", "a\x00b", "é" * 10_000, "x,ou=people", "  ", "🙂.🙂-px"],
)
def test_hostile_identifiers_get_a_clear_answer(browser: Browser, identifier: str) -> None:
    """Filter and DN metacharacters, NUL, huge or broken values: a message, never a 500."""
    browser.get("/connexion")
    page = browser.post("/connexion", {"identifiant": identifier, "mot_de_passe": "whatever"})
    assert page.status_code == 200
    text = text_of(page.text)
    assert (
        "Identifiant ou mot de passe incorrect." in text
        or "Saisissez votre identifiant" in text
        or "128 caractères au plus" in text
    )


def test_invalid_utf8_in_a_form_is_not_an_error(browser: Browser) -> None:
    """Bytes that are not UTF-8 in a form field are answered like any wrong identifier."""
    browser.get("/connexion")
    token = browser.last.split('name="csrf_token" type="hidden" value="')[-1].split('"')[0]
    body = b"csrf_token=" + token.encode() + b"&identifiant=%FF%FE&mot_de_passe=abc"
    page = browser.client.post(
        "/connexion", data=body, content_type="application/x-www-form-urlencoded"
    )
    assert page.status_code == 200


def test_directory_down_gives_503(make_app: Any, settings: Any, tmp_path: Any) -> None:
    """With slapd unreachable, a French « Service momentanément indisponible » page (503)."""
    from apexdir.portal import create_app
    from tests.portal.conftest import portal_settings

    dead = settings.model_copy(
        update={
            "ldap": settings.ldap.model_copy(
                update={"uris": ["ldap://127.0.0.1:9"], "connect_timeout": 0.5}
            )
        }
    )
    app = create_app(portal_settings(dead, tmp_path))
    client = app.test_client()
    page = client.get("/connexion")
    token = page.text.split('name="csrf_token" type="hidden" value="')[-1].split('"')[0]
    answer = client.post(
        "/connexion",
        data={"csrf_token": token, "identifiant": "marie.martin-px", "mot_de_passe": PASSWORD},
    )
    assert answer.status_code == 503
    assert "Service momentanément indisponible" in text_of(answer.text)
    app.extensions["apexdir"].close()
