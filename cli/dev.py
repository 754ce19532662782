"""`apexdir dev …`, `apexdir init`, `apexdir config check`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from apexdir.cli.context import CliContext, pass_cli

if TYPE_CHECKING:  # apexdir.dev is the dev extra's: imported when a dev command runs
    from apexdir.dev.env import DevEnv


def _env(replicas: int = 1) -> DevEnv:
    from apexdir.dev.env import DevEnv

    return DevEnv(Path("var"), replicas=replicas)


@click.group()
def dev() -> None:
    """Local environment: a private slapd, an SMTP sink and an SMS sink under ./var/."""


@dev.command()
@click.option(
    "--replicas",
    type=click.IntRange(1, 9),
    default=1,
    show_default=True,
    help="slapd providers in multi-provider replication; apexdir.toml lists them all.",
)
@pass_cli
def up(cli: CliContext, replicas: int) -> None:
    """Start (or reuse) the local directory and sinks, load the base, write ./apexdir.toml."""
    from apexdir.config import load_settings
    from apexdir.workflows.setup import initialize_configured

    config_file = Path(cli.config_file or "apexdir.toml")
    env = _env(replicas)
    status = env.up(config_file)
    initialize_configured(load_settings(config_file))
    env.wait_converged()  # every provider has the base before the first command
    env.start_daemon(config_file)  # not waited for: it starts while the portal does
    env.start_portal(config_file)
    status = env.status()
    status["config"] = str(config_file.resolve())
    cli.emit(status, lambda s: _print_status(s, "apexdir dev: up"))


@dev.command()
@pass_cli
def down(cli: CliContext) -> None:
    """Stop the local directory and sinks (data stays under ./var/)."""
    cli.emit(_env().down(), lambda s: _print_status(s, "apexdir dev: down"))


@dev.command()
@pass_cli
def status(cli: CliContext) -> None:
    """Whether the local environment runs, and where."""
    cli.emit(_env().status(), lambda s: _print_status(s, "apexdir dev: status"))


def _print_status(status: dict[str, object], title: str) -> None:
    click.echo(title)
    keys = ("running", "ldap_uri", "ldap_uris", "base_dn", "smtp_host", "smtp_port", "sms_url",
            "portal_url")  # fmt: skip
    for key in (*keys, "config"):
        if key in status:
            click.echo(f"  {key:10} {status[key]}")


@dev.command()
@pass_cli
def captcha(cli: CliContext) -> None:
    """The answer of the portal's latest captcha (the development environment only)."""
    from apexdir.errors import NotFound
    from apexdir.portal.captcha import latest_dev_answer

    found = latest_dev_answer(_env().sinks_dir)
    if found is None:
        raise NotFound(code="cli.no_captcha")
    cli.emit({"answer": found["answer"], "at": found["at"]}, f"captcha: {found['answer']}")


@dev.command()
@click.option("--to", "to", default=None, metavar="ADDR", help="Only mails to this address.")
@pass_cli
def mails(cli: CliContext, to: str | None) -> None:
    """Mails the SMTP sink captured, oldest first."""
    from apexdir.dev.captured import captured_mails

    found = captured_mails(_env().sinks_dir, to=to)
    cli.emit(found, lambda rows: _print_mails(rows))


def _print_mails(rows: list[dict[str, object]]) -> None:
    if not rows:
        click.echo("(no mail)")
    for mail in rows:
        click.echo(f"--- {mail['date']}  to: {', '.join(mail['to'])}")  # type: ignore[arg-type]
        click.echo(f"Subject: {mail['subject']}\n")
        click.echo(str(mail["body"]).rstrip() + "\n")


@dev.command()
@click.option("--to", "to", default=None, metavar="NUMBER", help="Only texts to this number.")
@pass_cli
def sms(cli: CliContext, to: str | None) -> None:
    """Text messages the development SMS gateway captured, oldest first."""
    from apexdir.dev.captured import captured_sms

    found = captured_sms(_env().sinks_dir, to=to)
    cli.emit(found, lambda rows: cli.table(rows, ["date", "to", "body"]))


@click.command()
@pass_cli
def init(cli: CliContext) -> None:
    """Load the base entries and the default password policy into the configured directory."""
    from apexdir.workflows.setup import initialize

    created = initialize(cli.runtime)
    cli.emit({"created": created}, f"init: {len(created)} entries created, policies up to date")


@click.group()
def config() -> None:
    """Configuration."""


@config.command()
@pass_cli
def check(cli: CliContext) -> None:
    """OK/KO per dependency: LDAP bind, schema present, SMTP reachable, state store writable."""
    from apexdir.health import run_checks

    results = run_checks(cli.runtime)
    ok = all(r["ok"] for r in results)

    def human(_: Any) -> None:
        for r in results:
            click.echo(f"{'OK' if r['ok'] else 'KO'}  {r['name']:12} {r['detail']}")

    cli.emit({"ok": ok, "checks": results}, human)
    if not ok:
        raise SystemExit(1)


@config.command("cn-config")
@click.option("--base-dn", default=None, help="Base DN (default: the configured one).")
@click.option("--data-dir", default="/var/lib/ldap/apex", show_default=True)
@click.option("--module-dir", default="/usr/local/lib/apexdir", show_default=True)
@click.option("--output", "-o", type=click.Path(dir_okay=False), default=None)
@pass_cli
def cn_config(
    cli: CliContext, base_dn: str | None, data_dir: str, module_dir: str, output: str | None
) -> None:
    """The slapd configuration as cn=config LDIF, for an existing OpenLDAP."""
    from apexdir.workflows.setup import cn_config as export

    if base_dn is None:
        base_dn = cli.runtime.settings.ldap.base_dn
    text = export(base_dn, data_dir=Path(data_dir), module_dir=Path(module_dir))
    if output:
        Path(output).write_text(text, encoding="utf-8")
        click.echo(f"wrote {output}", err=True)
    else:
        click.echo(text, nl=False)


@config.command("bootstrap-ldif")
@click.option("--base-dn", default=None, help="Base DN (default: the configured one).")
@click.option(
    "--password-file",
    required=True,
    type=click.Path(exists=True, dir_okay=False),
    help="File holding the password apexdir's account will have.",
)
@pass_cli
def bootstrap_ldif(cli: CliContext, base_dn: str | None, password_file: str) -> None:
    """The entries to load once as the rootdn before `apexdir init`: base, ou=system, apexdir."""
    from apexdir.workflows.setup import bootstrap_ldif as entries

    secret = Path(password_file).read_text(encoding="utf-8").strip()
    click.echo(entries(base_dn or cli.runtime.settings.ldap.base_dn, secret), nl=False)


@dev.command()
@pass_cli
def seed(cli: CliContext) -> None:
    """Load the demo data (catalogue, one structure, two services); idempotent."""
    from apexdir.dev.seed import seed_demo

    created = seed_demo(cli.runtime)
    cli.emit({"created": created}, f"demo data: {len(created)} entries created")
