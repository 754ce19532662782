"""Accounts: consultation, deletion (guarded), identifier reminder, personal data (SPEC §6–§7)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from apexdir.directory.mapping import LISTING_ATTRS, PERSONAL, common_name
from apexdir.directory.repository import Repository
from apexdir.errors import Conflict, Invalid, NotAllowed
from apexdir.models import Account, AccountConsultation, AccountDeletion, IdentifierReminder
from apexdir.rules.contact import normalize_mobile, validate_mail
from apexdir.rules.permissions import Action, Actor, ActorType, may_list, require
from apexdir.rules.siret import validate_siret
from apexdir.rules.text import display_name
from apexdir.runtime import Runtime
from apexdir.workflows.actors import history_of, target_for
from apexdir.workflows.lifecycle import require_not_last_administrator
from apexdir.workflows.notify import (
    announce_then,
    moment,
    personal_data,
    queue_mail,
    queue_mail_or_undo,
)

PERSONAL_DATA_MESSAGE = "Vos données personnelles ont été modifiées."


def consult(rt: Runtime, actor: Actor, identifier: str) -> Account:
    """One account, for an actor who may consult it (SPEC §7)."""
    account = Repository(rt.directory, rt.layout).account(identifier)
    require(actor, Action.ACCOUNT_VIEW, target_for(account))
    return account


def show_account(rt: Runtime, actor: Actor, identifier: str) -> AccountConsultation:
    """One account as its consultation shows it: the mobile only for an agent (for anyone
    else the account comes without it)."""
    account = consult(rt, actor, identifier)
    if actor.type == ActorType.AGENT:
        return AccountConsultation(account, mobile_visible=True)
    return AccountConsultation(replace(account, mobile=None))


def manageable(
    rt: Runtime,
    actor: Actor,
    *,
    siret: str | None = None,
    status: str | None = None,
    account_type: str | None = None,
) -> list[Account]:
    """The accounts an actor sees on his list (`account list`, the portal's « Gestion des
    comptes »): an agent every account (of `siret` if given), an administrateur those of his
    structure, a responsable those of his service, a collaborateur those of his structure
    (`rules.permissions.listing_scope`)."""
    if siret is not None:
        siret = validate_siret(siret)
    if actor.type != ActorType.AGENT:
        if siret and siret != actor.structure:
            raise NotAllowed("Action non autorisée: consulter les comptes d'une autre structure")
        siret = actor.structure
    found = Repository(rt.directory, rt.layout).accounts(
        siret=siret, status=status, account_type=account_type, attributes=LISTING_ATTRS
    )
    return [a for a in found if may_list(actor, target_for(a))]


def delete_account(rt: Runtime, actor: Actor, identifier: str) -> AccountDeletion:
    """Allowed only once the account holds no habilitation, and never for the last active
    administrateur of its structure; touches no other account (SPEC §6, §10).

    In order: the tombstone (the identifier is never issued again), the mail to the person
    queued, the account deleted — should the deletion fail, the mail is cancelled.
    """
    repo = Repository(rt.directory, rt.layout)
    account = repo.account(identifier)
    require(actor, Action.ACCOUNT_DELETE, target_for(account))
    if actor.identifier and actor.identifier.lower() == account.identifier.lower():
        raise Conflict(code="account.delete_self")
    if account.habilitations:
        raise Conflict(
            code="account.delete_habilitations",
            params={
                "identifier": identifier,
                "count": len(account.habilitations),
                "profiles": ", ".join(account.habilitations),
            },
        )
    require_not_last_administrator(rt, account)
    repo.retire(account.identifier)
    # refint drops the account from profile groups and from other entries' references; its
    # open sessions end with it (the portal reads the account at every request).
    announce_then(
        rt,
        lambda: repo.delete_account_entry(account),
        "account_deleted",
        [account.mail],
        identifiant=account.identifier,
        **moment(rt),
    )
    rt.journal.record(
        "account.delete",
        account.identifier,
        actor=actor.identifier,
        operator=rt.operator,
        details={"type": account.type, "structure": account.siret},
        **history_of(account),
    )
    return AccountDeletion(account.identifier, account.delegations)


def resend_identifier(rt: Runtime, actor: Actor, identifier: str) -> IdentifierReminder:
    account = Repository(rt.directory, rt.layout).account(identifier)
    require(actor, Action.RESEND_IDENTIFIER, target_for(account))
    queue_mail(rt, "identifier_reminder", [account.mail], identifiant=account.identifier)
    rt.journal.record(
        "account.resend-identifier",
        identifier,
        actor=actor.identifier,
        operator=rt.operator,
        **history_of(account),
    )
    return IdentifierReminder(identifier, account.mail)


def update_personal_data(
    rt: Runtime,
    actor: Actor,
    identifier: str,
    *,
    last_name: str | None = None,
    first_name: str | None = None,
    mail: str | None = None,
    mobile: str | None = None,
) -> Account:
    """Nom, prénom, e-mail, mobile; the identifier never changes. Confirmation mail to the
    old address, and to the new one when the e-mail changes. The account as it is now."""
    repo = Repository(rt.directory, rt.layout)
    account = repo.account(identifier)
    require(actor, Action.SELF_UPDATE, target_for(account))
    changes = _personal_changes(account, last_name, first_name, mail, mobile)
    previous = {
        "last_name": account.last_name,
        "first_name": account.first_name,
        "common_name": common_name(account.first_name, account.last_name),
        "mail": account.mail,
        "mobile": account.mobile,
    }
    repo.update_personal_data(account, **changes)
    new_mail = changes.get("mail")
    for notice in personal_data(account.identifier, account.mail, new_mail, rt.clock()):
        # The confirmation is a safeguard (someone else may have done it): no change
        # without it.
        queue_mail_or_undo(
            rt,
            lambda: repo.update_personal_data(account, **{k: previous[k] for k in changes}),
            notice.template,
            notice.to,
            **notice.context,
        )
    rt.journal.record(
        "account.update",
        identifier,
        actor=actor.identifier,
        operator=rt.operator,
        details={"fields": sorted(PERSONAL[k] for k in changes if k != "common_name")},
        **history_of(account),
    )
    return repo.account(identifier)


def _personal_changes(
    account: Account,
    last_name: str | None,
    first_name: str | None,
    mail: str | None,
    mobile: str | None,
) -> dict[str, Any]:
    """The fields to replace (`mapping.PERSONAL`'s names), checked and normalized (the
    common name follows the names)."""
    changes: dict[str, Any] = {}
    if last_name is not None:
        changes["last_name"] = _name("Nom", last_name)
    if first_name is not None:
        changes["first_name"] = _name("Prénom", first_name)
    if mail is not None:
        changes["mail"] = validate_mail(mail)
    if mobile is not None:
        changes["mobile"] = normalize_mobile(mobile) if mobile.strip() else None
    if not changes:
        raise Invalid(code="account.nothing_to_change")
    if "last_name" in changes or "first_name" in changes:
        changes["common_name"] = common_name(
            changes.get("first_name", account.first_name),
            changes.get("last_name", account.last_name),
        )
    return changes


def _name(label: str, value: str) -> str:
    field = "last_name" if label == "Nom" else "first_name"
    return display_name(label, value, max_length=64, field=field)


def account_or_none(rt: Runtime, identifier: str) -> Account | None:
    from apexdir.errors import NotFound

    try:
        return Repository(rt.directory, rt.layout).account(identifier)
    except (NotFound, Invalid):
        return None
