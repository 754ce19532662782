"""Without --json, commands print for people: tables and sentences, never a phone in a
consultation, and the summary of the form with every field of SPEC §5.4."""

from __future__ import annotations

from click.testing import CliRunner, Result

from apexdir.cli.main import cli
from tests.cli import flows
from tests.cli.flows import APP, READ, SERVICE
from tests.helpers import PASSWORD, SIRET, Cli


def human(app_cli: Cli, *args: str, as_: str | None = None, input: str | None = None) -> Result:
    prefix = ["--config", str(app_cli.config)] + (["--as", as_] if as_ else [])
    result = CliRunner().invoke(cli, [*prefix, *args], input=input, catch_exceptions=False)
    assert result.exit_code == 0, (args, result.output)
    return result


def test_people_read_the_consultation_the_lists_and_the_summary(app_cli: Cli) -> None:
    """structure show, account show/list/pending, service list, app list, undelegate, form."""
    w = flows.world(app_cli)
    app_cli.ok("grant", w.collab1, APP, READ, as_=w.resp1)
    out = human(app_cli, "structure", "show", SIRET, as_=w.collab1).stdout
    assert "Banque Exemple" in out and w.adm_a in out and f"Service {SERVICE}:" in out
    assert "+33" not in out and "06 12" not in out
    out = human(app_cli, "account", "show", w.collab1, as_=w.adm_a).stdout
    assert "collab1@example.org" in out and f"{APP}/{READ}" in out and "+33" not in out
    assert "+33612345678" in human(app_cli, "account", "show", w.collab1).stdout
    assert w.collab2 in human(app_cli, "account", "list", as_=w.adm_a).stdout
    assert "Ressources humaines" in human(app_cli, "service", "list", SIRET).stdout
    assert APP in human(app_cli, "app", "list").stdout
    out = human(app_cli, "undelegate", w.resp1, APP, READ, as_=w.adm_a).stdout
    assert w.collab1 in out, "the habilitations kept are named"

    flows.structure(app_cli, "55208131766522", "AP/EX", SERVICE)
    app_cli.ok(
        "account",
        "invite",
        "--structure",
        "55208131766522",
        "--type",
        "administrateur",
        "--mail",
        "louise1@dgfip.fr",
        "--application",
        APP,
    )
    assert "louise1@dgfip.fr" in human(app_cli, "account", "pending").stdout
    link = app_cli.link_for("louise1@dgfip.fr")
    out = human(
        app_cli,
        "account",
        "complete",
        link,
        "--last-name",
        "MARTIN",
        "--first-name",
        "Marie",
        "--yes",
        input=f"{PASSWORD}\n{PASSWORD}\n",
    ).stdout
    for label, value in [
        ("SIRET", "55208131766522"),
        ("Désignation", "AP/EX"),
        ("Voie", "15 rue de Langoumois"),
        ("Ville", "Argenteuil"),
        ("Code postal", "95018"),
        ("Pays", "France"),
        ("Nom", "MARTIN"),
        ("Prénom", "Marie"),
        ("E-mail", "louise1@dgfip.fr"),
        ("Application cliente", APP),
    ]:
        assert any(
            line.split()[: len(label.split())] == label.split() and value in line
            for line in out.splitlines()
        ), (label, out)
    for label in ("Nom commercial", "Complément", "Mobile", "Mot de passe"):
        assert label in out
    assert "Le formulaire de pré-création a été transmis pour validation." in out
