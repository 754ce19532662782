"""Issue 18 item 1: a copied session cookie dies with the session it was copied from —
at « Se déconnecter », at a password change or reset, at the provider's logout — on every
node (the generation is on the account entry, not in the node)."""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask

from apexdir.workflows import auth
from tests.helpers import Cli
from tests.portal.conftest import NEW_PASSWORD, PASSWORD, Browser, Partner, text_of

COOKIE = "apex_session"


def _copy(app: Flask, browser: Browser) -> Browser:
    """An attacker's browser holding a copy of `browser`'s session cookie, served by
    another node (another application object on the same directory)."""
    cookie = browser.client.get_cookie(COOKIE)
    assert cookie is not None
    thief = Browser(app.test_client(), browser.dev_dir)
    thief.client.set_cookie(COOKIE, cookie.value)
    return thief


def _logged_in(browser: Browser) -> bool:
    page = browser.get("/accueil")
    return page.status_code == 200


def test_logout_ends_every_copy_of_the_session(
    make_app: Callable[..., Flask], app_cli: Cli, partner: Partner
) -> None:
    node1, node2 = make_app(), make_app()
    owner = Browser(node1.test_client(), node1.root_path)  # type: ignore[arg-type]
    owner.login(app_cli, partner.identifier, partner.mail)
    thief = _copy(node2, owner)
    assert _logged_in(thief)
    owner.get("/accueil")
    owner.post("/deconnexion", {})
    page = thief.get("/donnees-personnelles", follow_redirects=True)
    assert "Votre session a pris fin" in text_of(page.text)
    assert not _logged_in(thief)


def test_password_change_ends_the_other_sessions_not_this_one(
    make_app: Callable[..., Flask], app_cli: Cli, partner: Partner
) -> None:
    node1, node2 = make_app(), make_app()
    owner = Browser(node1.test_client(), node1.root_path)  # type: ignore[arg-type]
    owner.login(app_cli, partner.identifier, partner.mail)
    thief = _copy(node2, owner)
    owner.get("/donnees-personnelles")
    done = owner.post(
        "/donnees-personnelles/mot-de-passe",
        {
            "mdp-actuel": PASSWORD,
            "mdp-mot_de_passe": NEW_PASSWORD,
            "mdp-confirmation": NEW_PASSWORD,
        },
        follow_redirects=True,
    )
    assert "Votre mot de passe a été modifié." in text_of(done.text)
    assert _logged_in(owner)
    assert not _logged_in(thief)


def test_a_reset_ends_every_session(
    make_app: Callable[..., Flask], app_cli: Cli, partner: Partner
) -> None:
    node = make_app()
    owner = Browser(node.test_client(), node.root_path)  # type: ignore[arg-type]
    owner.login(app_cli, partner.identifier, partner.mail)
    assert _logged_in(owner)
    app_cli.ok("password", "forgot", partner.identifier)
    app_cli.deliver()
    link = [m["body"] for m in app_cli.mails(to=partner.mail) if "Réinitialisation" in m["subject"]]
    token = link[-1].split("/reinitialisation/")[1].split()[0]
    app_cli.ok("password", "reset", partner.identifier, token,
               input=f"{NEW_PASSWORD}\n{NEW_PASSWORD}\n")  # fmt: skip
    assert not _logged_in(owner)


def test_provider_logout_ends_the_copies_too(
    make_app: Callable[..., Flask], app_cli: Cli, partner: Partner
) -> None:
    node1, node2 = make_app(), make_app()
    owner = Browser(node1.test_client(), node1.root_path)  # type: ignore[arg-type]
    owner.login(app_cli, partner.identifier, partner.mail)
    thief = _copy(node2, owner)
    owner.get("/oidc/logout")
    assert not _logged_in(thief)


def test_the_workflow_ends_sessions_for_the_cli_too(
    rt: object, app_cli: Cli, partner: Partner
) -> None:
    """A password change made anywhere (here the library, as the CLI does) moves the
    generation the portal checks."""
    from apexdir.workflows.accounts import account_or_none

    before = account_or_none(rt, partner.identifier)  # type: ignore[arg-type]
    auth.change(rt, partner.identifier, PASSWORD, NEW_PASSWORD, NEW_PASSWORD)  # type: ignore[arg-type]
    after = account_or_none(rt, partner.identifier)  # type: ignore[arg-type]
    assert before is not None and after is not None
    assert after.session_generation and after.session_generation != before.session_generation


def test_changing_where_codes_go_asks_for_the_password_after_five_minutes(
    make_app: Callable[..., Flask], app_cli: Cli, partner: Partner
) -> None:
    """A borrowed session cannot move the mail (where reset links go) without the password
    once the login is more than 5 minutes old."""
    from datetime import UTC, datetime

    from apexdir.clock import FrozenClock

    clock = FrozenClock(datetime.now(UTC))
    node = make_app(clock=clock)
    owner = Browser(node.test_client(), node.root_path)  # type: ignore[arg-type]
    owner.login(app_cli, partner.identifier, partner.mail)
    clock.advance(minutes=6)
    form = owner.get("/donnees-personnelles")
    assert "Mot de passe actuel" in text_of(form.text)
    data = {"donnees-nom": "Martin", "donnees-prenom": "Marie",
            "donnees-mail": "voleur@exemple.fr", "donnees-mobile": ""}  # fmt: skip
    missing = owner.post("/donnees-personnelles", data)
    assert "Saisissez votre mot de passe actuel" in text_of(missing.text)
    wrong = owner.post("/donnees-personnelles", {**data, "donnees-actuel": "Pas-le-B0n-Mot!!"})
    assert "Mot de passe incorrect" in text_of(wrong.text)
    assert app_cli.ok("account", "show", partner.identifier)["mail"] == partner.mail
    right = owner.post(
        "/donnees-personnelles", {**data, "donnees-actuel": PASSWORD}, follow_redirects=True
    )
    assert "Étape 2 sur 3" in text_of(right.text)
    # A change of name alone needs no password.
    clock.advance(minutes=6)
    owner.get("/donnees-personnelles")
    name = owner.post("/donnees-personnelles", {**data, "donnees-mail": partner.mail,
                                                 "donnees-prenom": "Marie-Anne"},
                      follow_redirects=True)  # fmt: skip
    assert "Étape 2 sur 3" in text_of(name.text)
