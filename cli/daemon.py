"""`apexdir daemon …`, `apexdir outbox …`, `apexdir journal`."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import click

from apexdir.cli.context import CliContext, pass_cli

if TYPE_CHECKING:
    from apexdir.rules.permissions import Actor

JOBS = ["outbox", "expiry", "pending", "review", "changes", "housekeeping", "dormancy"]
# apexdir.state.spool_admin.STATUSES, written out: importing the store costs every command.
STATUSES = ["queued", "sending", "sent", "failed", "dropped", "held"]


@click.group()
def daemon() -> None:
    """The scheduler: run it in the foreground, or one job once."""


@daemon.command("run-once")
@click.argument("job", type=click.Choice(JOBS))
@pass_cli
def run_once(cli: CliContext, job: str) -> None:
    """One pass of JOB, then exit."""
    import importlib

    module = importlib.import_module(f"apexdir.daemon.jobs.{job}")
    result = module.run_once(cli.runtime.settings)
    cli.emit(result, f"{job}: " + ", ".join(f"{k}={v}" for k, v in result.items()))


@daemon.command()
@pass_cli
def run(cli: CliContext) -> None:
    """Foreground scheduler; stops cleanly on SIGTERM/SIGINT."""
    from apexdir.daemon.app import run_forever

    run_forever(cli.runtime.settings)


@click.group()
def outbox() -> None:
    """Queued, sent and failed messages."""


@outbox.command("list")
@click.option("--status", default=None, type=click.Choice(STATUSES))
@pass_cli
def outbox_list(cli: CliContext, status: str | None) -> None:
    """Messages in the spool (never their bodies)."""
    rows = cli.runtime.outbox.list(status=status)
    cli.emit(
        rows,
        lambda r: cli.table(
            r, ["id", "kind", "to", "subject", "status", "attempts", "last_error"], "Outbox"
        ),
    )


@outbox.command("retry")
@click.argument("message_id", type=int, required=False)
@click.option("--held", is_flag=True, help="Every message held at a restore.")
@pass_cli
def outbox_retry(cli: CliContext, message_id: int | None, held: bool) -> None:
    """Queue a failed or held message again (or every held one)."""
    if held == (message_id is not None):
        from apexdir.errors import UsageError

        raise UsageError(code="cli.retry_which", params={"option": "--held"})
    if held:
        ids = cli.runtime.outbox.release_held()
    else:
        assert message_id is not None
        cli.runtime.outbox.retry(message_id)
        ids = [message_id]
    for one in ids:
        cli.runtime.journal.record("outbox.retry", str(one), actor=None,
                                   operator=cli.runtime.operator)  # fmt: skip
    if message_id is not None:
        cli.emit({"id": message_id, "status": "queued"}, f"message {message_id} queued again")
    else:
        cli.emit({"ids": ids, "status": "queued"}, f"{len(ids)} held message(s) queued again")


@click.command()
@click.option("--since", default=None, metavar="ISO8601", help="Only entries from this moment.")
@click.option(
    "--structure",
    "siret",
    default=None,
    metavar="SIRET",
    help="This structure's history, read from the directory (complete on every node).",
)
@click.option("--account", default=None, metavar="IDENTIFIER", help="History: acting or acted on.")
@click.option("--action", default=None, metavar="ACTION", help="History: one action code.")
@pass_cli
def journal(
    cli: CliContext, since: str | None, siret: str | None, account: str | None, action: str | None
) -> None:
    """Who did what, when: this node's journal (agent), or a structure's history with
    --structure (agent) or --as (an administrateur's structure, a responsable's service)."""
    from apexdir.rules.permissions import ActorType

    actor = cli.actor()
    moment = _moment(since)
    if siret is None and actor.type == ActorType.AGENT:
        if account or action:
            from apexdir.errors import UsageError

            options = {"account": "--account", "action": "--action", "structure": "--structure"}
            raise UsageError(code="cli.journal_filters", params=options)
        rows = cli.runtime.journal.entries(since=moment)
    else:
        # The permission table refuses a collaborateur (workflows.history.reach).
        rows = _history(cli, actor, moment, siret, account, action)
    cli.emit(
        rows, lambda r: cli.table(r, ["at", "operator", "actor", "action", "target"], "Journal")
    )


def _moment(since: str | None) -> datetime | None:
    from apexdir.errors import Invalid

    if not since:
        return None
    try:
        moment = datetime.fromisoformat(since)
    except ValueError:
        raise Invalid(code="cli.since", params={"option": "--since", "value": since}) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _history(
    cli: CliContext,
    actor: Actor,
    since: datetime | None,
    siret: str | None,
    account: str | None,
    action: str | None,
) -> list[dict[str, Any]]:
    from apexdir.rules.history import AGENT_PREFIX, Criteria, label
    from apexdir.workflows import history

    criteria = Criteria(since=since, account=account, action=action)
    found, _ = history.events(cli.runtime, actor, criteria, siret=siret)
    rows = []
    for event in found:
        by_agent = bool(event.actor and event.actor.startswith(AGENT_PREFIX))
        rows.append({
            "at": event.at.isoformat(),
            "operator": event.actor[len(AGENT_PREFIX):] if by_agent and event.actor else None,
            "actor": None if by_agent else event.actor,
            "action": event.action,
            "label": label(event.action),
            "target": event.target,
            "structure": event.structure,
            "service": event.service,
            "details": event.details,
        })  # fmt: skip
    return rows
