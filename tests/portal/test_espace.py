"""The partner's space: home per type, applications, consultation (never a phone number),
personal data and password change."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.helpers import Cli
from tests.portal.conftest import NEW_PASSWORD, PASSWORD, Browser, Partner, text_of

DATA_SUBJECT = "APEX Partenaires - Confirmation modification de vos données personnelles"


def test_home_per_account_type(
    browser: Browser, app_cli: Cli, make_partner: Callable[..., Partner]
) -> None:
    """The guide's menu and the words of each type's home page."""
    admin = make_partner("Alice", "Admin", kind="administrateur")
    home = text_of(browser.login(app_cli, admin.identifier, admin.mail).text)
    for words in (
        "Accueil",
        "Accès aux applications",
        "Gestion des comptes responsables et collaborateurs",
        "Gestion des services",
        "Consultation des comptes et services de la structure",
        "Gestion des données personnelles",
        "Vous êtes administrateur de votre structure",
    ):
        assert words in home, words
    browser.post("/deconnexion")
    resp = make_partner("Remi", "Resp", kind="responsable")
    home = text_of(browser.login(app_cli, resp.identifier, resp.mail).text)
    assert "Gestion des comptes collaborateurs" in home and "Gestion des services" not in home
    # A responsable does not validate (SPEC §5.5): his card does not promise it.
    assert "valider" not in home.lower().replace("validées par l'administrateur", "")
    browser.post("/deconnexion")
    collab = make_partner()
    home = text_of(browser.login(app_cli, collab.identifier, collab.mail).text)
    assert "Consultation des comptes et services de la structure" in home
    assert "Gestion des comptes" not in home and "Vous êtes collaborateur" in home


def test_applications_lists_profiles_held(browser: Browser, app_cli: Cli, partner: Partner) -> None:
    """« Accès aux applications »: the applications of the profiles held, with their names."""
    app_cli.ok("app", "add", "FICOBA", "--name", "Fichier des comptes bancaires")
    app_cli.ok("app", "profile-add", "FICOBA", "CONSULTATION")
    browser.login(app_cli, partner.identifier, partner.mail)
    empty = text_of(browser.get("/applications").text)
    assert "Vous n'êtes habilité à aucune application" in empty
    app_cli.ok("grant", partner.identifier, "FICOBA", "CONSULTATION")
    page = text_of(browser.get("/applications").text)
    assert "Fichier des comptes bancaires" in page and "CONSULTATION" in page
    assert "Accéder à l'application" not in page and "pas encore renseignée" in page


def test_applications_link_to_the_catalogue_address(
    browser: Browser, app_cli: Cli, partner: Partner, settings: Any
) -> None:
    """« Accéder à l'application » opens the catalogue's address; an address edited by hand
    in the directory that is not http(s) is not linked."""
    from apexdir.runtime import Runtime

    app_cli.ok("app", "add", "FICOBA", "--name", "Ficoba", "--url", "https://ficoba.example/")
    app_cli.ok("app", "add", "ADELIE", "--name", "Adélie", "--url", "https://adelie.example/")
    for code in ("FICOBA", "ADELIE"):
        app_cli.ok("app", "profile-add", code, "CONSULTATION")
        app_cli.ok("grant", partner.identifier, code, "CONSULTATION")
    r = Runtime(settings)
    try:
        r.directory.replace(r.layout.application_dn("ADELIE"), labeledURI="javascript:alert(1)")
    finally:
        r.close()
    browser.login(app_cli, partner.identifier, partner.mail)
    html = browser.get("/applications").text
    assert 'href="https://ficoba.example/">Accéder à l\'application' in html.replace("&#39;", "'")
    assert "javascript:" not in html
    assert "Accéder à l'application Ficoba" in text_of(html)


def test_structure_and_account_detail_never_show_a_phone(
    browser: Browser, app_cli: Cli, make_partner: Callable[..., Partner], structure: str
) -> None:
    """Consultation: structure, administrators, services with their accounts; the detail
    has type and habilitations, never the phone."""
    admin = make_partner("Alice", "Admin", kind="administrateur", mobile="06 11 22 33 44")
    collab = make_partner(mobile="06 99 88 77 66")
    browser.login(app_cli, collab.identifier, collab.mail)
    page = browser.get("/structure")
    text = text_of(page.text)
    assert structure in text and "Banque Exemple" in text
    assert "ADMIN Alice" in text and "Comptabilité" in text and "MARTIN Marie" in text
    detail = browser.get(f"/structure/comptes/{admin.identifier}")
    text = text_of(detail.text)
    assert detail.status_code == 200
    assert "Administrateur" in text and admin.mail in text and structure in text
    for page_text in (text, text_of(page.text)):
        assert "06 11" not in page_text and "+33611" not in page_text and "+33699" not in page_text


def test_account_of_another_structure_is_not_shown(
    browser: Browser, app_cli: Cli, partner: Partner
) -> None:
    """An identifier outside one's structure, unknown or hostile: 403/404, French page."""
    from tests.helpers import OTHER_SIRET

    app_cli.ok(
        "structure", "create", "--siret", OTHER_SIRET, "--category", "Banques", "--name", "La Poste"
    )
    other = app_cli.create_account(OTHER_SIRET, "administrateur", "x.y@example.org", "Xavier", "Y")
    browser.login(app_cli, partner.identifier, partner.mail)
    assert browser.get(f"/structure/comptes/{other}").status_code == 403
    for bad in ("nobody-px", "*", "a%00b", "x" * 5000, "uid=x,ou=people"):
        page = browser.get(f"/structure/comptes/{bad}")
        assert page.status_code == 404, bad
        assert "Page non trouvée" in text_of(page.text)


