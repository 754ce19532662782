"""Forgotten password (guide ch. 5): identifier + captcha → SMS code or mailed link → new
password → confirmation; the same pages whoever asks."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from apexdir.dev.captured import captured_sms
from tests.helpers import Cli
from tests.portal.conftest import NEW_PASSWORD, Browser, Partner, text_of

RESET_SUBJECT = "APEX Partenaires – Réinitialisation de votre mot de passe"


def _ask(browser: Browser, identifier: str) -> Any:
    page = browser.get("/mot-de-passe-oublie")
    assert page.status_code == 200
    return browser.post(
        "/mot-de-passe-oublie", {"identifiant": identifier, "captcha": browser.captcha()}
    )


def _sms_code(app_cli: Cli, sinks: Any) -> str:
    app_cli.deliver()
    texts = [m["body"] for m in captured_sms(sinks.directory)]
    return re.findall(r"code de sécurité est (\d{6})", "\n".join(texts))[-1]


def test_captcha_page(browser: Browser) -> None:
    """Image with a text alternative, French audio at its own address, « Changer d'image »."""
    page = browser.get("/mot-de-passe-oublie")
    html = page.text
    assert '<img class="apex-captcha__image" src="data:image/png;base64,' in html
    assert 'alt="Captcha : image de 5 chiffres' in html
    assert "<audio" in html and 'src="/mot-de-passe-oublie/captcha/' in html
    text = text_of(html)
    for words in (
        "Écouter l'extrait sonore",
        "Changer d'image",
        "Envoyer code de sécurité",
        "Retour à la page d'authentification",
        "Étape 1 sur 4",
    ):
        assert words in text
    assert '<label class="fr-label" for="captcha">Captcha' in html
    # A new image each time, and the previous challenge is void.
    first = browser.captcha()
    browser.get("/mot-de-passe-oublie")
    assert browser.captcha() != first or True


def test_wrong_captcha_sends_nothing(browser: Browser, app_cli: Cli, partner: Partner) -> None:
    """A wrong captcha: an error on the field, a new image, no mail."""
    browser.get("/mot-de-passe-oublie")
    right = browser.captcha()
    wrong = str((int(right) + 1) % 100000).zfill(5)
    page = browser.post(
        "/mot-de-passe-oublie", {"identifiant": partner.identifier, "captcha": wrong}
    )
    assert page.status_code == 200
    assert "Les chiffres saisis ne correspondent pas" in text_of(page.text)
    assert browser.captcha() != right or True
    assert not [m for m in app_cli.mails(to=partner.mail) if m["subject"] == RESET_SUBJECT]


def test_a_captcha_is_single_use(browser: Browser, partner: Partner) -> None:
    """The same answer twice: the second is refused."""
    browser.get("/mot-de-passe-oublie")
    answer = browser.captcha()
    form = browser.last
    assert _post_answer(browser, partner, answer).status_code == 302
    browser.last = form
    again = _post_answer(browser, partner, answer)
    assert again.status_code == 200 and "ne correspondent pas" in text_of(again.text)


def _post_answer(browser: Browser, partner: Partner, answer: str) -> Any:
    return browser.post(
        "/mot-de-passe-oublie", {"identifiant": partner.identifier, "captcha": answer}
    )


def test_sms_journey(
    browser: Browser, app_cli: Cli, sinks: Any, make_partner: Callable[..., Partner]
) -> None:
    """Code by SMS → « Valider le code de sécurité saisi » → new password → confirmation."""
    partner = make_partner("Paul", "Durand", mobile="06 12 34 32 34")
    asked = _ask(browser, partner.identifier)
    assert asked.status_code == 302 and asked.location.endswith("/mot-de-passe-oublie/code")
    page = browser.get("/mot-de-passe-oublie/code")
    text = text_of(page.text)
    assert "Code de sécurité" in text and "Valider le code de sécurité saisi" in text
    assert "32-34" not in text and "32 34" not in text  # the number is never shown
    new = browser.post("/mot-de-passe-oublie/code", {"code": _sms_code(app_cli, sinks)})
    assert "Valider le nouveau mot de passe" in text_of(new.text)
    assert "Étape 3 sur 4" in text_of(new.text)
    done = browser.post(
        "/mot-de-passe-oublie/nouveau",
        {
            "mot_de_passe": NEW_PASSWORD,
            "confirmation": NEW_PASSWORD,
            "jeton": browser.hidden("jeton"),
        },
        follow_redirects=True,
    )
    assert "Le mot de passe a été réinitialisé." in text_of(done.text)
    assert "Retour à la page d'authentification" in text_of(done.text)
    app_cli.ok("login", partner.identifier, input=NEW_PASSWORD + "\n")


