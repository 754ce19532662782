"""`apexdir grant|revoke|delegate|undelegate IDENTIFIER APP PROFILE`."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click

from apexdir.cli.context import CliContext, pass_cli

if TYPE_CHECKING:
    from apexdir.workflows.rights import RightChange


def as_json(result: RightChange) -> dict[str, Any]:
    """A change of rights as the commands print it (CLI.md): the profile under
    `habilitation` or `delegation`, the change as a flag, the habilitations kept."""
    key = "habilitation" if result.change in ("granted", "revoked") else "delegation"
    out: dict[str, Any] = {
        "identifier": result.identifier,
        key: result.profile,
        result.change: True,
    }
    if result.change == "withdrawn":
        out["habilitations_kept"] = result.habilitations_kept
    return out


def _command(name: str, doc: str, done: str) -> click.Command:
    @click.command(name, help=doc)
    @click.argument("identifier")
    @click.argument("app")
    @click.argument("profile")
    @pass_cli
    def command(cli: CliContext, identifier: str, app: str, profile: str) -> None:
        from apexdir.workflows import rights

        run: Callable[..., RightChange] = getattr(rights, name)
        result = run(cli.runtime, cli.actor(), identifier, app, profile)
        message = f"{identifier}: {app}/{profile} {done}"
        if result.habilitations_kept:
            message += "; habilitations granted with it are kept: " + ", ".join(
                result.habilitations_kept
            )
        cli.emit(as_json(result), message)

    return command


grant = _command("grant", "Grant a profile to an account (mail to the partner).", "granted")
revoke = _command("revoke", "Revoke a profile from an account.", "revoked")
delegate = _command("delegate", "Delegate a profile to a responsable.", "delegated")
undelegate = _command(
    "undelegate", "Withdraw a delegation (habilitations granted with it are listed).", "withdrawn"
)
