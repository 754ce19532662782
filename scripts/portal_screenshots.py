"""Screenshots of « Mon espace APEX Partenaires » for the documentation (docs/portal/).

`.venv/bin/python scripts/portal_screenshots.py [--out docs/portal]`

Runs in a development environment of its own (a temporary folder: `apexdir dev up`, the demo
seed, accounts created with the CLI as scripts/demo.sh does), drives Debian's chromium
headless through the main pages (1280×900 viewport, then a phone's 375×812; full-page
captures), then `dev down` and removes the folder. PNGs above 300 KB are reduced to a
256-colour palette.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
APEXDIR = Path(sys.executable).with_name("apexdir")
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
PASSWORD = "Demo-Passw0rd!42"
SIRET = "73282932000074"
SERVICE = "Service contentieux"
MAX_BYTES = 300_000


class Env:
    """A throw-away development environment, driven through the CLI like an operator."""

    def __init__(self, root: Path) -> None:
        self.root = root
        # Our own configuration only: an APEXDIR_* variable of the caller's shell (another
        # environment's config or overrides) must not leak into this one.
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("APEXDIR_")}
        self.env["APEXDIR_CONFIG"] = str(root / "apexdir.toml")

    def run(self, *args: str, as_: str | None = None, input: str | None = None) -> Any:
        command = [str(APEXDIR), "--json", *(["--as", as_] if as_ else []), *args]
        done = subprocess.run(
            command, cwd=self.root, env=self.env, input=input, capture_output=True, text=True
        )
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(args)}: exit {done.returncode}\n{done.stderr}")
        return json.loads(done.stdout) if done.stdout.strip() else None

    def mails(self, to: str) -> list[dict[str, Any]]:
        # Deliver now rather than wait for the dev daemon's next 2-second pass.
        self.run("daemon", "run-once", "outbox")
        return list(self.run("dev", "mails", "--to", to))

    def link(self, to: str) -> str:
        return str(re.findall(r"URL : (\S+)", self.mails(to)[-1]["body"])[0])

    def code(self, to: str) -> str:
        bodies = "\n".join(m["body"] for m in self.mails(to))
        return re.findall(r"code de vérification (\d{6}) pour", bodies)[-1]

    def invite(self, mail: str, kind: str, as_: str | None = None, **extra: str) -> str:
        args = ["account", "invite", "--structure", SIRET, "--type", kind, "--mail", mail]
        for key, value in extra.items():
            args += [f"--{key}", value]
        return str(self.run(*args, as_=as_)["request_id"])

    def account(self, mail: str, kind: str, first: str, last: str, as_: str | None = None,
                mobile: str | None = None, **extra: str) -> str:  # fmt: skip
        """Invited, form completed (password twice on stdin), validated: the identifier."""
        request = self.invite(mail, kind, as_=as_, **extra)
        names = ["--last-name", last, "--first-name", first]
        names += ["--mobile", mobile] if mobile else []
        self.run("account", "complete", self.link(mail), *names, "--yes",
                 input=f"{PASSWORD}\n{PASSWORD}\n")  # fmt: skip
        return str(self.run("account", "validate", request, as_=as_)["identifier"])


def prepare(env: Env) -> dict[str, str]:
    """The demo's people: an administrator (mobile, a profile), a collaborateur, and a
    pending invitation whose link the creation screenshots open."""
    env.run("dev", "seed")
    admin_mail = "marie.martin@banque-exemple.fr"
    admin = env.account(admin_mail, "administrateur", "Marie", "Martin",
                        mobile="06 12 34 56 78", application="FICOBA")  # fmt: skip
    env.run("grant", admin, "FICOBA", "CONSULTATION")
    collab = env.account("cathy.noel@banque-exemple.fr", "collaborateur", "Cathy", "Noël",
                         as_=admin, service=SERVICE)  # fmt: skip
    env.run("grant", collab, "FICOBA", "CONSULTATION", as_=admin)
    invited = "louise.durand@banque-exemple.fr"
    env.invite(invited, "collaborateur", as_=admin, service=SERVICE)
    creation = env.link(invited)
    # A second invitation for the phone's captures, and a form sent, waiting for validation.
    env.invite("paul.bernard@banque-exemple.fr", "collaborateur", as_=admin, service=SERVICE)
    submitted = "jean.dupont-de-la-fontaine@banque-exemple.fr"
    env.invite(submitted, "collaborateur", as_=admin, service=SERVICE)
    env.run("account", "complete", env.link(submitted), "--last-name", "Dupont de La Fontaine",
            "--first-name", "Jean", "--yes", input=f"{PASSWORD}\n{PASSWORD}\n")  # fmt: skip
    env.run("app", "update", "FICOBA", "--url", "https://ficoba.example/")
    return {"admin": admin, "admin_mail": admin_mail, "collab": collab, "creation": creation,
            "creation_phone": env.link("paul.bernard@banque-exemple.fr")}  # fmt: skip


def shoot(env: Env, base_url: str, people: dict[str, str], out: Path) -> list[Path]:
    from playwright.sync_api import sync_playwright

    shots: list[Path] = []

    def snap(page: Any, name: str, full_page: bool = True) -> None:
        page.wait_for_load_state("networkidle")
        # No focus ring from the last field filled: the capture shows the page at rest.
        page.evaluate("document.activeElement && document.activeElement.blur()")
        path = out / f"{name}.png"
        # A modal open (the « Menu », the idle warning): the window as the person sees it.
        page.screenshot(path=str(path), full_page=full_page)
        shots.append(path)
        print(f"  {path.name:<34} {page.url.removeprefix(base_url)}", file=sys.stderr)

    def click(page: Any, button: str) -> None:
        page.get_by_role("button", name=button, exact=True).click()
        page.wait_for_load_state()

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM)
        context = browser.new_context(
            base_url=base_url, viewport={"width": 1280, "height": 900}, locale="fr-FR"
        )
        page = context.new_page()
        page.set_default_timeout(15_000)

        page.goto("/connexion")
        snap(page, "01-connexion")
        page.fill("#identifiant", people["admin"])
        page.fill("#mot_de_passe", PASSWORD)
        click(page, "Se connecter")
        page.wait_for_url(re.compile(r"/connexion/code$"))
        snap(page, "02-code")
        page.fill("#code", env.code(people["admin_mail"]))
        click(page, "Vérifier")
        page.wait_for_url(re.compile(r"/accueil$"))
        snap(page, "03-accueil-administrateur")
        for path, name in (("/applications", "04-applications"), ("/structure", "05-structure"),
                           (f"/structure/comptes/{people['collab']}", "06-compte"),
                           ("/donnees-personnelles", "07-donnees-personnelles")):  # fmt: skip
            page.goto(path)
            snap(page, name)
        page.goto("/accueil")
        click(page, "Se déconnecter")

        page.goto("/mot-de-passe-oublie")
        page.fill("#identifiant", people["admin"])
        # The dev sinks hold the answer of the latest captcha shown: the one on this page.
        page.fill("#captcha", str(env.run("dev", "captcha")["answer"]))
        snap(page, "08-mot-de-passe-oublie")
        click(page, "Envoyer code de sécurité")
        page.wait_for_url(re.compile(r"/mot-de-passe-oublie/code$"))
        snap(page, "09-code-de-securite")

        page.goto(people["creation"])
        page.fill("#nom", "Durand")
        page.fill("#prenom", "Louise")
        page.fill("#mobile", "06 98 76 54 32")
        page.fill("#mot_de_passe", PASSWORD)
        page.fill("#confirmation", PASSWORD)
        snap(page, "10-creation-formulaire")
        click(page, "Valider")
        page.wait_for_url(re.compile(r"/recapitulatif$"))
        snap(page, "11-creation-recapitulatif")
        click(page, "Envoyer votre création de compte")
        snap(page, "12-creation-confirmation")

        page.goto("/page-inconnue")
        snap(page, "13-erreur-404")
        page.goto("/connexion")
        page.fill("#identifiant", people["admin"])
        page.fill("#mot_de_passe", PASSWORD)
        click(page, "Se connecter")
        page.fill("#code", env.code(people["admin_mail"]))
        click(page, "Vérifier")
        page.goto("/comptes")
        snap(page, "14-comptes")
        page.goto("/structure/historique")
        snap(page, "17-historique")
        click(page, "Se déconnecter")
        for path, name in (("/accessibilite", "15-accessibilite"),
                           ("/confidentialite", "16-donnees-personnelles-rgpd")):  # fmt: skip
            page.goto(path)
            snap(page, name)
        context.close()
        shoot_phone(env, browser, base_url, people, snap, click)
        browser.close()
    return shots


def shoot_phone(env: Env, browser: Any, base_url: str, people: dict[str, str],
                snap: Any, click: Any) -> None:  # fmt: skip
    """The same portal at a phone's width (375 px): the header's « Menu », the pending
    requests' cards, a récapitulatif, the security code page, the idle time-out warning."""
    context = browser.new_context(
        base_url=base_url, viewport={"width": 375, "height": 812}, locale="fr-FR",
        is_mobile=True, has_touch=True, device_scale_factor=1,
    )  # fmt: skip
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.clock.install()  # the idle warning is shown by moving the page's clock
    page.goto("/connexion")
    snap(page, "20-telephone-connexion")
    page.fill("#identifiant", people["admin"])
    page.fill("#mot_de_passe", PASSWORD)
    click(page, "Se connecter")
    page.fill("#code", env.code(people["admin_mail"]))
    click(page, "Vérifier")
    page.wait_for_url(re.compile(r"/accueil$"))
    snap(page, "21-telephone-accueil")
    page.locator("header").get_by_role("button", name="Menu").click()
    page.locator("#menu-entete").get_by_role("button", name="Se déconnecter").wait_for()
    snap(page, "22-telephone-menu", full_page=False)
    page.goto("/comptes")
    snap(page, "23-telephone-comptes")
    page.goto("/applications")
    snap(page, "24-telephone-applications")
    page.clock.fast_forward("13:10")
    page.locator("#apex-inactivite").get_by_role("button", name="Prolonger").wait_for()
    snap(page, "25-telephone-avertissement-session", full_page=False)
    page.locator("#apex-inactivite").get_by_role("button", name="Prolonger").click()
    page.goto(people["creation_phone"])
    page.fill("#nom", "Bernard")
    page.fill("#prenom", "Paul")
    page.fill("#mot_de_passe", PASSWORD)
    page.fill("#confirmation", PASSWORD)
    click(page, "Valider")
    page.wait_for_url(re.compile(r"/recapitulatif$"))
    snap(page, "26-telephone-creation-recapitulatif")
    context.close()


