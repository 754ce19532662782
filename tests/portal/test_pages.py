"""Issue 19 through Flask's test client: legal pages and the assistance contact, the header
« Menu », titles and messages after a failed submit, the idle time-out's keep-alive and
the way back after a new login, and the guide's words on the management pages."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest

from apexdir.clock import FrozenClock
from apexdir.portal.views.session import safe_next
from tests.helpers import Cli
from tests.portal.conftest import Browser, Partner, last_code, text_of

PAGES = ("/accessibilite", "/mentions-legales", "/confidentialite")
PASSWORD = "Str0ng-Passw0rd!"
SUPPORT = {"support_url": "https://assistance.example/apex", "support_mail": "aide@example.org"}


def title(html: str) -> str:
    found = re.search(r"<title>(.*?)</title>", html, re.S)
    assert found, "no title"
    return found.group(1)


def test_legal_pages_and_the_footer(browser: Browser) -> None:
    """The three pages answer anonymously, each linked from every footer as the DSFR does."""
    for path in (*PAGES, "/connexion", "/page-inconnue"):
        html = browser.get(path).text
        for href, words in (
            ("/accessibilite", "Accessibilité : partiellement conforme"),
            ("/mentions-legales", "Mentions légales"),
            ("/confidentialite", "Données personnelles"),
        ):
            assert f'class="fr-footer__bottom-link" href="{href}"' in html, (path, href)
            assert words in text_of(html)
    statement = text_of(browser.get("/accessibilite").text)
    for words in (
        "Déclaration d'accessibilité",
        "partiellement conforme",
        "RGAA), version 4.1",
        "Résultats des tests",
        "axe-core 4.14.1",
        "Contenus non accessibles",
        "Dérogations pour charge disproportionnée",
        "Voies de recours",
        "Défenseur des droits",
        "Libre réponse 71120",
    ):
        assert words in statement, words
    legal = text_of(browser.get("/mentions-legales").text)
    for words in ("Éditeur", "Directeur de la publication", "Hébergement", "etalab-2.0"):
        assert words in legal, words


def test_personal_data_notice_uses_the_configured_durations(browser: Browser) -> None:
    """Finalités, base légale (6.1.e), données, destinataires, durées from the settings,
    droits, délégué, CNIL; never a phone number shown to the structure."""
    text = text_of(browser.get("/confidentialite").text)
    for words in (
        "Responsable de traitement",
        "Finalités",
        "article 6, paragraphe 1, point e du RGPD",
        "mission d'intérêt public",
        "Données traitées",
        "Destinataires",
        "Lien du formulaire de pré-création : 7 jours",
        "effacée 30 jours après la décision",
        "Code de vérification de connexion : 10 minutes",
        "lien de réinitialisation : 15 minutes",
        "Session : 15 minutes sans activité, 8 heures au plus",
        "Journal des opérations : 400 jours",
        "droit d'accès, de rectification, de limitation et d'opposition",
        "délégué à la protection des données",
        "CNIL",
    ):
        assert words in text, words


def test_assistance_contact_where_the_guide_sends_people(
    make_app: Any, app_cli: Cli, partner: Partner, tmp_path: Any
) -> None:
    """support_url/support_mail on the login, code, reset-code and error pages and in the
    footer; without them the pages still say to contact one's assistance."""
    bare = Browser(make_app().test_client(), tmp_path / "portal-sinks")
    assert "Contactez votre assistance." in text_of(bare.get("/connexion").text)
    assert "https://assistance" not in bare.get("/connexion").text
    browser = Browser(make_app(**SUPPORT).test_client(), tmp_path / "portal-sinks")
    pages = [browser.get("/connexion").text, browser.get("/page-inconnue").text]
    browser.get("/connexion")
    browser.post("/connexion", {"identifiant": partner.identifier, "mot_de_passe": PASSWORD})
    pages.append(browser.get("/connexion/code").text)
    for html in pages:
        assert 'href="https://assistance.example/apex">Assistance</a>' in html
        assert 'href="mailto:aide@example.org"' in html
    from apexdir.config import PortalSettings

    with pytest.raises(ValueError, match="http:// ou https://"):
        PortalSettings(support_url="javascript:alert(1)")