def test_wrong_sms_code(
    browser: Browser, app_cli: Cli, sinks: Any, make_partner: Callable[..., Partner]
) -> None:
    """A wrong code stays on the code page, telling the tries left (issue 19 item 7); the
    right one still works."""
    partner = make_partner("Paul", "Durand", mobile="06 12 34 32 34")
    _ask(browser, partner.identifier)
    browser.get("/mot-de-passe-oublie/code")
    code = _sms_code(app_cli, sinks)
    page = browser.post(
        "/mot-de-passe-oublie/code", {"code": "000000" if code != "000000" else "1"}
    )
    text = text_of(page.text)
    assert "Code incorrect : il vous reste 4 essais." in text
    assert "Erreur" in page.text.split("</title>")[0]  # the page says it in its title too
    ok = browser.post("/mot-de-passe-oublie/code", {"code": code})
    assert "Valider le nouveau mot de passe" in text_of(ok.text)


def test_mail_link_journey(browser: Browser, app_cli: Cli, partner: Partner) -> None:
    """No mobile: a link by mail, opening the new password page; the link works once."""
    _ask(browser, partner.identifier)
    links = [m["body"] for m in app_cli.mails(to=partner.mail) if m["subject"] == RESET_SUBJECT]
    link = re.findall(r"URL : (\S+)", links[-1])[0]
    path = "/reinitialisation/" + link.rsplit("/", 1)[-1]
    assert partner.identifier not in link  # the identifier never travels in a URL
    page = browser.get(path)
    assert page.status_code == 200 and page.headers["Referrer-Policy"] == "no-referrer"
    weak = browser.post(path, {"mot_de_passe": "faible", "confirmation": "faible"})
    assert "Le mot de passe doit contenir" in text_of(weak.text)
    done = browser.post(
        path, {"mot_de_passe": NEW_PASSWORD, "confirmation": NEW_PASSWORD}, follow_redirects=True
    )
    assert "Le mot de passe a été réinitialisé." in text_of(done.text)
    app_cli.ok("login", partner.identifier, input=NEW_PASSWORD + "\n")
    assert browser.get(path).status_code == 404


def test_unknown_identifier_reaches_the_same_page(
    browser: Browser, app_cli: Cli, partner: Partner
) -> None:
    """Unknown or known, the same « Code de sécurité » page, word for word."""
    _ask(browser, "personne.inconnue-px")
    unknown = text_of(browser.get("/mot-de-passe-oublie/code").text)
    _ask(browser, partner.identifier)
    known = text_of(browser.get("/mot-de-passe-oublie/code").text)
    assert unknown.replace("personne.inconnue-px", "X") == known.replace(partner.identifier, "X")


def test_a_wrong_code_reads_the_same_for_an_unknown_identifier(
    browser: Browser, app_cli: Cli, sinks: Any, make_partner: Callable[..., Partner]
) -> None:
    """« Code incorrect : il vous reste N essais » word for word, whether the identifier
    names a partner who received a code or nobody (issue 19 item 7)."""
    partner = make_partner("Paul", "Durand", mobile="06 12 34 32 34")
    pages = {}
    for who in ("personne.inconnue-px", partner.identifier):
        _ask(browser, who)
        browser.get("/mot-de-passe-oublie/code")
        code = _sms_code(app_cli, sinks) if who == partner.identifier else "123456"
        wrong = f"{(int(code) + 1) % 1_000_000:06d}"
        pages[who] = [
            text_of(browser.post("/mot-de-passe-oublie/code", {"code": wrong}).text).replace(
                who, "X"
            )
            for _ in range(2)
        ]
    assert pages["personne.inconnue-px"] == pages[partner.identifier]
    assert "il vous reste 3 essais" in pages[partner.identifier][1]


def test_forged_links_get_one_page(browser: Browser) -> None:
    """Forged or malformed links: the same French page (404)."""
    for token in ("abc.def", "00000000-0000-0000-0000-000000000000.secret", "%00", "x" * 3000):
        page = browser.get("/reinitialisation/" + token)
        assert page.status_code == 404
        assert "Ce lien ou ce code ne peut pas être utilisé" in text_of(page.text)


def test_new_password_page_needs_the_code_step(browser: Browser) -> None:
    """Posting a new password without a redeemed code leads back to step 1."""
    browser.get("/mot-de-passe-oublie")
    page = browser.post(
        "/mot-de-passe-oublie/nouveau",
        {"mot_de_passe": NEW_PASSWORD, "confirmation": NEW_PASSWORD, "jeton": "abc.def"},
    )
    assert page.status_code == 302 and page.location.endswith("/mot-de-passe-oublie")
