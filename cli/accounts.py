"""`apexdir account …`: creation (invite, complete, validate, refuse) and management."""

from __future__ import annotations

import sys
from typing import Any

import click

from apexdir.cli.context import CliContext, pass_cli, read_secrets
from apexdir.models import (
    AccountConsultation,
    AccountDeletion,
    CreationRequest,
    IdentifierReminder,
    RequestDecision,
    RequestStatus,
)

TYPES = click.Choice(["administrateur", "responsable", "collaborateur"], case_sensitive=False)


@click.group()
def account() -> None:
    """Invite, validate, show, transfer, suspend, retype and delete accounts."""


@account.command()
@click.option("--structure", "siret", required=True, help="SIRET of the structure.")
@click.option("--type", "account_type", required=True, type=TYPES, help="Account type.")
@click.option("--mail", required=True, help="E-mail address of the invitee.")
@click.option("--service", default=None, help="Service (responsable, collaborateur).")
@click.option("--application", default=None, help="Application cliente (catalogue code).")
@pass_cli
def invite(
    cli: CliContext,
    siret: str,
    account_type: str,
    mail: str,
    service: str | None,
    application: str | None,
) -> None:
    """Start a creation: queues the pré-création mail with a single-use link."""
    from apexdir.workflows.precreation import invite as run

    result = run(
        cli.runtime,
        cli.actor(),
        siret=siret,
        account_type=account_type,
        mail=mail,
        service=service,
        application=application,
    )
    cli.emit(invitation(result), f"request {result.id}: invitation queued for {result.mail}")


def invitation(req: CreationRequest) -> dict[str, Any]:
    """An invitation just sent, as `account invite` and `resend-invitation` print it."""
    return {
        "request_id": req.id,
        "mail": req.mail,
        "type": req.type,
        "structure": req.siret,
        "service": req.service,
        "expires_at": req.expires_at.isoformat() if req.expires_at else None,
    }


SUMMARY = [
    ("siret", "SIRET"),
    ("name", "Désignation"),
    ("trade_name", "Nom commercial"),
    ("street", "Voie"),
    ("street2", "Complément"),
    ("city", "Ville"),
    ("postal_code", "Code postal"),
    ("country", "Pays"),
    ("last_name", "Nom"),
    ("first_name", "Prénom"),
    ("mail", "E-mail"),
    ("mobile", "Mobile"),
    ("application", "Application cliente"),
]


@account.command()
@click.argument("token")
@click.option("--last-name", required=True, help="Nom.")
@click.option("--first-name", required=True, help="Prénom.")
@click.option("--mobile", default=None, help="Mobile (recommended: enables SMS reset).")
@click.option("--yes", is_flag=True, help="Submit without the confirmation prompt.")
@pass_cli
def complete(
    cli: CliContext, token: str, last_name: str, first_name: str, mobile: str | None, yes: bool
) -> None:
    """The invitee's form. TOKEN is the token or the whole link; password twice on stdin."""
    from apexdir.rules.passwords import strength
    from apexdir.workflows.precreation import complete as run

    password, confirmation = read_secrets(2)
    args: dict[str, Any] = {
        "last_name": last_name,
        "first_name": first_name,
        "mobile": mobile,
        "password": password,
        "confirmation": confirmation,
    }
    summary = run(cli.runtime, token, submit=False, **args)
    if not cli.as_json:
        click.echo("Récapitulatif")
        for key, label in SUMMARY:
            click.echo(f"  {label:20} {getattr(summary, key) or ''}")
        click.echo(f"  {'Mot de passe':20} robustesse {strength(password)}")
    if not yes:
        if not sys.stdin.isatty():
            from apexdir.errors import UsageError

            raise UsageError(code="cli.confirm_needed", params={"option": "--yes"})
        click.confirm("Envoyer votre création de compte ?", abort=True)
    result = run(cli.runtime, token, submit=True, **args)
    cli.emit(
        {"request_id": result.request_id, "status": result.status, "message": result.message},
        result.message,
    )


