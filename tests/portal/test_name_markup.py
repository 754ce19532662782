"""Names and service names with markup or bidi/zero-width controls are refused by every
entry: the pré-création form (CLI and portal), personal data, services, structures, bulk
import (issue 18, item 10). The value never reaches the directory."""

from __future__ import annotations

from pathlib import Path

from tests.bulk.conftest import HEADER, write_csv
from tests.helpers import PASSWORD, SIRET, Cli
from tests.portal.conftest import Browser, text_of

BIDI = "\u202eyhtaC"  # shows as « Cathy »


def _structure(app_cli: Cli) -> None:
    app_cli.ok("structure", "create", "--siret", SIRET, "--category", "Banques", "--name", "B")
    app_cli.ok("service", "create", SIRET, "Comptabilité")


def test_precreation_form_refuses_controls_and_markup(app_cli: Cli) -> None:
    """`account complete` with a bidi override or a tag in a name: exit 1, link still usable."""
    _structure(app_cli)
    app_cli.invite(SIRET, "collaborateur", "c@example.org", "Comptabilité")
    link = app_cli.link_for("c@example.org")
    for first, last in ((BIDI, "Noel"), ("Cathy", "<b>Noel</b>"), ("Ca\u200bthy", "Noel")):
        error = app_cli.fails(
            1,
            "account", "complete", link, "--last-name", last, "--first-name", first, "--yes",
            input=f"{PASSWORD}\n{PASSWORD}\n",
        )  # fmt: skip
        assert "caractère" in error or "« < » et « > »" in error, error
    app_cli.complete("c@example.org", "Cathy", "Noel")


def test_personal_data_service_and_structure(app_cli: Cli) -> None:
    """`me update`, `service create`, `service rename`, `structure create`: exit 1."""
    _structure(app_cli)
    who = app_cli.create_account(SIRET, "administrateur", "a@example.org", "Alice", "Admin")
    assert "U+202E" in app_cli.fails(1, "me", "update", who, "--first-name", BIDI, as_=who)
    assert "« < » et « > »" in app_cli.fails(
        1, "me", "update", who, "--last-name", "<img src=x>", as_=who
    )
    assert app_cli.ok("account", "show", who)["first_name"] == "Alice"
    assert "U+202E" in app_cli.fails(1, "service", "create", SIRET, "Pa\u202eie")
    assert "« < » et « > »" in app_cli.fails(1, "service", "create", SIRET, "<i>Paie</i>")
    assert "U+200B" in app_cli.fails(1, "service", "rename", SIRET, "Comptabilité", "Co\u200bmpta")
    error = app_cli.fails(
        1, "structure", "create", "--siret", "35600000000048", "--category", "Banques",
        "--name", "La <b>Poste</b>",
    )  # fmt: skip
    assert "« < » et « > »" in error


def test_bulk_import_refuses_the_line(app_cli: Cli, tmp_path: Path) -> None:
    """An import line with a bidi name or a tagged service name is reported, nothing written."""
    rows = [
        f"structure,{SIRET},Banques,Banque Exemple,Paris,,,,,,,,,,,",
        f"service,{SIRET},,,,<b>Paie</b>,,,,,,,,,,",
        f"account,{SIRET},,,,,,,administrateur,Noel,{BIDI},c@bank.example,,,,",
    ]
    stderr = app_cli.fails(1, "import", str(write_csv(tmp_path / "bad.csv", rows, HEADER)))
    assert "line 3:" in stderr and "« < » et « > »" in stderr
    assert "line 4:" in stderr and "U+202E" in stderr


def test_portal_creation_form(app_cli: Cli, browser: Browser) -> None:
    """The portal's pré-création form shows the rule's French message and submits nothing."""
    _structure(app_cli)
    app_cli.invite(SIRET, "collaborateur", "p@example.org", "Comptabilité")
    path = "/creation/" + app_cli.link_for("p@example.org").rstrip("/").rsplit("/", 1)[-1]
    browser.get(path)
    form = {"nom": "Noel", "prenom": BIDI, "mobile": "", "mot_de_passe": PASSWORD}
    page = browser.post(path, {**form, "confirmation": PASSWORD}, follow_redirects=True)
    assert "Étape 2 sur 3" not in text_of(page.text)
    assert "caractère" in text_of(page.text)
