"""End-to-end journeys in a real browser (Debian's chromium driven by Playwright), with
axe-core run on every page reached: zero WCAG 2.1 A/AA violations."""

from __future__ import annotations

import json
import re
import shutil
import urllib.request
from collections.abc import Callable, Iterator
from http.cookiejar import CookieJar
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from flask import Flask

from apexdir.dev.captured import captured_sms
from tests.helpers import Cli
from tests.portal.conftest import (
    AXE_PATH,
    CHROMIUM,
    CSRF,
    NEW_PASSWORD,
    PASSWORD,
    Partner,
    Portal,
    WorkerTab,
    last_code,
    new_context,
    new_tab,
)

TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="chromium is not installed")


class ThreadedCli(Cli):
    """The CLI in a thread of its own: Playwright's sync API keeps an asyncio loop running
    in the test's thread, and the outbox delivery runs one of its own."""

    def run(self, *args: str, input: str | None = None, as_: str | None = None) -> Any:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(1) as pool:
            return pool.submit(Cli.run, self, *args, input=input, as_=as_).result()


@pytest.fixture
def app_cli(config_file: Path, sinks: Any) -> Cli:
    from tests.helpers import register_sinks

    register_sinks(config_file, sinks.directory)
    return ThreadedCli(config_file)


@pytest.fixture
def live(app: Flask, live_server: tuple[str, Portal]) -> Iterator[str]:
    """The test's portal on the worker's live server."""
    url, portal = live_server
    portal.app = app
    yield url
    portal.app = None


@pytest.fixture
def new_page(chromium: Any, live: str, driving: None) -> Iterator[Callable[[], Any]]:
    """A tab in a context of its own at each call (its own cookies, clock and cache), on the
    test's live portal: one world checked by several fresh browsers."""
    contexts: list[Any] = []

    def make() -> Any:
        contexts.append(new_context(chromium, live))
        return new_tab(contexts[-1])

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def page(worker_tab: WorkerTab, live: str, driving: None) -> Iterator[Any]:
    """The worker's tab on the test's portal; cleared after the test (`WorkerTab`)."""
    yield worker_tab.tab
    worker_tab.forget()


def axe(page: Any) -> None:
    """Run axe-core on the current page; fail with the rules and elements it flags.

    axe-core is loaded into the page here, from the tests' live server (`AXE_PATH`), its
    element removed once run: the page checked is the page as the portal made it. Loaded
    as an init script, its 650 KB were compiled and run in every document (≈ 50 ms of
    renderer CPU a page load, ≈ 114 loads a run of the browser files, about half of them
    checked); fetched, the browser keeps it and compiles it from V8's code cache.
    Only the violations are collected (`resultTypes`): the passes, incomplete and
    inapplicable results are what axe spends most of its time serialising, and are not read;
    every rule of TAGS still runs on every node.

    The page is checked once loaded: right after a click on a link, the new document may
    not have its head yet (seen under load: « Cannot read properties of null »)."""
    page.wait_for_load_state()
    violations = page.evaluate(
        """async ([tags, src]) => {
            if (!window.axe) {
                const script = document.createElement('script');
                const loaded = new Promise((ok, ko) => {
                    script.onload = ok;
                    script.onerror = () => ko(new Error('axe-core not loaded from ' + src));
                });
                script.src = src;
                document.head.append(script);
                await loaded;
                script.remove();
            }
            const r = await axe.run(document, {runOnly: {type: 'tag', values: tags},
                                               resultTypes: ['violations']});
            return r.violations.map(v => [v.id, v.nodes.map(n => n.target)]);
        }""",
        [TAGS, AXE_PATH],
    )
    problems = [f"{rule}: {targets[:3]}" for rule, targets in violations]
    assert not problems, f"{page.url}: {problems}"


def submit(page: Any, button: str) -> None:
    page.get_by_role("button", name=button, exact=True).click()
    page.wait_for_load_state()


