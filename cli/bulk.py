"""`apexdir import FILE` and `apexdir migrate-v1 FILE`: bulk loads (agents).

Formats: docs/import.md. A progress bar (rate and time left) is drawn on stderr when it is
a terminal and --json is not given. A file with bad lines writes nothing: the first stderr
line is the `error:` line, then one line per bad line (`line N: reason`).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from apexdir.cli.context import CliContext, error_line, one_line, pass_cli

FILE = click.Path(exists=True, dir_okay=False, path_type=Path)
MAX_LISTED = 1000


def bulk_options(func: Any) -> Any:
    options = [
        click.option(
            "--skip-invalid",
            is_flag=True,
            help="Load the valid lines and report the others (default: load nothing "
            "when a line is invalid).",
        ),
        click.option("--dry-run", is_flag=True, help="Validate and report; write nothing."),
        click.option(
            "--offline",
            type=click.Path(dir_okay=False, allow_dash=True, path_type=Path),
            metavar="OUT.ldif",
            default=None,
            help="Write LDIF for slapadd (first loads) instead of writing to the "
            "directory; `-` writes it on stdout and the "
            "report on stderr.",
        ),
        click.option(
            "--encoding",
            default="utf-8",
            show_default=True,
            help="Character set of FILE (e.g. cp1252).",
        ),
        click.option(
            "--window",
            default=200,
            show_default=True,
            type=click.IntRange(1, 2000),
            help="Writes in flight at once.",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


class RichProgress:
    """The library's progress protocol drawn with rich: bar, count, rate, time left."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            ProgressColumn,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )
        from rich.text import Text

        class Rate(ProgressColumn):
            def render(self, task: Any) -> Text:
                speed = task.finished_speed or task.speed
                return Text(f"{speed:,.0f}/s" if speed else "…/s", style="progress.data.speed")

        self._progress = Progress(
            TextColumn("[bold]{task.description:<13}"),
            BarColumn(),
            MofNCompleteColumn(),
            Rate(),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=Console(stderr=True),
            transient=False,
        )
        self._task: Any = None

    def start(self, phase: str, total: int) -> None:
        if self._task is None:
            self._progress.start()
        else:
            self._progress.stop_task(self._task)
        self._task = self._progress.add_task(phase, total=total)

    def advance(self, count: int = 1) -> None:
        if self._task is not None:
            self._progress.advance(self._task, count)

    def stop(self) -> None:
        if self._task is not None:
            self._progress.stop()
            self._task = None


def _options(cli: CliContext, **kwargs: Any) -> Any:
    from apexdir.bulk.run import Options

    show = sys.stderr.isatty() and not cli.as_json
    if kwargs.get("offline") is not None and str(kwargs["offline"]) == "-":
        kwargs["offline"] = sys.stdout
    return Options(progress=RichProgress() if show else Options().progress, **kwargs)


def _fail(cli: CliContext, message: str, lines: list[str]) -> None:
    error_line(message)
    for line in lines[:MAX_LISTED]:  # values read from the file: escaped and cut like it
        click.echo(f"  {one_line(line)}", err=True)
    if len(lines) > MAX_LISTED:
        click.echo(f"  … and {len(lines) - MAX_LISTED} more (--json lists them all)", err=True)
    cli.close()
    sys.exit(1)


def _human(report: dict[str, Any], err: bool = False) -> None:
    """The report for people; on stderr when stdout carries the LDIF (`--offline -`)."""

    def echo(text: str) -> None:
        click.echo(text, err=err)

    what = "would create" if report["dry_run"] else "created"
    created = report.get("created") or report["planned"]
    echo(
        f"{report['file']} ({report['format']}): {report['records']} record(s), "
        f"{report['invalid']} invalid"
    )
    echo(f"  {what}: " + ", ".join(f"{v} {k}" for k, v in created.items()))
    if report["existing"]:
        echo(
            "  already there (skipped): "
            + ", ".join(f"{v} {k}" for k, v in report["existing"].items())
        )
    if report.get("identifiers"):
        echo("  identifiers: " + ", ".join(f"{v} {k}" for k, v in report["identifiers"].items()))
    if "invited" in report:
        echo(f"  invitations queued: {report['invited']}")
    if report.get("offline"):
        echo(f"  LDIF for slapadd: {report['offline']}")
    if report.get("members_file"):
        echo(f"  habilitations to apply online afterwards: {report['members_file']}")
    if report.get("note"):
        echo(f"  {report['note']}")
    for problem in report["problems"][:MAX_LISTED]:
        echo(f"  skipped line {problem['line']}: {problem['reason']}")
    if report.get("seconds") is not None:
        echo(f"  {report['seconds']} s, {report['entries_per_second']} entries/s")


def _finish(cli: CliContext, run: Any) -> None:
    from apexdir.bulk.run import InvalidFile

    try:
        report = run()
    except InvalidFile as exc:
        _fail(cli, str(exc), [str(p) for p in exc.problems])
        return
    if report.get("interrupted"):
        _fail(
            cli,
            "interrupted: run the same command again to resume (what exists is skipped)",
            [f"created so far: {report['created']}"],
        )
    if report.get("failed"):
        _fail(
            cli,
            f"{len(report['failed'])} entrie(s) could not be written (the others were)",
            [f"line {p['line']}: {p['reason']}" for p in report["failed"]],
        )
    if report.get("offline") == "-":  # stdout carries the LDIF: the report goes to stderr
        if cli.as_json:
            click.echo(json.dumps(report, ensure_ascii=False, indent=2), err=True)
        else:
            _human(report, err=True)
        return
    cli.emit(report, _human)


@click.command("import")
@click.argument("file", type=FILE)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["csv", "ldif"]),
    default=None,
    help="Format of FILE (default: from its extension or content).",
)
@click.option("--invite", is_flag=True, help="Mail each new account a link to choose its password.")
@bulk_options
@pass_cli
def import_(
    cli: CliContext, file: Path, fmt: str | None, invite: bool, encoding: str, **options: Any
) -> None:
    """Bulk import of structures, services, profiles, accounts and habilitations (CSV or
    LDIF; docs/import.md). Re-running the same file resumes: what exists is skipped."""
    from apexdir.bulk.run import import_file

    actor = cli.actor()
    opts = _options(cli, invite=invite, **options)
    _finish(
        cli, lambda: import_file(cli.runtime, actor, file, fmt=fmt, encoding=encoding, options=opts)
    )


@click.command("migrate-v1")
@click.argument("file", type=FILE)
@click.option(
    "--default-service",
    default="Service principal",
    show_default=True,
    help="Service of N2 accounts whose row names none.",
)
@bulk_options
@pass_cli
def migrate_v1(
    cli: CliContext, file: Path, default_service: str, encoding: str, **options: Any
) -> None:
    """Migrate an APEX v1 export (CSV; docs/import.md): N1 → administrateur, N2 →
    collaborateur. No password is carried over: each new account is mailed a single-use
    link to choose one. Re-running the same file resumes."""
    from apexdir.bulk.run import migrate_v1 as run

    actor = cli.actor()
    opts = _options(cli, **options)
    _finish(
        cli,
        lambda: run(
            cli.runtime,
            actor,
            file,
            encoding=encoding,
            default_service=default_service,
            options=opts,
        ),
    )
