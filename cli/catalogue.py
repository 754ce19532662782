"""`apexdir app …`: the catalogue of applications and profiles."""

from __future__ import annotations

import click

from apexdir.cli.context import CliContext, pass_cli


@click.group()
def app() -> None:
    """Applications and their profiles (agent)."""


@app.command("add")
@click.argument("code")
@click.option("--name", required=True, help="Application name shown to partners.")
@pass_cli
def add(cli: CliContext, code: str, name: str) -> None:
    """Add an application to the catalogue."""
    from apexdir.workflows.catalogue import add_application

    created = add_application(cli.runtime, cli.actor(), code, name)
    cli.emit(
        {"code": created.code, "name": created.name, "dn": created.dn},
        f"application {created.code} added",
    )


@app.command("profile-add")
@click.argument("code")
@click.argument("profile")
@pass_cli
def profile_add(cli: CliContext, code: str, profile: str) -> None:
    """Add a profile to an application."""
    from apexdir.workflows.catalogue import add_profile

    key = add_profile(cli.runtime, cli.actor(), code, profile)
    cli.emit({"profile": key}, f"profile {key} added")


@app.command("list")
@pass_cli
def list_(cli: CliContext) -> None:
    """Applications and their profiles."""
    from apexdir.workflows.catalogue import list_applications

    apps = [
        {"code": a.code, "name": a.name, "profiles": a.profiles}
        for a in list_applications(cli.runtime)
    ]
    cli.emit(apps, lambda rows: cli.table(rows, ["code", "name", "profiles"], "Applications"))


def _attach_credentials() -> None:
    from apexdir.cli.appcreds import credentials

    app.add_command(credentials)


_attach_credentials()