@account.command()
@click.option("--structure", "siret", default=None, help="Only this structure.")
@click.option(
    "--status",
    "statuses",
    multiple=True,
    type=click.Choice([status.value for status in RequestStatus]),
    help="Statuses to list (default: invited and submitted).",
)
@pass_cli
def pending(cli: CliContext, siret: str | None, statuses: tuple[str, ...]) -> None:
    """Creation requests waiting for the invitee or for a validator."""
    from apexdir.workflows.precreation import pending as run

    rows = [
        r.public()
        for r in run(
            cli.runtime,
            cli.actor(),
            siret=siret,
            statuses=[RequestStatus(s) for s in statuses] or None,
        )
    ]
    keys = ["request_id", "mail", "type", "structure", "service", "status"]
    cli.emit(
        [{k: r[k] for k in keys} | {"requested_at": r["requested_at"]} for r in rows],
        lambda data: cli.table(data, keys, "Demandes de création"),
    )


@account.command()
@click.argument("request_id")
@pass_cli
def validate(cli: CliContext, request_id: str) -> None:
    """Accept a submitted creation: assigns the identifier and creates the account."""
    from apexdir.workflows.precreation import validate as run

    result = run(cli.runtime, cli.actor(), request_id)
    cli.emit(
        {"request_id": result.request_id, "identifier": result.identifier, "status": "accepted"},
        f"request {request_id} accepted: identifier {result.identifier}",
    )


@account.command()
@click.argument("request_id")
@click.option("--reason", required=True, help="Why (mailed to the invitee).")
@pass_cli
def refuse(cli: CliContext, request_id: str, reason: str) -> None:
    """Refuse a creation; the invitee gets the reason by mail."""
    from apexdir.workflows.precreation import refuse as run

    result = run(cli.runtime, cli.actor(), request_id, reason)
    cli.emit(refusal(result), f"request {request_id} refused")


def refusal(result: RequestDecision) -> dict[str, Any]:
    return {"request_id": result.request_id, "status": "refused", "reason": result.reason}


@account.command("resend-invitation")
@click.argument("request_id")
@pass_cli
def resend_invitation(cli: CliContext, request_id: str) -> None:
    """Invite again, with the same data, the person of an expired invitation."""
    from apexdir.workflows.invitations import resend as run

    result = run(cli.runtime, cli.actor(), request_id)
    cli.emit(invitation(result), f"request {request_id} sent again as {result.id}")


@account.command()
@click.argument("identifier")
@pass_cli
def show(cli: CliContext, identifier: str) -> None:
    """One account (the mobile only for an agent)."""
    from apexdir.workflows.accounts import show_account

    cli.emit(consultation(show_account(cli.runtime, cli.actor(), identifier)), _print_account)


def consultation(view: AccountConsultation) -> dict[str, Any]:
    """`account show` (CLI.md): the account, with `mobile` only when the actor may see it."""
    return view.account.public(with_mobile=view.mobile_visible)


def _print_account(data: dict[str, Any]) -> None:
    for key in (
        "identifier",
        "last_name",
        "first_name",
        "mail",
        "mobile",
        "type",
        "siret",
        "service",
        "status",
        "last_login",
        "habilitations",
        "delegations",
    ):
        if key in data:
            value = data[key]
            click.echo(f"{key:14} {', '.join(value) if isinstance(value, list) else value or ''}")


@account.command("list")
@click.option("--structure", "siret", default=None, help="Only this structure.")
@click.option("--status", default=None, help="Only this status (active…).")
@click.option("--type", "account_type", default=None, type=TYPES, help="Only this type.")
@pass_cli
def list_(cli: CliContext, siret: str | None, status: str | None, account_type: str | None) -> None:
    """Accounts (an agent sees all, a responsable those of his service, another partner
    those of his structure)."""
    from apexdir.workflows.accounts import manageable

    found = manageable(
        cli.runtime, cli.actor(), siret=siret, status=status, account_type=account_type
    )
    rows = [a.public() for a in found]
    cli.emit(
        rows,
        lambda r: cli.table(
            r, ["identifier", "type", "last_name", "first_name", "siret", "service", "last_login"]
        ),
    )


