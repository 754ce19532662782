"""`apexdir me update IDENTIFIER …`: a partner's own personal data."""

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
    from apexdir.workflows.accounts import update_personal_data

    result = update_personal_data(
        cli.runtime,
        cli.actor(),
        identifier,
        last_name=last_name,
        first_name=first_name,
        mail=mail,
        mobile=mobile,
    )
    cli.emit(result, result["message"])
