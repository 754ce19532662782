"""`apexdir`: the operators' CLI. Parses options, calls the library, maps errors to exit codes.

Subcommands are imported only when they run, so `apexdir --help` stays light.
"""

from __future__ import annotations

import importlib
import importlib.util  # not imported by `import importlib`: only the editable finder did
import os
import sys
from collections.abc import Sequence
from typing import Any

import click

from apexdir.cli.context import CliContext, error_line, fail, is_text

# name → (module, attribute, short help); the modules load only when the command runs.
COMMANDS: dict[str, tuple[str, str, str]] = {
    "dev": ("apexdir.cli.dev", "dev", "Local environment: private slapd, SMTP sink, SMS sink."),
    "init": ("apexdir.cli.dev", "init", "Load base entries and password policy (idempotent)."),
    "config": ("apexdir.cli.dev", "config", "Check the configuration and its dependencies."),
    "app": ("apexdir.cli.catalogue", "app", "Applications and their profiles (agent)."),
    "structure": ("apexdir.cli.structures", "structure", "Structures and their consultation."),
    "service": ("apexdir.cli.structures", "service", "Services of a structure."),
    "account": ("apexdir.cli.accounts", "account", "Invite, validate, show and delete accounts."),
    "grant": ("apexdir.cli.rights", "grant", "Grant a profile to an account."),
    "revoke": ("apexdir.cli.rights", "revoke", "Revoke a profile from an account."),
    "delegate": ("apexdir.cli.rights", "delegate", "Delegate a profile to a responsable."),
    "undelegate": ("apexdir.cli.rights", "undelegate", "Withdraw a delegated profile."),
    "login": ("apexdir.cli.auth", "login", "Log in: password, then the mailed code."),
    "password": ("apexdir.cli.auth", "password", "Forgotten password, reset and change."),
    "review": ("apexdir.cli.review", "review", "Yearly review of a structure's habilitations."),
    "me": ("apexdir.cli.me", "me", "A partner's own personal data."),
    "daemon": ("apexdir.cli.daemon", "daemon", "The scheduler: run it, or one job once."),
    "outbox": ("apexdir.cli.daemon", "outbox", "Queued, sent and failed messages."),
    "journal": ("apexdir.cli.daemon", "journal", "Who did what, when."),
    "import": ("apexdir.cli.bulk", "import_", "Bulk import of structures and accounts."),
    "migrate-v1": ("apexdir.cli.bulk", "migrate_v1", "Migrate an APEX v1 export."),
    "oidc": ("apexdir.cli.oidc", "oidc", "Identity federations (ProConnect) (agent)."),
    "serve": ("apexdir.cli.serve", "serve", "Serve the partners' web portal (gunicorn)."),
    "backup": ("apexdir.cli.ops", "backup", "Back up the directory and this node's state store."),
    "restore": ("apexdir.cli.ops", "restore", "Restore a backup into an empty, stopped slapd."),
}


def _check_text(argv: list[str]) -> None:
    """Refuse a command-line argument that is not UTF-8 (exit 2) before anything uses it.

    Python hands such bytes over as lone surrogates, which every later step (LDAP, SQLite,
    hashing) would fail to encode, each in its own way. The name of an existing file is
    the file system's bytes, not text: it stays allowed.
    """
    for value in argv:
        if not is_text(value) and not os.path.lexists(value):
            from apexdir.messages import text

            raise click.UsageError(text("cli.argument_not_text", {"value": value}))


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(name for name in COMMANDS if self._available(name))

    def _available(self, name: str) -> bool:
        module = COMMANDS[name][0]
        return importlib.util.find_spec(module) is not None

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        entry = COMMANDS.get(cmd_name)
        if entry is None or not self._available(cmd_name):
            return None
        module = importlib.import_module(entry[0])
        command: click.Command = getattr(module, entry[1])
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, COMMANDS[name][2]) for name in self.list_commands(ctx)]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **kw: Any,
    ) -> Any:
        """Usage errors too leave as one `error:` line (exit 2), as CLI.md asks."""
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode=False, **kw)
        argv = list(sys.argv[1:] if args is None else args)
        try:
            _check_text(argv)
            code = super().main(argv, prog_name, complete_var, standalone_mode=False, **kw)
        except click.exceptions.Abort:
            error_line("aborted")
            sys.exit(1)
        except click.ClickException as exc:
            error_line(exc.format_message())
            sys.exit(exc.exit_code)
        sys.exit(code if isinstance(code, int) else 0)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """The program's run (the console script, `python -m`; CliRunner calls `main`).

        Its objects live until the exit: frozen then, out of the collector's reach, they are
        not scanned again by the collections of the interpreter's finalization — ≈ 0.1 s of
        CPU and 0.15-0.5 s before the process ends, at every command. Nothing is lost: the
        commands close what they open (files, connections) before returning."""
        import atexit
        import gc

        atexit.register(gc.freeze)
        return super().__call__(*args, **kwargs)

    def invoke(self, ctx: click.Context) -> Any:
        from apexdir.errors import ApexError

        try:
            return super().invoke(ctx)
        except ApexError as exc:
            fail(exc)
        finally:
            obj = ctx.obj
            if isinstance(obj, CliContext):
                obj.close()


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "config_file",
    envvar="APEXDIR_CONFIG",
    default=None,
    metavar="FILE",
    help="Configuration file (default ./apexdir.toml).",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document on stdout.")
@click.option(
    "--as",
    "acting_as",
    metavar="IDENTIFIER",
    default=None,
    help="Act as this partner account, with exactly its rights.",
)
@click.version_option(package_name="apexdir")
@click.pass_context
def cli(ctx: click.Context, config_file: str | None, as_json: bool, acting_as: str | None) -> None:
    """apexdir — the APEX Partenaires directory (DGFiP) around OpenLDAP.

    Exit codes: 0 done, 1 refused by a rule, 2 usage, 3 not found, 4 not allowed,
    5 directory, SMTP or state store unavailable.
    """
    if acting_as is not None and not acting_as.strip():
        # An empty --as must not fall back to acting as a DGFiP agent, the widest rights.
        from apexdir.errors import UsageError

        raise UsageError(code="cli.acting_as_empty", params={"option": "--as"})
    ctx.obj = CliContext(config_file=config_file, as_json=as_json, acting_as=acting_as)


def main() -> None:  # pragma: no cover - console entry point
    cli(prog_name="apexdir")


if __name__ == "__main__":  # pragma: no cover
    main()
