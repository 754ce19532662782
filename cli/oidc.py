"""`apexdir oidc …`: the provider's identity federations (ProConnect), agents only."""

from __future__ import annotations

import click

from apexdir.cli.context import CliContext, pass_cli


@click.group()
def oidc() -> None:
    """Identity federations (ProConnect) of the OpenID Connect provider (agent)."""


@oidc.command("federation-client")
@click.argument("name")
@click.option(
    "--redirect-uri", "redirect_uris", multiple=True, required=True,
    help="The federation's callback, e.g. https://PROCONNECT_DOMAIN/api/v2/oidc-callback "
    "(exact match; repeat for the RIE and Internet platforms).",
)  # fmt: skip
@click.option(
    "--post-logout-redirect-uri", "post_logout_uris", multiple=True, required=True,
    help="Where the logout returns, e.g. https://PROCONNECT_DOMAIN/api/v2/client/"
    "logout-callback (repeatable).",
)  # fmt: skip
@click.option(
    "--userinfo-signed-alg", "signing_alg", type=click.Choice(["RS256", "ES256"]),
    default="RS256", show_default=True,
    help="Algorithm signing the ID tokens and the userinfo answers (a JWT) of this client.",
)  # fmt: skip
@pass_cli
def federation_client(
    cli: CliContext,
    name: str,
    redirect_uris: tuple[str, ...],
    post_logout_uris: tuple[str, ...],
    signing_alg: str,
) -> None:
    """Create or replace the client of the federation NAME (a new secret, shown once):
    any active partner may log in through it, without a profile of any application."""
    from apexdir.workflows.oidc import register_federation_client

    out = register_federation_client(
        cli.runtime,
        cli.actor(),
        name,
        list(redirect_uris),
        list(post_logout_uris),
        signing_alg=signing_alg,
    )
    verb = "replaced" if out["rotated"] else "created"
    cli.emit(
        out,
        f"federation client {out['client_id']} {verb}; client_secret (shown once): "
        f"{out['client_secret']}; discovery: {out['discovery_url']}",
    )


@oidc.command("federation-list")
@pass_cli
def federation_list(cli: CliContext) -> None:
    """The federations' clients (never their secrets)."""
    from apexdir.workflows.oidc import federation_clients

    rows = federation_clients(cli.runtime, cli.actor())
    cli.emit(
        rows,
        lambda data: cli.table(
            data, ["name", "client_id", "redirect_uris", "userinfo_signed_response_alg"],
            "Federation clients",
        ),
    )  # fmt: skip
