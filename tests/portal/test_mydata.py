"""« Télécharger mes données » on /donnees-personnelles (issue 21 item 9), test client."""

from __future__ import annotations

import json
from typing import Any

from tests.portal.conftest import Browser, Partner, text_of


def test_the_download_is_the_partners_own_data_as_an_uncached_attachment(
    browser: Browser, app_cli: Any, make_partner: Any
) -> None:
    """The link on the page; a JSON attachment, not kept by any cache, with his own mobile;
    anonymous, the address leads to the login page."""
    anonymous = browser.get("/donnees-personnelles/telecharger")
    assert anonymous.status_code == 302 and "/connexion" in anonymous.location

    partner: Partner = make_partner(mobile="06 12 34 32 34")
    browser.login(app_cli, partner.identifier, partner.mail)
    page = browser.get("/donnees-personnelles")
    assert 'href="/donnees-personnelles/telecharger"' in page.text
    assert "Télécharger mes données" in text_of(page.text)

    response = browser.get("/donnees-personnelles/telecharger")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.headers["Content-Disposition"] == (
        f'attachment; filename="donnees-personnelles-{partner.identifier}.json"'
    )
    assert "no-store" in response.headers["Cache-Control"]
    document = json.loads(response.get_data(as_text=True))
    assert document["identite"]["identifiant"] == partner.identifier
    assert document["identite"]["mobile"] == "+33612343234"
    assert document["structure"]["designation"] == "Banque Exemple"
    assert len(document["connexions"]["connexions_au_portail"]) == 1
    exported = [e for e in app_cli.ok("journal") if e["action"] == "account.data-export"]
    assert [e["actor"] for e in exported] == [partner.identifier]
