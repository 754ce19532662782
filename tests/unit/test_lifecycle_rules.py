"""The pure rules of an account's life (SPEC §10): the last administrateur, type changes,
the administrative lock read from an entry, the suspension mail without a reason."""

from __future__ import annotations

import pytest

from apexdir.directory.connection import Entry
from apexdir.directory.mapping import ADMINISTRATIVE_LOCK, account_from, suspension_changes
from apexdir.errors import Conflict, Invalid
from apexdir.mail.render import render
from apexdir.rules.lifecycle import last_administrator_refusal, plan_retype, status_label
from apexdir.rules.permissions import AccountType

SIRET = "73282932000074"


def _refusal(**kw: object) -> str | None:
    args: dict[str, object] = {
        "account_type": "administrateur",
        "status": "active",
        "other_active_administrators": 0,
    }
    args.update(kw)
    return last_administrator_refusal("marie.martin-px", SIRET, **args)  # type: ignore[arg-type]


def test_last_active_administrateur_is_refused_with_the_reason() -> None:
    """The only active administrateur of an open structure: a French reason naming both."""
    reason = _refusal()
    assert reason is not None
    assert "marie.martin-px" in reason and SIRET in reason
    assert "dernier administrateur actif" in reason


@pytest.mark.parametrize(
    "kw",
    [
        {"other_active_administrators": 1},
        {"status": "suspended"},
        {"account_type": "responsable"},
        {"account_type": "collaborateur"},
        {"structure_open": False},
    ],
)
def test_the_guard_lets_others_go(kw: dict[str, object]) -> None:
    """Another active administrateur, a suspended one, another type, a closed structure."""
    assert _refusal(**kw) is None


def test_plan_retype() -> None:
    """What goes with a type change: the délégations of a responsable, an administrateur's
    need of a service, an administrateur's lack of one."""
    plan = plan_retype("responsable", "collaborateur", service_given=False)
    assert plan.new_type is AccountType.COLLABORATEUR and plan.drops_delegations
    assert not plan.needs_service and not plan.drops_service
    plan = plan_retype("collaborateur", "Administrateur", service_given=False)
    assert plan.drops_service and not plan.drops_delegations
    plan = plan_retype("administrateur", "responsable", service_given=True)
    assert plan.needs_service and not plan.drops_delegations
    with pytest.raises(Invalid, match="indiquez lequel"):
        plan_retype("administrateur", "collaborateur", service_given=False)
    with pytest.raises(Invalid, match="aucun service"):
        plan_retype("collaborateur", "administrateur", service_given=True)
    with pytest.raises(Conflict, match="déjà de type"):
        plan_retype("collaborateur", "collaborateur", service_given=False)
    with pytest.raises(Invalid, match="type de compte inconnu"):
        plan_retype("collaborateur", "chef", service_given=False)


def test_administrative_lock_is_read_not_parsed_as_a_date() -> None:
    """slapd's "000001010000Z" (year 0) is the administrative lock, not a lockout time."""
    entry = Entry(
        "uid=a-px,ou=people,dc=x",
        {
            "uid": ["a-px"],
            "apexAccountType": ["collaborateur"],
            "apexStatus": ["suspended"],
            "pwdAccountLockedTime": [ADMINISTRATIVE_LOCK],
        },
    )
    account = account_from(entry)
    assert account.locked_by_administrator and account.locked_at is None
    assert account.status == "suspended" and status_label(account.status) == "Suspendu"
    assert suspension_changes(True)["pwdAccountLockedTime"] == ADMINISTRATIVE_LOCK
    assert suspension_changes(False) == {"apexStatus": "active", "pwdAccountLockedTime": None}


def test_suspension_mail_without_a_reason() -> None:
    """No « Motif » line and no blank lines piling up when no reason was given."""
    mail = render(
        "account_suspended", identifiant="a-px", date="01/02/2026", heure="10:00", motif=None
    )
    assert "Motif" not in mail.text and "\n\n\n" not in mail.text
    assert "Motif" not in mail.html