def test_failed_submit_title_and_status_messages(
    browser: Browser, app_cli: Cli, partner: Partner
) -> None:
    """« Erreur : » first in the title after a failed submit only; the summary is the
    focus target; status messages are role=status, errors role=alert."""
    page = browser.get("/connexion").text
    assert title(page).startswith("Connexion —")
    failed = browser.post("/connexion", {"identifiant": partner.identifier, "mot_de_passe": "x"})
    assert title(failed.text).startswith("Erreur : Connexion —")
    assert 'role="alert" tabindex="-1" data-apex-erreurs' in failed.text
    browser.login(app_cli, partner.identifier, partner.mail)
    out = browser.post("/deconnexion", follow_redirects=True)
    assert (
        '<div class="fr-alert fr-alert--success fr-alert--sm fr-mb-3w" role="status">' in out.text
    )
    assert not title(out.text).startswith("Erreur")


def test_journey_named_in_titles(browser: Browser, app_cli: Cli, structure: str) -> None:
    """« Récapitulatif … — pré-création » is not « … — réinitialisation du mot de passe »."""
    app_cli.invite(structure, "collaborateur", "louise.durand@example.org", "Comptabilité")
    path = "/creation/" + app_cli.link_for("louise.durand@example.org").rsplit("/", 1)[-1]
    form = browser.get(path).text
    assert title(form).startswith(
        "Formulaire de pré-création à compléter (étape 1 sur 3) — pré-création"
    )
    assert title(browser.get("/mot-de-passe-oublie").text).startswith(
        "Envoi code de sécurité (étape 1 sur 4) — réinitialisation du mot de passe"
    )


def test_header_menu_for_small_screens(browser: Browser, app_cli: Cli, partner: Partner) -> None:
    """Logged in: the DSFR « Menu » button controls a modal holding the partner's menu,
    and « Se déconnecter » stays reachable without JavaScript; anonymous: no menu."""
    assert "fr-btn--menu" not in browser.get("/connexion").text
    html = browser.login(app_cli, partner.identifier, partner.mail).text
    assert 'class="fr-btn--menu fr-btn" data-fr-opened="false" aria-controls="menu-entete"' in html
    modal = html[html.index('id="menu-entete"') : html.index("</header>")]
    assert "fr-header__menu fr-modal" in html and 'class="fr-header__menu-links"' in modal
    for label in (
        "Accueil",
        "Accès aux applications",
        "Consultation des comptes et services de la structure",
        "Gestion des données personnelles",
    ):
        assert f">{label}</a>" in modal, label
    assert "Gestion des comptes" not in modal  # a collaborateur manages no account
    assert "<noscript>" in html and "Se déconnecter" in html.split("<noscript>")[1]


@pytest.mark.parametrize(
    "value",
    [
        "//evil.example",
        "//evil.example/structure",
        "https:evil.example",
        "https://evil.example/",
        "\\\\evil.example",
        "/\\evil.example",
        "javascript:alert(1)",
        "/structure\r\nX: y",
        "structure",
        "/connexion/code",
        "/deconnexion",
        "",
        None,
    ],
)
def test_next_is_a_local_path_only(value: str | None) -> None:
    """Never an open redirect: a scheme, a host, backslashes or the login pages refused."""
    assert safe_next(value) is None


def test_next_kept_values() -> None:
    assert safe_next("/structure") == "/structure"
    assert safe_next("/comptes?page=2") == "/comptes?page=2"


def test_after_login_back_to_the_page_asked_for(
    browser: Browser, app_cli: Cli, partner: Partner
) -> None:
    """/structure while logged out → login → code → /structure; a hostile next → /accueil."""
    asked = browser.get("/structure")
    assert asked.location == "/connexion?next=/structure"
    browser.get(asked.location)
    sent = browser.post(
        asked.location, {"identifiant": partner.identifier, "mot_de_passe": PASSWORD}
    )
    assert sent.location == "/connexion/code?next=/structure"
    browser.get(sent.location)
    done = browser.post(sent.location, {"code": last_code(app_cli, partner.mail)})
    assert done.status_code == 302 and done.location == "/structure"
    browser.post("/deconnexion")
    for hostile in ("//evil.example", "https:evil", "\\\\evil", "https://evil.example/"):
        page = browser.get("/connexion", query_string={"next": hostile}).text
        assert '<form method="post" action="/connexion" novalidate>' in page, hostile
    # A forged address on the code step itself: back home, not elsewhere.
    hostile = {"next": "//evil.example"}
    browser.get("/connexion")
    sent = browser.post(
        "/connexion?next=%2F%2Fevil.example",
        {"identifiant": partner.identifier, "mot_de_passe": PASSWORD},
    )
    assert sent.location == "/connexion/code"
    browser.get("/connexion/code", query_string=hostile)
    done = browser.post(
        "/connexion/code?next=%2F%2Fevil.example", {"code": last_code(app_cli, partner.mail)}
    )
    assert done.location == "/accueil"