def sign_in(
    page: Any,
    live: str,
    app_cli: Cli,
    identifier: str,
    mail: str,
    landing: str | None = "/accueil",
) -> None:
    """`page` logged in as `identifier`, on `landing` (None: where the test goes next), for
    the tests whose subject is not the login: the portal's own login (password, then the
    code mailed through the sink) through plain HTTP on the live server, its cookies handed
    to the browser. A real session of the real portal, without the ≈ 4 page loads of the
    journey, which the login tests drive."""
    jar = CookieJar()
    http = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))

    def send(response: Any, fields: dict[str, str]) -> Any:
        html = response.read().decode()
        data = urlencode({**fields, "csrf_token": CSRF.findall(html)[0]}).encode()
        return http.open(response.geturl(), data)  # redirects followed, as a browser does

    at_code = send(http.open(live + "/connexion"), {"identifiant": identifier,
                                                   "mot_de_passe": PASSWORD})  # fmt: skip
    assert at_code.geturl().endswith("/connexion/code"), at_code.geturl()
    home = send(at_code, {"code": last_code(app_cli, mail)})
    assert home.geturl().endswith("/accueil"), home.geturl()
    cookie = {"url": live, "httpOnly": True, "sameSite": "Lax"}  # as the portal sets them
    page.context.add_cookies([{**cookie, "name": c.name, "value": c.value or ""} for c in jar])
    if landing:
        page.goto(landing)


def test_precreation_journey(page: Any, app_cli: Cli, structure: str) -> None:
    """From the mailed link: form, récapitulatif, confirmation — with the keyboard only."""
    app_cli.invite(structure, "collaborateur", "louise.durand@example.org", "Comptabilité")
    token = app_cli.link_for("louise.durand@example.org").rsplit("/", 1)[-1]
    page.goto(f"/creation/{token}")
    axe(page)
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Contenu"  # skip link first
    page.fill("#nom", "Durand")
    page.fill("#prenom", "Louise")
    page.fill("#mobile", "06 12 34 56 78")
    page.fill("#mot_de_passe", "faible")
    assert page.locator("#mot_de_passe-jauge").inner_text().endswith("faible")
    page.fill("#mot_de_passe", PASSWORD)
    assert page.locator("#mot_de_passe-jauge").inner_text().endswith("élevé")
    page.fill("#confirmation", "autre-chose")
    submit(page, "Valider")
    assert "Les deux mots de passe ne correspondent pas :" in page.inner_text("main")
    axe(page)  # the page with its errors
    page.fill("#mot_de_passe", PASSWORD)
    page.fill("#confirmation", PASSWORD)
    page.focus("#confirmation")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/recapitulatif$"))
    assert "Récapitulatif" in page.inner_text("main") and "Durand" in page.inner_text("main")
    axe(page)
    submit(page, "Envoyer votre création de compte")
    assert "Le formulaire de pré-création a été transmis pour validation." in page.inner_text(
        "main"
    )
    axe(page)


def test_login_with_code_and_space(page: Any, app_cli: Cli, partner: Partner) -> None:
    """Password, then the mailed code; then every page of the partner's space."""
    page.goto("/")
    axe(page)
    page.fill("#identifiant", partner.identifier)
    page.fill("#mot_de_passe", PASSWORD)
    page.click("label[for=mot_de_passe-afficher]")  # DSFR show/hide works under our CSP
    assert page.get_attribute("#mot_de_passe", "type") == "text"
    submit(page, "Se connecter")
    page.wait_for_url(re.compile(r"/connexion/code$"))
    axe(page)
    page.fill("#code", last_code(app_cli, partner.mail))
    submit(page, "Vérifier")
    page.wait_for_url(re.compile(r"/accueil$"))
    assert "Marie MARTIN" in page.inner_text("main")
    axe(page)
    for path in (
        "/applications",
        "/structure",
        f"/structure/comptes/{partner.identifier}",
        "/donnees-personnelles",
        "/page-inconnue",
    ):
        page.goto(path)
        axe(page)
    page.goto("/accueil")
    submit(page, "Se déconnecter")
    assert "Vous êtes déconnecté." in page.inner_text("main")


