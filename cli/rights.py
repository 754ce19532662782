"""`apexdir grant|revoke|delegate|undelegate IDENTIFIER APP PROFILE`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from apexdir.cli.context import CliContext, pass_cli


def _command(name: str, doc: str, done: str) -> click.Command:
    @click.command(name, help=doc)
    @click.argument("identifier")
    @click.argument("app")
    @click.argument("profile")
    @pass_cli
    def command(cli: CliContext, identifier: str, app: str, profile: str) -> None:
        from apexdir.workflows import rights

        run: Callable[..., dict[str, Any]] = getattr(rights, name)
        result = run(cli.runtime, cli.actor(), identifier, app, profile)
        message = f"{identifier}: {app}/{profile} {done}"
        kept = result.get("habilitations_kept")
        if kept:
            message += "; habilitations granted with it are kept: " + ", ".join(kept)
        cli.emit(result, message)

    return command


grant = _command("grant", "Grant a profile to an account (mail to the partner).", "granted")
revoke = _command("revoke", "Revoke a profile from an account.", "revoked")
delegate = _command("delegate", "Delegate a profile to a responsable.", "delegated")
undelegate = _command(
    "undelegate", "Withdraw a delegation (habilitations granted with it are listed).", "withdrawn"
)
