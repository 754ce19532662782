"""`apexdir app …`: the catalogue of applications and profiles."""

from __future__ import annotations

import click

from apexdir.cli.context import CliContext, pass_cli


@click.group()
def app() -> None:
    """Applications and their profiles (agent)."""


URL_HELP = (
    "Address partners open the application at (http:// or https://), linked from the "
    "portal's « Accès aux applications »."
)


@app.command("add")
@click.argument("code")
@click.option("--name", required=True, help="Application name shown to partners.")
@click.option("--url", default=None, help=URL_HELP)
@pass_cli
def add(cli: CliContext, code: str, name: str, url: str | None) -> None:
    """Add an application to the catalogue."""
    from apexdir.workflows.catalogue import add_application

    created = add_application(cli.runtime, cli.actor(), code, name, url)
    cli.emit(
        {"code": created.code, "name": created.name, "url": created.url, "dn": created.dn},
        f"application {created.code} added",
    )


@app.command("update")
@click.argument("code")
@click.option("--name", default=None, help="New name shown to partners.")
@click.option("--url", default=None, help=URL_HELP + ' --url "" removes it.')
@pass_cli
def update(cli: CliContext, code: str, name: str | None, url: str | None) -> None:
    """Change the name or the address of an application."""
    from apexdir.errors import UsageError
    from apexdir.workflows.catalogue import update_application

    if name is None and url is None:
        raise UsageError(code="cli.nothing_to_change", params={"name": "--name", "url": "--url"})
    changed = update_application(cli.runtime, cli.actor(), code, name=name, url=url)
    cli.emit(
        {"code": changed.code, "name": changed.name, "url": changed.url, "dn": changed.dn},
        f"application {changed.code} updated",
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
    from apexdir.workflows.oidc import client_ids

    clients = client_ids(cli.runtime)
    apps = [
        {
            "code": a.code,
            "name": a.name,
            "url": a.url,
            "profiles": a.profiles,
            "oidc_client": clients.get(a.code),
        }
        for a in list_applications(cli.runtime)
    ]
    cli.emit(
        apps,
        lambda rows: cli.table(
            rows, ["code", "name", "url", "profiles", "oidc_client"], "Applications"
        ),
    )


@app.command("oidc-client")
@click.argument("code")
@click.option(
    "--redirect-uri", "redirect_uris", multiple=True, required=True,
    help="Address the provider sends the code back to (exact match; repeat for several).",
)  # fmt: skip
@click.option(
    "--post-logout-uri", "post_logout_uris", multiple=True,
    help="Address the provider may send the user to after logout (repeatable).",
)  # fmt: skip
@click.option("--public", is_flag=True, help="A public client: no secret, PKCE required.")
@pass_cli
def oidc_client(
    cli: CliContext,
    code: str,
    redirect_uris: tuple[str, ...],
    post_logout_uris: tuple[str, ...],
    public: bool,
) -> None:
    """Create or replace the OpenID Connect client of an application (a new secret, shown
    once)."""
    from apexdir.workflows.oidc import register_client

    out = register_client(
        cli.runtime, cli.actor(), code, list(redirect_uris), list(post_logout_uris), public=public
    )
    verb = "replaced" if out["rotated"] else "created"
    secret = (
        f"; client_secret (shown once): {out['client_secret']}" if "client_secret" in out else ""
    )
    cli.emit(out, f"OpenID Connect client {out['client_id']} {verb}{secret}")


@app.group("oidc-keys")
def oidc_keys() -> None:
    """Signing keys of the ID tokens (agent)."""


@oidc_keys.command("rotate")
@pass_cli
def oidc_keys_rotate(cli: CliContext) -> None:
    """The next key signs from now on; a new next key is published; the oldest goes."""
    from apexdir.workflows.oidc import rotate_keys

    out = rotate_keys(cli.runtime, cli.actor())
    cli.emit(out, lambda data: cli.table(data["keys"], ["kid", "state"], "Signing keys"))


def _attach_credentials() -> None:
    from apexdir.cli.appcreds import credentials

    app.add_command(credentials)


_attach_credentials()