def test_reset_by_sms_with_captcha(
    page: Any, app_cli: Cli, sinks: Any, make_partner: Any, tmp_path: Path
) -> None:
    """Captcha, code by SMS, new password, confirmation, then a login with it."""
    from apexdir.portal.captcha import latest_dev_answer

    partner = make_partner("Paul", "Durand", mobile="06 12 34 32 34")
    page.goto("/connexion")
    page.get_by_role("link", name="Mot de passe oublié ?").click()
    page.wait_for_url(re.compile(r"/mot-de-passe-oublie$"))
    axe(page)
    page.get_by_role("button", name="Changer d'image").click()
    page.wait_for_load_state()
    answer = latest_dev_answer(tmp_path / "portal-sinks")
    assert answer is not None
    page.fill("#identifiant", partner.identifier)
    page.fill("#captcha", answer["answer"])
    submit(page, "Envoyer code de sécurité")
    page.wait_for_url(re.compile(r"/mot-de-passe-oublie/code$"))
    axe(page)
    app_cli.deliver()
    sms = [m["body"] for m in captured_sms(sinks.directory)]
    page.fill("#code", re.findall(r"code de sécurité est (\d{6})", sms[-1])[0])
    submit(page, "Valider le code de sécurité saisi")
    axe(page)
    page.fill("#mot_de_passe", NEW_PASSWORD)
    page.fill("#confirmation", NEW_PASSWORD)
    submit(page, "Valider le nouveau mot de passe")
    assert "Le mot de passe a été réinitialisé." in page.inner_text("main")
    axe(page)
    page.get_by_role("link", name="Retour à la page d'authentification").click()
    page.fill("#identifiant", partner.identifier)
    page.fill("#mot_de_passe", NEW_PASSWORD)
    submit(page, "Se connecter")
    page.wait_for_url(re.compile(r"/connexion/code$"))


@pytest.mark.skipif(not shutil.which("espeak-ng"), reason="espeak-ng is not installed")
def test_captcha_sound_plays_and_replays_from_one_fetch(page: Any) -> None:
    """The browser plays the captcha's sound from its own address, and plays it again from
    what it holds: one fetch for two listenings (the address answers once)."""
    fetched: list[str] = []

    def wav(request: Any) -> None:
        if request.url.endswith(".wav"):
            fetched.append(request.url)

    page.on("request", wav)
    page.goto("/mot-de-passe-oublie")
    played = page.evaluate(
        """async () => {
            const audio = document.querySelector('audio');
            audio.muted = true;
            audio.playbackRate = 16;  // the most chromium allows: half the real wait of 8
            const listen = async () => {
                const ended = new Promise(r => audio.addEventListener('ended', r, {once: true}));
                await audio.play();
                await ended;
            };
            await listen();
            const duration = audio.duration;
            audio.currentTime = 0;
            await listen();
            return {duration, error: audio.error && audio.error.code};
        }"""
    )
    page.remove_listener("request", wav)  # the tab serves the worker's next tests
    assert played["error"] is None
    assert 4.0 < played["duration"] < 15.0
    assert len(fetched) == 1, fetched


def test_reset_by_mail_link(page: Any, app_cli: Cli, partner: Partner, tmp_path: Path) -> None:
    """No mobile: the link from the mail opens the new password page."""
    from apexdir.portal.captcha import latest_dev_answer

    page.goto("/mot-de-passe-oublie")
    answer = latest_dev_answer(tmp_path / "portal-sinks")
    assert answer is not None
    page.fill("#identifiant", partner.identifier)
    page.fill("#captcha", answer["answer"])
    submit(page, "Envoyer code de sécurité")
    link = app_cli.link_for(partner.mail)
    page.goto("/reinitialisation/" + link.rsplit("/", 1)[-1])
    axe(page)
    page.fill("#mot_de_passe", NEW_PASSWORD)
    page.fill("#confirmation", NEW_PASSWORD)
    submit(page, "Valider le nouveau mot de passe")
    assert "Le mot de passe a été réinitialisé." in page.inner_text("main")


def test_personal_data_journey(page: Any, live: str, app_cli: Cli, partner: Partner) -> None:
    """Change the mail: form, récapitulatif, confirmation."""
    sign_in(page, live, app_cli, partner.identifier, partner.mail)
    side = page.locator("nav.fr-sidemenu")
    side.get_by_role("link", name="Gestion des données personnelles", exact=True).click()
    page.fill("#donnees-mail", "marie@nouveau.fr")
    submit(page, "Valider les modifications apportées")
    assert "marie@nouveau.fr" in page.inner_text("main")
    axe(page)
    submit(page, "Enregistrer les modifications apportées")
    assert "Vos données personnelles ont été modifiées." in page.inner_text("main")
    axe(page)
    assert app_cli.ok("account", "show", partner.identifier)["mail"] == "marie@nouveau.fr"
    # « Télécharger mes données »: the page with its link passes axe; the file is the JSON.
    page.goto("/donnees-personnelles")
    axe(page)
    with page.expect_download() as download:
        page.get_by_role("link", name=re.compile("^Télécharger mes données")).click()
    assert download.value.suggested_filename == f"donnees-personnelles-{partner.identifier}.json"
    document = json.loads(Path(download.value.path()).read_text(encoding="utf-8"))
    assert document["identite"]["adresse_mail"] == "marie@nouveau.fr"


