"""`apexdir login …` and `apexdir password …`: a partner's authentication and self-service.

Passwords are read from standard input (one per line) or prompted at a terminal, never taken
as arguments. Errors leave through the CLI's one error path (`error:` line, exit code).
"""

from __future__ import annotations

from typing import Any

import click

from apexdir.cli.context import CliContext, pass_cli, read_secrets


class _LoginGroup(click.Group):
    """`login IDENTIFIER` runs the hidden `start` command; `login verify …` is named."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            args = ["start", *args]
        return super().parse_args(ctx, args)


def _show_login(result: dict[str, Any]) -> None:
    click.echo(result["message"])
    for warning in result.get("warnings") or []:
        click.echo(warning)


@click.group(cls=_LoginGroup, subcommand_metavar="IDENTIFIER | verify IDENTIFIER CODE")
def login() -> None:
    """Log in: `apexdir login IDENTIFIER` (password on stdin) mails a 6-digit code, then
    `apexdir login verify IDENTIFIER CODE` completes the login."""


@login.command("start", hidden=True)
@click.argument("identifier")
@pass_cli
def login_start(cli: CliContext, identifier: str) -> None:
    """Check the password (stdin) and mail the verification code."""
    from apexdir.workflows.auth import login as run

    (password,) = read_secrets(1)
    result = run(cli.runtime, identifier, password)
    cli.emit(result, _show_login)


@login.command("verify")
@click.argument("identifier")
@click.argument("code")
@pass_cli
def login_verify(cli: CliContext, identifier: str, code: str) -> None:
    """Enter the mailed code. JSON: identifier, type, last_login."""
    from apexdir.workflows.auth import verify

    result = verify(cli.runtime, identifier, code)
    cli.emit(
        {
            "identifier": result.identifier,
            "type": result.type,
            "last_login": result.last_login.isoformat() if result.last_login else None,
            "last_login_text": result.last_login_text,
        },
        f"Bienvenue {result.identifier} ({result.type}). {result.last_login_text}",
    )


@click.group()
def password() -> None:
    """Forgotten password, reset and change."""


@password.command()
@click.argument("identifier")
@click.option(
    "--helpdesk",
    is_flag=True,
    help="An agent helping the partner also sees the channel and the masked mobile.",
)
@pass_cli
def forgot(cli: CliContext, identifier: str, helpdesk: bool) -> None:
    """Send a security code by SMS (mobile known) or a reset link by mail.

    The answer is the same whether the identifier exists or not.
    """
    from apexdir.workflows.auth import forgot as run

    # The CLI runs on an operator's host, not facing the Internet: no captcha to pass. A web
    # front end must give its captcha verdict instead of True.
    actor = cli.actor() if helpdesk else None
    answer = run(cli.runtime, identifier, captcha_ok=True, actor=actor)
    result = {"message": answer.message}
    human = answer.message
    if answer.channel:
        result["channel"] = answer.channel
    if answer.masked_mobile:
        result["masked_mobile"] = answer.masked_mobile
        human += f"\nCode envoyé au {answer.masked_mobile}."
    cli.emit(result, human)


@password.command()
@click.argument("identifier")
@click.argument("code_or_token")
@pass_cli
def reset(cli: CliContext, identifier: str, code_or_token: str) -> None:
    """Set a new password with the SMS code, or the token or whole link from the mail;
    the new password twice on stdin."""
    from apexdir.workflows.auth import RESET_DONE
    from apexdir.workflows.auth import reset as run

    new, confirmation = read_secrets(2, "Nouveau mot de passe")
    account = run(cli.runtime, identifier, code_or_token, new, confirmation)
    cli.emit({"identifier": account.identifier, "message": RESET_DONE}, RESET_DONE)


@password.command()
@click.argument("identifier")
@pass_cli
def change(cli: CliContext, identifier: str) -> None:
    """Change one's password: current password, then the new one twice, on stdin."""
    from apexdir.workflows.auth import CHANGE_DONE
    from apexdir.workflows.auth import change as run

    current, new, confirmation = read_secrets(3, "Nouveau mot de passe")
    account = run(cli.runtime, identifier, current, new, confirmation)
    cli.emit({"identifier": account.identifier, "message": CHANGE_DONE}, CHANGE_DONE)
