"""The life of a structure (SPEC §10): closing, reopening, moving to a new SIRET. Pure.

A closed structure keeps everything — accounts, services, habilitations, history — and
carries `apexStatus: closed`; each of its accounts that could log in until then is locked
with the status `structure-closed` (beside slapd's administrative lock). The status says
*why* an account is locked: reopening unlocks the `structure-closed` ones only, so that an
account suspended on its own (status `suspended`, the per-account suspension) or locked by
hand before the closing stays as it was.
"""

from __future__ import annotations

from apexdir.errors import Invalid
from apexdir.models import AccountStatus, StructureStatus
from apexdir.rules.siret import validate_siret

OPEN = StructureStatus.OPEN
CLOSED = StructureStatus.CLOSED
# An account's status while its structure is closed (apexStatus of the account entry).
ACCOUNT_CLOSED = AccountStatus.STRUCTURE_CLOSED
ACTIVE = AccountStatus.ACTIVE
# What a partner or an agent reads for these states.
STRUCTURE_STATUS_LABELS: dict[str, str] = {OPEN: "Ouverte", CLOSED: "Fermée"}
ACCOUNT_STATUS_LABEL = "Structure fermée"

# Told at login to whoever typed the right password of an account of a closed structure
# (a wrong password gets the answer of an unknown identifier, as everywhere).
CLOSED_AT_LOGIN = (
    "Votre structure est fermée sur APEX Partenaires : votre compte ne permet plus de vous "
    "connecter, ni à votre espace ni aux applications de la DGFIP. Pour toute question, "
    "veuillez vous rapprocher de l'assistance."
)
CLOSED_REASON = "fermeture de la structure"


def locked_at_closing(status: str, locked_by_administrator: bool) -> bool:
    """Whether closing the structure locks this account: only one that could log in until
    now. A suspended account, or one an administrator locked by hand, is locked already —
    for its own reason, which the reopening must not lift."""
    return status == ACTIVE and not locked_by_administrator


def unlocked_at_reopening(status: str) -> bool:
    """Whether reopening the structure unlocks this account: only those the closing locked."""
    return status == ACCOUNT_CLOSED


def check_move(siret: str, new_siret: str) -> tuple[str, str]:
    """The two SIRETs of a move, checked (14 digits, Luhn key, La Poste's rule) and
    different; `Invalid` otherwise."""
    old, new = validate_siret(siret), validate_siret(new_siret)
    if old == new:
        raise Invalid(f"le nouveau SIRET est celui de la structure ({old}) : rien à transférer")
    return old, new