def test_administrator_runs_his_structure(
    page: Any, live: str, app_cli: Cli, structure: str
) -> None:
    """Invite a responsable, validate him, delegate a profile; he invites a collaborateur,
    whom the administrator validates and the responsable habilitates; a merge of services.
    axe-core on every management page."""
    app_cli.ok("app", "add", "FICOBA", "--name", "Fichier des comptes bancaires")
    app_cli.ok("app", "profile-add", "FICOBA", "CONSULTATION")
    admin = app_cli.create_account(
        structure, "administrateur", "alice.admin@example.org", "Alice", "Admin"
    )
    app_cli.ok("grant", admin, "FICOBA", "CONSULTATION")
    sign_in(page, live, app_cli, admin, "alice.admin@example.org")
    side = page.locator("nav.fr-sidemenu")
    side.get_by_role("link", name="Gestion des comptes responsables et collaborateurs").click()
    axe(page)
    page.select_option("#invitation-type_compte", "responsable")
    page.select_option("#invitation-service", "Comptabilité")
    page.fill("#invitation-mail", "remi.resp@example.org")
    submit(page, "Envoyer l'invitation")
    assert "L'invitation a été envoyée" in page.inner_text("main")
    app_cli.complete("remi.resp@example.org", "Remi", "Resp")
    page.reload()
    page.get_by_role("button", name="Valider la demande de remi.resp@example.org").click()
    page.wait_for_load_state()
    assert "identifiant remi.resp-px" in page.inner_text("main")
    page.goto("/comptes/remi.resp-px")
    axe(page)
    page.select_option("#deleguer-profil", "FICOBA/CONSULTATION")
    submit(page, "Déléguer")
    assert "a été délégué" in page.inner_text("main")
    # Suspension and reactivation from the same page (issue 21), axe-core on both states.
    page.fill("#suspendre-motif", "Absence prolongée")
    submit(page, "Suspendre")
    assert "est suspendu" in page.inner_text("main")
    axe(page)
    submit(page, "Réactiver")
    assert "est réactivé" in page.inner_text("main")
    page.goto(f"/comptes/{admin}")  # the last active administrateur: the page explains
    assert "Dernier administrateur actif" in page.inner_text("main")
    axe(page)
    side.get_by_role("link", name="Gestion des services").click()
    axe(page)
    page.fill("#nom", "Contentieux")
    submit(page, "Créer le service")
    page.get_by_role("link", name="Comptabilité").click()
    axe(page)
    page.select_option("#fusion-cible", label="Contentieux")
    submit(page, "Préparer la fusion")
    axe(page)
    submit(page, "Confirmer la fusion")
    assert "fusionné dans « Contentieux »" in page.inner_text("main")
    submit(page, "Se déconnecter")
    # The responsable invites a collaborateur of his service …
    # Straight to « Gestion des comptes »: the home page was not checked here, only loaded.
    sign_in(page, live, app_cli, "remi.resp-px", "remi.resp@example.org", landing="/comptes")
    axe(page)
    page.fill("#invitation-mail", "colette.collab@example.org")
    submit(page, "Envoyer l'invitation")
    assert "L'invitation a été envoyée" in page.inner_text("main")
    app_cli.complete("colette.collab@example.org", "Colette", "Collab")
    # … validated by the administrator (a responsable does not validate, SPEC §5) …
    request = app_cli.ok("account", "pending", "--structure", structure)[0]["request_id"]
    app_cli.ok("account", "validate", request, as_=admin)
    # … and habilitated by the responsable with the delegated profile.
    page.goto("/comptes/colette.collab-px")
    page.select_option("#habiliter-profil", "FICOBA/CONSULTATION")
    submit(page, "Habiliter")
    assert "a été attribué" in page.inner_text("main")
    axe(page)
    assert app_cli.ok("account", "show", "colette.collab-px")["habilitations"] == [
        "FICOBA/CONSULTATION"
    ]