def test_personal_data_change_of_mail(browser: Browser, app_cli: Cli, partner: Partner) -> None:
    """Form → récapitulatif → confirmation; the mail goes to the old and the new address."""
    browser.login(app_cli, partner.identifier, partner.mail)
    form = browser.get("/donnees-personnelles")
    assert f'value="{partner.mail}"' in form.text and "Étape 1 sur 3" in text_of(form.text)
    recap = browser.post(
        "/donnees-personnelles",
        {
            "donnees-nom": "Martin",
            "donnees-prenom": "Marie",
            "donnees-mail": "marie@nouveau.fr",
            "donnees-mobile": "",
        },
        follow_redirects=True,
    )
    text = text_of(recap.text)
    assert "Étape 2 sur 3" in text and partner.mail in text and "marie@nouveau.fr" in text
    done = browser.post("/donnees-personnelles/recapitulatif", follow_redirects=True)
    assert "Vos données personnelles ont été modifiées." in text_of(done.text)
    assert app_cli.ok("account", "show", partner.identifier)["mail"] == "marie@nouveau.fr"
    for address in (partner.mail, "marie@nouveau.fr"):
        assert [m for m in app_cli.mails(to=address) if m["subject"] == DATA_SUBJECT], address


def test_personal_data_errors_change_nothing(
    browser: Browser, app_cli: Cli, partner: Partner
) -> None:
    """Every wrong field listed; nothing changed in the directory."""
    browser.login(app_cli, partner.identifier, partner.mail)
    browser.get("/donnees-personnelles")
    page = browser.post(
        "/donnees-personnelles",
        {
            "donnees-nom": "",
            "donnees-prenom": "Marie",
            "donnees-mail": "pas-une-adresse",
            "donnees-mobile": "12",
        },
    )
    text = text_of(page.text)
    assert "Saisissez votre nom." in text and "Adresse mail invalide" in text
    assert "Numéro de mobile invalide" in text
    assert app_cli.ok("account", "show", partner.identifier)["mail"] == partner.mail


def test_password_change(browser: Browser, app_cli: Cli, partner: Partner) -> None:
    """The current password is required; the new one then works."""
    browser.login(app_cli, partner.identifier, partner.mail)
    browser.get("/donnees-personnelles")
    wrong = browser.post(
        "/donnees-personnelles/mot-de-passe",
        {
            "mdp-actuel": "Pas-le-B0n-Mot!!",
            "mdp-mot_de_passe": NEW_PASSWORD,
            "mdp-confirmation": NEW_PASSWORD,
        },
    )
    assert "Identifiant ou mot de passe incorrect." in text_of(wrong.text)
    done = browser.post(
        "/donnees-personnelles/mot-de-passe",
        {
            "mdp-actuel": PASSWORD,
            "mdp-mot_de_passe": NEW_PASSWORD,
            "mdp-confirmation": NEW_PASSWORD,
        },
        follow_redirects=True,
    )
    assert "Votre mot de passe a été modifié." in text_of(done.text)
    app_cli.ok("login", partner.identifier, input=NEW_PASSWORD + "\n")


def test_security_headers(browser: Browser) -> None:
    """CSP without inline script, no framing, no sniffing, no caching of pages."""
    page = browser.get("/connexion")
    csp = page.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp
    assert page.headers["X-Content-Type-Options"] == "nosniff"
    assert page.headers["Cache-Control"] == "no-store"
    assert "<script>" not in page.text and " style=" not in page.text


def test_not_found_page_is_french(browser: Browser) -> None:
    page = browser.get("/nulle-part")
    assert page.status_code == 404 and "Page non trouvée" in text_of(page.text)


def test_rate_limit_on_anonymous_posts(make_app: Any, tmp_path: Any) -> None:
    """Past the client's budget, a French 429 page, and the request is not acted on."""
    app = make_app(rate_per_client_per_minute=3)
    browser = Browser(app.test_client(), tmp_path / "portal-sinks")
    browser.get("/connexion")
    statuses = [
        browser.post("/connexion", {"identifiant": "a", "mot_de_passe": "b"}).status_code
        for _ in range(4)
    ]
    assert statuses == [200, 200, 200, 429]
    assert "Trop de demandes" in text_of(browser.last)


def test_mobile_shown_as_typed_and_unchanged_is_no_change(
    browser: Browser, app_cli: Cli, make_partner: Callable[..., Partner]
) -> None:
    """The mobile reads « 06 12 34 56 78 »; sent back as shown, it is no modification."""
    partner = make_partner("Paul", "Durand", mobile="06 12 34 56 78")
    browser.login(app_cli, partner.identifier, partner.mail)
    form = browser.get("/donnees-personnelles")
    assert 'value="06 12 34 56 78"' in form.text
    page = browser.post(
        "/donnees-personnelles",
        {
            "donnees-nom": "Durand",
            "donnees-prenom": "Paul",
            "donnees-mail": partner.mail,
            "donnees-mobile": "06 12 34 56 78",
        },
    )
    assert "Aucune modification n'a été saisie." in text_of(page.text)
