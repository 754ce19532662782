"""`apexdir serve`: the partners' web portal under gunicorn, for production."""

from __future__ import annotations

import click

from apexdir.cli.context import CliContext, pass_cli


@click.command()
@click.option(
    "--bind",
    default="127.0.0.1:8080",
    show_default=True,
    metavar="HOST:PORT",
    help="Address to listen on, behind the TLS reverse proxy.",
)
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=None,
    help="Worker processes (default: one per core, at least 2).",
)
@click.option(
    "--threads",
    type=click.IntRange(1, 64),
    default=8,
    show_default=True,
    help="Threads per worker (one LDAP connection each).",
)
@click.option("--pidfile", default=None, metavar="FILE", help="Write the master's PID here.")
@click.option("--access-log", default=None, metavar="FILE", help="Access log ('-': stderr).")
@pass_cli
def serve(
    cli: CliContext,
    bind: str,
    workers: int | None,
    threads: int,
    pidfile: str | None,
    access_log: str | None,
) -> None:
    """Serve « Mon espace APEX Partenaires » until stopped (SIGTERM stops it gracefully)."""
    from apexdir.portal.server import default_workers, run

    run(cli.config_file, bind, workers or default_workers(), pidfile, "-", access_log, threads)