def shrink(path: Path) -> None:
    """Full-page captures of flat DSFR pages hold few colours: a 256-colour palette keeps
    them legible at a fraction of the size (pngquant when installed, else Pillow)."""
    if path.stat().st_size <= MAX_BYTES:
        return
    pngquant = shutil.which("pngquant")
    if pngquant:
        subprocess.run([pngquant, "--force", "--skip-if-larger", "--output", str(path),
                        "--quality", "70-95", str(path)], check=False)  # fmt: skip
        return
    from PIL import Image

    with Image.open(path) as image:
        reduced = image.convert("RGB").quantize(256, method=Image.Quantize.MEDIANCUT)
    reduced.save(path, optimize=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "portal")
    args = parser.parse_args(argv)
    out: Path = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    root = Path(tempfile.mkdtemp(prefix="apexdir-screenshots-"))
    env = Env(root)
    shots: list[Path] = []
    try:
        status = env.run("dev", "up")
        print(f"dev environment in {root}, portal {status['portal_url']}", file=sys.stderr)
        people = prepare(env)
        shots = shoot(env, status["portal_url"], people, out)
        for path in shots:
            shrink(path)
    finally:
        try:
            env.run("dev", "down")
        finally:
            shutil.rmtree(root, ignore_errors=True)
    for path in shots:
        print(f"{path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}"
              f"  {path.stat().st_size // 1024} KB")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