@account.command("resend-identifier")
@click.argument("identifier")
@pass_cli
def resend_identifier(cli: CliContext, identifier: str) -> None:
    """Mail the identifier again to the account's address."""
    from apexdir.workflows.accounts import resend_identifier as run

    result = run(cli.runtime, cli.actor(), identifier)
    cli.emit(reminder(result), f"identifier mail queued for {identifier}")


def reminder(result: IdentifierReminder) -> dict[str, Any]:
    return {"identifier": result.identifier, "mail": result.mail}


@account.command()
@click.argument("identifier")
@pass_cli
def delete(cli: CliContext, identifier: str) -> None:
    """Delete an account that holds no habilitation (no other account changes).

    The person is mailed; the identifier is never issued again (a tombstone keeps it). The
    last active administrateur of a structure cannot be deleted (exit 1)."""
    from apexdir.workflows.accounts import delete_account

    result = delete_account(cli.runtime, cli.actor(), identifier)
    cli.emit(deletion(result), f"account {result.identifier} deleted; the person is mailed")


def deletion(result: AccountDeletion) -> dict[str, Any]:
    return {
        "identifier": result.identifier,
        "deleted": True,
        "delegations_dropped": result.delegations_dropped,
    }


@account.command()
@click.argument("identifier")
@click.option("--reason", default=None, help="Why (quoted in the mail to the person).")
@pass_cli
def suspend(cli: CliContext, identifier: str, reason: str | None) -> None:
    """Suspend an account: no bind anywhere (slapd, portal, OIDC), sessions end.

    Reversible with `account reactivate`; nothing is deleted; the person is mailed. An
    administrateur suspends the responsables and collaborateurs of his structure, an agent
    anyone — except the last active administrateur of a structure (exit 1)."""
    from apexdir.workflows.suspension import suspend as run

    result = run(cli.runtime, cli.actor(), identifier, reason=reason)
    cli.emit(
        {"identifier": result.identifier, "status": result.status, "reason": result.reason},
        f"account {result.identifier} suspended; the person is mailed",
    )


@account.command()
@click.argument("identifier")
@pass_cli
def reactivate(cli: CliContext, identifier: str) -> None:
    """Lift a suspension (slapd's lock included); the person is mailed."""
    from apexdir.workflows.suspension import reactivate as run

    result = run(cli.runtime, cli.actor(), identifier)
    cli.emit(
        {"identifier": result.identifier, "status": result.status},
        f"account {result.identifier} reactivated; the person is mailed",
    )


@account.command()
@click.argument("identifier")
@click.option("--type", "account_type", required=True, type=TYPES, help="The new type.")
@click.option(
    "--service",
    default=None,
    help="Service (same structure): required when an administrateur becomes responsable "
    "or collaborateur; otherwise moves the account too.",
)
@pass_cli
def retype(cli: CliContext, identifier: str, account_type: str, service: str | None) -> None:
    """Give an account another type (same DN, identifier and habilitations).

    A responsable who stops being one loses his délégations, listed in the answer
    (`delegations_dropped`). The last active administrateur of a structure cannot be
    retyped (exit 1)."""
    from apexdir.workflows.lifecycle import retype as run

    result = run(cli.runtime, cli.actor(), identifier, account_type, service=service)
    out = result.account.public()
    out.update(previous_type=result.previous_type, delegations_dropped=result.delegations_dropped)
    cli.emit(out, _print_retype)


def _print_retype(data: dict[str, Any]) -> None:
    where = f", service {data['service']}" if data.get("service") else ""
    click.echo(f"account {data['identifier']}: {data['previous_type']} → {data['type']}{where}")
    dropped = data.get("delegations_dropped") or []
    if dropped:
        click.echo(f"délégations retirées : {', '.join(dropped)}")


@account.command()
@click.argument("identifier")
@click.option("--service", required=True, help="Target service, same structure.")
@pass_cli
def transfer(cli: CliContext, identifier: str, service: str) -> None:
    """Move a responsable or collaborateur to another service (same DN, same rights)."""
    from apexdir.workflows.services import transfer_account

    moved = transfer_account(cli.runtime, cli.actor(), identifier, service)
    cli.emit(moved.public(), f"{identifier} now in service {moved.service!r}")
