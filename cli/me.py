"""`apexdir me update IDENTIFIER …` and `apexdir me export IDENTIFIER`: a partner's own
personal data."""

from __future__ import annotations

import click

from apexdir.cli.context import CliContext, pass_cli


@click.group()
def me() -> None:
    """A partner's own personal data."""


@me.command()
@click.argument("identifier")
@click.option("--last-name", default=None, help="Nom.")
@click.option("--first-name", default=None, help="Prénom.")
@click.option("--mail", default=None, help="E-mail (confirmation goes to the old and the new).")
@click.option("--mobile", default=None, help="Mobile; an empty value removes it.")
@pass_cli
def update(
    cli: CliContext,
    identifier: str,
    last_name: str | None,
    first_name: str | None,
    mail: str | None,
    mobile: str | None,
) -> None:
    """Change nom, prénom, e-mail or mobile (the identifier never changes).

    A partner acts on his own account: `apexdir --as IDENTIFIER me update IDENTIFIER …`.
    """
    from apexdir.workflows.accounts import PERSONAL_DATA_MESSAGE, update_personal_data

    updated = update_personal_data(
        cli.runtime,
        cli.actor(),
        identifier,
        last_name=last_name,
        first_name=first_name,
        mail=mail,
        mobile=mobile,
    )
    result = updated.public(with_mobile=True)
    result["message"] = PERSONAL_DATA_MESSAGE
    cli.emit(result, PERSONAL_DATA_MESSAGE)


@me.command()
@click.argument("identifier")
@pass_cli
def export(cli: CliContext, identifier: str) -> None:
    """His own data as JSON (RGPD articles 15 and 20): identity, mobile, structure, service,
    type, habilitations, délégations, last logins and the events about him; never a secret.

    A partner exports his own (`apexdir --as IDENTIFIER me export IDENTIFIER`), an agent
    anyone's. The document is JSON whether or not --json is given.
    """
    import json

    from apexdir.workflows.mydata import export as run

    document = run(cli.runtime, cli.actor(), identifier)
    click.echo(json.dumps(document, ensure_ascii=False, indent=2))
