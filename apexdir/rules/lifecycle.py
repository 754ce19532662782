"""The life of an account after its creation (SPEC §10): statuses, the last administrateur,
type changes. Pure: the workflows read the directory and ask here.
"""

from __future__ import annotations

from dataclasses import dataclass

from apexdir.errors import Conflict, Invalid
from apexdir.models import AccountStatus, AccountType

ACTIVE = AccountStatus.ACTIVE
SUSPENDED = AccountStatus.SUSPENDED
# What a partner reads for each status (the portal, human CLI output).
STATUS_LABELS: dict[str, str] = {ACTIVE: "Actif", SUSPENDED: "Suspendu"}


def status_label(status: str) -> str:
    return STATUS_LABELS.get(status, status)


def last_administrator_refusal(
    identifier: str,
    siret: str,
    *,
    account_type: str,
    status: str,
    other_active_administrators: int,
    structure_open: bool = True,
) -> str | None:
    """Why the account may not be deleted, suspended or given another type; None if it may.

    An open structure must keep one active administrateur, or nobody could manage it (its
    accounts, services, rights): the rule binds agents too. An administrateur who is not
    active (suspended) is not the one keeping the structure managed; a closed structure
    needs nobody to manage it.
    """
    if account_type != AccountType.ADMINISTRATEUR or status != ACTIVE or not structure_open:
        return None
    if other_active_administrators > 0:
        return None
    return (
        f"{identifier} est le dernier administrateur actif de la structure {siret} : ce compte "
        "ne peut être ni supprimé, ni suspendu, ni changer de type. Un autre administrateur "
        "doit d'abord être désigné (ou réactivé)."
    )


@dataclass(frozen=True)
class Retype:
    """What a type change does besides the type: the service and the délégations."""

    new_type: AccountType
    needs_service: bool  # the new type belongs to a service and the account has none yet
    drops_service: bool  # an administrateur belongs to the structure, to no service
    drops_delegations: bool  # only a responsable holds délégations


def plan_retype(
    current: str, new: str, *, service_given: bool, identifier: str = "le compte"
) -> Retype:
    """Check a type change and say what goes with it; `Invalid`/`Conflict` when it cannot be.

    An administrateur becoming responsable or collaborateur must be given a service; an
    account becoming administrateur leaves its service (no `--service` then).
    """
    try:
        target = AccountType(new.strip().lower())
    except ValueError:
        kinds = ", ".join(k.value for k in AccountType)
        raise Invalid(f"type de compte inconnu « {new} » (attendu : {kinds})") from None
    if target == current:
        raise Conflict(f"{identifier} est déjà de type {target.value}")
    if target is AccountType.ADMINISTRATEUR and service_given:
        raise Invalid("un administrateur appartient à la structure, à aucun service")
    needs_service = current == AccountType.ADMINISTRATEUR
    if needs_service and not service_given:
        raise Invalid(f"un {target.value} appartient à un service : indiquez lequel (--service)")
    return Retype(
        new_type=target,
        needs_service=needs_service,
        drops_service=target is AccountType.ADMINISTRATEUR,
        drops_delegations=current == AccountType.RESPONSABLE,
    )