def test_keep_alive_and_idle_expiry_back_to_the_page(
    make_app: Any, app_cli: Cli, partner: Partner, tmp_path: Any
) -> None:
    """« Prolonger » (the keep-alive) renews the idle time-out, needs the CSRF token and a
    session; past the time-out the page asked for comes back after the new login."""
    clock = FrozenClock(datetime.now(UTC))
    app = make_app(clock=clock)
    browser = Browser(app.test_client(), tmp_path / "portal-sinks")
    home = browser.login(app_cli, partner.identifier, partner.mail).text
    assert 'data-apex-inactivite="900"' in home and 'data-apex-avertissement="120"' in home
    assert 'id="apex-inactivite"' in home and ">Prolonger</button>" in home
    token = re.search(r'data-apex-csrf="([^"]+)"', home).group(1)  # type: ignore[union-attr]
    assert browser.client.post("/session/prolonger").status_code == 400  # no CSRF token
    for _ in range(3):  # 3 × 14 minutes: alive thanks to « Prolonger »
        clock.advance(minutes=14)
        alive = browser.client.post("/session/prolonger", headers={"X-CSRFToken": token})
        assert alive.status_code == 200 and alive.json == {"connecte": True, "inactivite": 900}
    clock.advance(minutes=16)
    gone = browser.get("/structure?x=1")
    assert gone.location == "/connexion?next=/structure?x%3D1"
    # The old session's token is void; a fresh anonymous page's token: 401, not logged in.
    assert (
        browser.client.post("/session/prolonger", headers={"X-CSRFToken": token}).status_code == 400
    )
    fresh = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', browser.get("/connexion").text)
    anonymous = browser.client.post(
        "/session/prolonger",
        headers={"X-CSRFToken": fresh.group(1)},  # type: ignore[union-attr]
    )
    assert anonymous.status_code == 401 and anonymous.json == {"connecte": False}


def test_invitation_type_has_no_default_and_hints(
    browser: Browser, app_cli: Cli, make_partner: Any
) -> None:
    """« Type de compte » starts on an unselectable empty choice; sent without a choice,
    the form says to choose; the account page explains « Habiliter » and « Déléguer »."""
    admin = make_partner("Alice", "Admin", kind="administrateur")
    resp = make_partner("Remi", "Resp", kind="responsable")
    page = browser.login(app_cli, admin.identifier, admin.mail)
    page = browser.get("/comptes").text
    select = page[page.index('id="invitation-type_compte"') : page.index("</select>")]
    assert '<option value="" disabled selected>Sélectionnez le type de compte</option>' in select
    sent = browser.post(
        "/comptes", {"invitation-mail": "x.y@example.org", "invitation-service": "Comptabilité"}
    )
    assert "Type de compte : Choisissez le type de compte." in text_of(sent.text)
    assert title(sent.text).startswith("Erreur : ")
    app_cli.ok("app", "add", "FICOBA", "--name", "Ficoba")
    app_cli.ok("app", "profile-add", "FICOBA", "CONSULTATION")
    app_cli.ok("grant", admin.identifier, "FICOBA", "CONSULTATION")
    detail = text_of(browser.get(f"/comptes/{resp.identifier}").text)
    assert "Habiliter : affecter un profil applicatif à ce compte" in detail
    assert "Déléguer : transmettre un profil applicatif à ce responsable" in detail


