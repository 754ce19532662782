"""`apexdir review …`: the yearly review of a structure's habilitations (issue 21 item 10)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from apexdir.cli.context import CliContext, pass_cli

if TYPE_CHECKING:
    from apexdir.workflows.review import Sheet


@click.group()
def review() -> None:
    """Yearly review of the habilitations: open one, show it, list the overdue ones."""


@review.command("open")
@click.argument("siret")
@pass_cli
def open_(cli: CliContext, siret: str) -> None:
    """Open a review of SIRET now (agent); its administrateurs are mailed by the daemon."""
    from apexdir.workflows.review import open_review

    opened = open_review(cli.runtime, cli.actor(), siret)
    data = {"siret": opened.siret, "review": opened.id, "status": opened.status,
            "opened_at": opened.opened_at.isoformat()}  # fmt: skip
    cli.emit(data, f"review {opened.id} of {opened.siret}: {opened.status}")


def _sheet_data(sheet: Sheet | None) -> dict[str, Any]:
    if sheet is None:
        return {"open": False}
    return {
        "open": True,
        "siret": sheet.structure.siret,
        "review": sheet.review.id,
        "status": sheet.review.status,
        "opened_at": sheet.review.opened_at.isoformat(),
        "deadline": sheet.deadline.isoformat(),
        "pending": sheet.pending,
        "accounts": [
            {"identifier": row.account.identifier, "type": row.account.type,
             "service": row.account.service,
             "habilitations": [{"habilitation": i.habilitation, "decision": i.decision}
                               for i in row.items]}
            for row in sheet.rows
        ],
    }  # fmt: skip


@review.command()
@click.argument("siret", required=False)
@pass_cli
def show(cli: CliContext, siret: str | None) -> None:
    """The open review of SIRET (an administrateur with --as: his structure's)."""
    from apexdir.workflows.review import sheet

    data = _sheet_data(sheet(cli.runtime, cli.actor(), siret))

    def human(d: dict[str, Any]) -> None:
        if not d["open"]:
            click.echo("no review open")
            return
        rows = [{"identifier": a["identifier"], "type": a["type"], "service": a["service"] or "",
                 "habilitation": h["habilitation"], "decision": h["decision"] or "pending"}
                for a in d["accounts"] for h in a["habilitations"]]  # fmt: skip
        title = f"Review {d['review']} ({d['status']}, {d['pending']} pending)"
        cli.table(rows, ["identifier", "type", "service", "habilitation", "decision"], title)

    cli.emit(data, human)


@review.command()
@pass_cli
def overdue(cli: CliContext) -> None:
    """Reviews past their deadline and the habilitations they left unconfirmed (agent:
    every structure; an administrateur with --as: his own)."""
    from apexdir.workflows.review import overdue as list_overdue

    data = [o.public() for o in list_overdue(cli.runtime, cli.actor())]

    def human(items: list[dict[str, Any]]) -> None:
        none = [{"identifier": "", "habilitation": ""}]
        rows = [{"siret": o["siret"], "name": o["name"], "deadline": o["deadline"][:10],
                 "status": o["status"], "identifier": p["identifier"],
                 "habilitation": p["habilitation"]}
                for o in items for p in (o["pending"] or none)]  # fmt: skip
        cli.table(rows, ["siret", "name", "deadline", "status", "identifier", "habilitation"],
                  "Overdue reviews")  # fmt: skip

    cli.emit(data, human)
