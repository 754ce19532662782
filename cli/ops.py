"""`apexdir backup`, `apexdir restore`: one node's directory and state store."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from apexdir.cli.context import CliContext, pass_cli

_SLAPD_HELP = (
    "slapd's configuration: a slapd.conf file or a cn=config folder (e.g. /etc/ldap/slapd.d)."
)


def slapd_options(command: Any) -> Any:
    """Where the local slapd is; default: the dev instance ./var/slapd when present."""
    command = click.option(
        "--slapd-dir",
        type=click.Path(file_okay=False, path_type=Path),
        default=None,
        help="An apexdir slapd instance folder (holding slapd.conf), e.g. var/slapd.",
    )(command)
    return click.option(
        "--slapd-conf", type=click.Path(path_type=Path), default=None, help=_SLAPD_HELP
    )(command)


@click.command()
@click.argument("target", type=click.Path(path_type=Path))
@slapd_options
@click.option(
    "--online",
    is_flag=True,
    help="Export through apexdir's LDAP account even when slapd's files are readable.",
)
@pass_cli
def backup(
    cli: CliContext, target: Path, slapd_conf: Path | None, slapd_dir: Path | None, online: bool
) -> None:
    """Back up the directory, its change feed and this node's state store into TARGET.

    slapcat when slapd's files are local and readable, else an LDAP export with the
    operational attributes; the state store with SQLite's online backup (queued mails
    included); a manifest with versions, counts and checksums. TARGET must be new or empty.
    """
    from apexdir.backup import backup as run_backup
    from apexdir.backup import locate

    _operator_only(cli)
    settings = cli.runtime.settings
    slapd = None if online else locate(slapd_conf, slapd_dir)
    result = run_backup(settings, target, slapd, online=online)
    rt = cli.runtime
    rt.journal.record("backup", str(target), actor=None, operator=rt.operator,
                      details={"method": result["method"]})  # fmt: skip
    cli.emit(result, lambda r: click.echo(_summary("backup", r)))


@click.command()
@click.argument("source", type=click.Path(exists=True, file_okay=False, path_type=Path))
@slapd_options
@click.option("--force", is_flag=True, help="Replace what the target databases and store hold.")
@click.option(
    "--directory-only",
    is_flag=True,
    help="The main database alone (seeding another provider): no change feed, no state store.",
)
@pass_cli
def restore(
    cli: CliContext,
    source: Path,
    slapd_conf: Path | None,
    slapd_dir: Path | None,
    force: bool,
    directory_only: bool,
) -> None:
    """Restore a backup made by `apexdir backup` into a stopped, empty slapd (slapadd) and
    the configured state store. A target that holds entries or rows is refused without
    --force. Start slapd (and the units) afterwards."""
    from apexdir.backup import locate
    from apexdir.backup import restore as run_restore
    from apexdir.errors import NotFound

    _operator_only(cli)
    slapd = locate(slapd_conf, slapd_dir)
    if slapd is None:
        raise NotFound(code="cli.no_slapd", params={"conf": "--slapd-conf", "dir": "--slapd-dir"})
    settings = cli.runtime.settings
    result = run_restore(settings, source, slapd, force=force, directory_only=directory_only)
    cli.emit(result, lambda r: click.echo(_summary("restore", r)))


def _operator_only(cli: CliContext) -> None:
    """A backup holds every account's data and a restore replaces it: the node's operator
    runs them, never a partner (`--as`), whose rights could not even be checked against a
    stopped slapd."""
    from apexdir.errors import NotAllowed

    if cli.acting_as is not None:
        raise NotAllowed(code="cli.operator_only")


def _summary(what: str, result: dict[str, Any]) -> str:
    if what == "backup":
        counts = ", ".join(
            f"{name}: {info['entries']} entries"
            for name, info in result["files"].items()
            if "entries" in info
        )
        queued = result["files"].get("state.db", {}).get("outbox_queued", 0)
        return (
            f"backup ({result['method']}) in {result['path']}: {counts}; {queued} queued message(s)"
        )
    lines = [
        f"restored {', '.join(result['restored'])} from {result['path']}"
        f" ({result['outbox_queued']} queued message(s)); start slapd now"
    ]
    held = result.get("outbox_held") or []
    if result.get("outbox_dropped"):
        lines.append(f"{result['outbox_dropped']} code(s) or link(s) past their use: dropped")
    if held:
        # The node that made the backup probably sent them: the operator decides.
        lines.append(f"{len(held)} message(s) held, perhaps already sent by the original node;"
                     " send them with `apexdir outbox retry ID` or `--held` for all:")  # fmt: skip
        for m in held:
            lines.append(f"  {m['id']}  {m['created_at']}  {', '.join(m['to'])}  "
                         f"{m['subject'] or m['kind']}")  # fmt: skip
    return "\n".join(lines)
