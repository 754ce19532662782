"""`apexdir structure …` and `apexdir service …`."""

from __future__ import annotations

from typing import Any

import click

from apexdir.cli.context import CliContext, pass_cli
from apexdir.models import StructureConsultation

ADDRESS_OPTIONS = [
    ("--trade-name", "trade_name", "Nom commercial."),
    ("--street", "street", "Voie."),
    ("--street2", "street2", "Complément d'adresse."),
    ("--postal-code", "postal_code", "Code postal."),
    ("--city", "city", "Ville."),
    ("--country", "country", "Pays."),
]


def address_options(func: Any) -> Any:
    for flag, dest, text in reversed(ADDRESS_OPTIONS):
        func = click.option(flag, dest, default=None, help=text)(func)
    return func


@click.group()
def structure() -> None:
    """Structures (personnes morales) and their consultation."""


@structure.command()
@click.option("--siret", required=True, help="SIRET, 14 digits.")
@click.option("--category", required=True, help="Category (CSP), from the configured list.")
@click.option("--name", required=True, help="Désignation.")
@address_options
@pass_cli
def create(cli: CliContext, siret: str, category: str, name: str, **address: str | None) -> None:
    """Create a structure (agent)."""
    from apexdir.workflows.structures import create_structure

    created = create_structure(
        cli.runtime, cli.actor(), siret=siret, category=category, name=name, **address
    )
    cli.emit(created.public(), f"structure {created.siret} created: {created.name}")


@structure.command()
@click.argument("siret")
@click.option("--category", default=None, help="Category (CSP).")
@click.option("--name", default=None, help="Désignation.")
@address_options
@pass_cli
def update(cli: CliContext, siret: str, **changes: str | None) -> None:
    """Change a structure's désignation, category or address (agent)."""
    from apexdir.workflows.structures import update_structure

    updated = update_structure(cli.runtime, cli.actor(), siret, **changes)
    cli.emit(updated.public(), f"structure {updated.siret} updated")


@structure.command("list")
@pass_cli
def list_(cli: CliContext) -> None:
    """Structures (an agent sees all, a partner his own)."""
    from apexdir.workflows.structures import list_structures

    rows = [s.public() for s in list_structures(cli.runtime, cli.actor())]
    cli.emit(rows, lambda r: cli.table(r, ["siret", "name", "category", "city"], "Structures"))


@structure.command()
@click.argument("siret")
@pass_cli
def show(cli: CliContext, siret: str) -> None:
    """Consultation: the structure, its administrators and, per service, its accounts."""
    from apexdir.workflows.structures import show_structure

    cli.emit(consultation(show_structure(cli.runtime, cli.actor(), siret)), _print_structure)


def consultation(view: StructureConsultation) -> dict[str, Any]:
    """`structure show` (CLI.md): the structure's fields, its administrators and, per
    service, its accounts — each account without detail nor phone."""
    return {
        **view.structure.public(),
        "administrators": [a.public(detail=False) for a in view.administrators],
        "services": [
            {
                "name": s.name,
                "responsables": [a.public(detail=False) for a in s.responsables],
                "collaborateurs": [a.public(detail=False) for a in s.collaborateurs],
            }
            for s in view.services
        ],
    }


@structure.command()
@click.argument("siret")
@click.option("--reason", default=None, help="Motif, quoted in the mail to the administrateurs.")
@pass_cli
def close(cli: CliContext, siret: str, reason: str | None) -> None:
    """Close a structure (agent): its accounts cannot authenticate anywhere (slapd included),
    pending invitations are cancelled, its administrateurs are mailed; nothing is deleted."""
    from apexdir.workflows.structure_life import close_structure

    done = close_structure(cli.runtime, cli.actor(), siret, reason=reason)
    cli.emit(
        done,
        f"structure {done['siret']} closed: {len(done['accounts_locked'])} account(s) locked, "
        f"{len(done['requests_cancelled'])} invitation(s) cancelled",
    )


@structure.command()
@click.argument("siret")
@pass_cli
def reopen(cli: CliContext, siret: str) -> None:
    """Reopen a closed structure (agent); accounts suspended on their own stay suspended."""
    from apexdir.workflows.structure_life import reopen_structure

    done = reopen_structure(cli.runtime, cli.actor(), siret)
    cli.emit(
        done,
        f"structure {done['siret']} reopened: {len(done['accounts_unlocked'])} account(s) unlocked",
    )