def test_pending_requests_are_cards_with_their_buttons(
    browser: Browser, app_cli: Cli, make_partner: Any, structure: str
) -> None:
    """Each pending request is a card of its own holding « Valider » and « Refuser »."""
    admin = make_partner("Alice", "Admin", kind="administrateur")
    app_cli.invite(structure, "collaborateur", "louise.durand@example.org", "Comptabilité")
    app_cli.complete("louise.durand@example.org", "Louise", "Durand")
    browser.login(app_cli, admin.identifier, admin.mail)
    page = browser.get("/comptes").text
    card = page[page.index('class="apex-demande"') :]
    card = card[: card.index("</div>\n  </li>")]
    assert "louise.durand@example.org" in card and "DURAND Louise" in card
    assert ">Valider</button>" in card and ">Refuser</a>" in card
    assert "<table" not in page[: page.index("Inviter une personne")]


def test_precreation_errors_in_field_order_and_mobile_as_written(
    browser: Browser, app_cli: Cli, structure: str
) -> None:
    """The error summary follows the page (Nom, Prénom, mobile, mot de passe); back from
    the récapitulatif, the mobile reads as people write it; the form before the tables."""
    app_cli.invite(structure, "collaborateur", "louise.durand@example.org", "Comptabilité")
    path = "/creation/" + app_cli.link_for("louise.durand@example.org").rsplit("/", 1)[-1]
    page = browser.get(path).text
    assert page.index("<form") < page.index("Votre structure")
    failed = browser.post(path, {"mobile": "12", "mot_de_passe": "", "confirmation": ""}).text
    summary = failed[
        failed.index("data-apex-erreurs") : failed.index("</ul>", failed.index("data-apex-erreurs"))
    ]
    order = re.findall(r'href="#([a-z_]+)"', summary)
    assert order == ["nom", "prenom", "mobile", "mot_de_passe", "confirmation"], order
    form = {
        "nom": "Durand",
        "prenom": "Louise",
        "mobile": "0698765432",
        "mot_de_passe": "Str0ng-Passw0rd!",
        "confirmation": "Str0ng-Passw0rd!",
    }
    assert browser.post(path, form).status_code == 302
    again = browser.get(path).text
    assert 'value="06 98 76 54 32"' in again and "+33698765432" not in again


def test_changer_d_image_keeps_the_identifier(browser: Browser) -> None:
    """« Changer d'image » is a button of the form: a new captcha, the identifier kept,
    no error; « Envoyer code de sécurité » stays the form's default button."""
    first = browser.get("/mot-de-passe-oublie").text
    assert "Saisissez votre identifiant :" in text_of(first)
    assert first.index(
        '<button type="submit" hidden>Envoyer code de sécurité</button>'
    ) < first.index('value="changer-image"')
    old = browser.captcha()
    page = browser.post(
        "/mot-de-passe-oublie", {"identifiant": "marie.martin-px", "action": "changer-image"}
    )
    assert page.status_code == 200
    assert 'value="marie.martin-px"' in page.text and "data-apex-erreurs" not in page.text
    assert browser.captcha() != old


def test_security_code_page_presents_both_outcomes(
    browser: Browser, app_cli: Cli, partner: Partner
) -> None:
    """After « Envoyer code de sécurité »: the SMS and the mail outcomes as equals."""
    browser.get("/mot-de-passe-oublie")
    sent = browser.post(
        "/mot-de-passe-oublie", {"identifiant": partner.identifier, "captcha": browser.captcha()}
    )
    assert sent.location.endswith("/mot-de-passe-oublie/code")
    text = text_of(browser.get("/mot-de-passe-oublie/code").text)
    assert "Vous avez reçu un SMS : saisissez le code" in text
    assert (
        "Vous avez reçu un mail : suivez le lien" in text
        and "Vous pouvez fermer cette page" in text
    )
    assert "contacter votre assistance" in text


def test_keep_alive_refused_once_the_session_ended_elsewhere(
    make_app: Any, app_cli: Cli, partner: Partner, tmp_path: Any
) -> None:
    """« Prolonger » cannot revive a session ended by a logout in another browser."""
    app = make_app()
    first = Browser(app.test_client(), tmp_path / "portal-sinks")
    home = first.login(app_cli, partner.identifier, partner.mail).text
    token = re.search(r'data-apex-csrf="([^"]+)"', home).group(1)  # type: ignore[union-attr]
    second = Browser(app.test_client(), tmp_path / "portal-sinks")
    second.login(app_cli, partner.identifier, partner.mail)
    second.post("/deconnexion")
    answer = first.client.post("/session/prolonger", headers={"X-CSRFToken": token})
    assert answer.status_code == 401 and answer.json == {"connecte": False}
