"""A closed structure at the portal (issue 21 item 6): sessions end, the login explains it."""

from __future__ import annotations

from typing import Any

from tests.helpers import SIRET
from tests.portal.conftest import PASSWORD, Browser, Partner, text_of


def test_a_closed_structure_ends_sessions_and_tells_the_right_password_why(
    browser: Browser, app_cli: Any, partner: Partner
) -> None:
    """The open session ends at its next request; the right password reads a clear French
    message, a wrong one the answer of an unknown identifier; reopened, the login works."""
    home = browser.login(app_cli, partner.identifier, partner.mail)
    assert home.status_code == 200
    app_cli.ok("structure", "close", SIRET, "--reason", "Transfert de l’activité")
    ended = browser.get("/donnees-personnelles")
    assert ended.status_code == 302 and "/connexion" in ended.location

    browser.get("/connexion")
    right = browser.post("/connexion", {"identifiant": partner.identifier,
                                        "mot_de_passe": PASSWORD})  # fmt: skip
    assert right.status_code == 200
    assert "Votre structure est fermée sur APEX Partenaires" in text_of(right.text)
    assert "<title>Erreur" in right.text
    wrong = browser.post("/connexion", {"identifiant": partner.identifier,
                                        "mot_de_passe": "Pas-le-B0n-Mot!!"})  # fmt: skip
    unknown = browser.post("/connexion", {"identifiant": "personne.inconnue-px",
                                          "mot_de_passe": "Pas-le-B0n-Mot!!"})  # fmt: skip
    assert "fermée" not in text_of(wrong.text)
    assert "Identifiant ou mot de passe incorrect." in text_of(wrong.text)
    assert "Identifiant ou mot de passe incorrect." in text_of(unknown.text)

    app_cli.ok("structure", "reopen", SIRET)
    again = browser.login(app_cli, partner.identifier, partner.mail)
    assert again.status_code == 200 and "Marie MARTIN" in text_of(again.text)