@structure.command()
@click.argument("siret")
@click.option("--to", "new_siret", required=True, help="The établissement's new SIRET.")
@pass_cli
def move(cli: CliContext, siret: str, new_siret: str) -> None:
    """Move a structure to a new SIRET (agent): services, accounts, requests, rights and
    history follow; the old SIRET is then not found."""
    from apexdir.workflows.structure_life import move_structure

    done = move_structure(cli.runtime, cli.actor(), siret, new_siret)
    cli.emit(done, f"structure {done['previous_siret']} moved to {done['siret']}")


def _print_structure(data: dict[str, Any]) -> None:
    closed = "  [fermée]" if data.get("status") == "closed" else ""
    click.echo(f"{data['siret']}  {data['name']}  ({data['category']}){closed}")
    click.echo("Administrateurs:")
    for account in data["administrators"]:
        click.echo(f"  {_line(account)}")
    for service in data["services"]:
        click.echo(f"Service {service['name']}:")
        for kind in ("responsables", "collaborateurs"):
            for account in service[kind]:
                click.echo(f"  [{kind[:-1]}] {_line(account)}")


def _line(account: dict[str, Any]) -> str:
    habs = ", ".join(account["habilitations"]) or "-"
    return (
        f"{account['identifier']}  {account['first_name']} {account['last_name']}  "
        f"<{account['mail']}>  {habs}"
    )


@click.group()
def service() -> None:
    """Services of a structure."""


@service.command("create")
@click.argument("siret")
@click.argument("name")
@pass_cli
def service_create(cli: CliContext, siret: str, name: str) -> None:
    """Create a service."""
    from apexdir.workflows.services import create_service

    created = create_service(cli.runtime, cli.actor(), siret, name)
    cli.emit(
        {"siret": created.siret, "name": created.name, "id": created.id},
        f"service {created.name!r} created",
    )


@service.command("rename")
@click.argument("siret")
@click.argument("name")
@click.argument("new_name")
@pass_cli
def service_rename(cli: CliContext, siret: str, name: str, new_name: str) -> None:
    """Rename a service (its accounts keep their DN)."""
    from apexdir.workflows.services import rename_service

    renamed = rename_service(cli.runtime, cli.actor(), siret, name, new_name)
    cli.emit(
        {"siret": renamed.siret, "name": renamed.name, "id": renamed.id},
        f"service renamed to {renamed.name!r}",
    )


@service.command("merge")
@click.argument("siret")
@click.argument("source")
@click.argument("target")
@pass_cli
def service_merge(cli: CliContext, siret: str, source: str, target: str) -> None:
    """Move every account of SOURCE into TARGET, then delete SOURCE."""
    from apexdir.workflows.services import merge_services

    result = merge_services(cli.runtime, cli.actor(), siret, source, target)
    cli.emit(
        {
            "source": result.source,
            "target": result.target,
            "moved": result.moved,
            "requests_moved": result.requests_moved,
        },
        f"{result.moved} account(s) moved from {source!r} to {target!r}; {source!r} deleted",
    )


@service.command("delete")
@click.argument("siret")
@click.argument("name")
@pass_cli
def service_delete(cli: CliContext, siret: str, name: str) -> None:
    """Delete an empty service."""
    from apexdir.workflows.services import delete_service

    delete_service(cli.runtime, cli.actor(), siret, name)
    cli.emit({"siret": siret, "name": name, "deleted": True}, f"service {name!r} deleted")


@service.command("list")
@click.argument("siret")
@pass_cli
def service_list(cli: CliContext, siret: str) -> None:
    """Services of a structure."""
    from apexdir.workflows.structures import show_structure

    data = show_structure(cli.runtime, cli.actor(), siret)
    rows = [
        {
            "name": s.name,
            "responsables": len(s.responsables),
            "collaborateurs": len(s.collaborateurs),
        }
        for s in data.services
    ]
    cli.emit(rows, lambda r: cli.table(r, ["name", "responsables", "collaborateurs"]))
