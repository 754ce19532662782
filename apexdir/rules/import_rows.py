"""The checks of one line of a bulk import that need nothing but the line and what is
known already: pure rules, called for every row by `apexdir.bulk`."""

from __future__ import annotations

from collections.abc import Container

from apexdir.errors import Invalid
from apexdir.models import AccountType
from apexdir.rules import identifiers
from apexdir.rules.text import directory_string

DIGITS = "0123456789"
APP_NAME_LENGTH = 128  # cn of an application, as `apexdir app add` allows
SERVICE_ID_LENGTH = 64  # apexServiceId {64}


def app_label(value: str) -> str:
    label = value.strip()
    if not label or len(label) > APP_NAME_LENGTH:
        raise Invalid(f"application name: 1 to {APP_NAME_LENGTH} characters")
    return directory_string("application name", label)


def service_id(value: str) -> str:
    """A service identifier given by the file (apexServiceId)."""
    directory_string("apexServiceId", value, max_length=SERVICE_ID_LENGTH)
    return value


def account_type(value: str) -> AccountType:
    try:
        return AccountType(value.strip().lower())
    except ValueError:
        raise Invalid(f"type {value!r}: administrateur, responsable or collaborateur") from None


def check_service_given(kind: str, given: bool) -> None:
    """An administrateur belongs to the structure, the others to one of its services."""
    if kind == "administrateur":
        if given:
            raise Invalid("an administrateur belongs to the structure: no service")
    elif not given:
        raise Invalid(f"a {kind} belongs to a service: service is required")


def check_delegations(kind: str, delegations: list[str]) -> None:
    if delegations and kind != "responsable":
        raise Invalid("profiles are delegated to responsables only")


def stem_key(uid: str) -> str:
    """Every identifier that could collide with stem S files under S without its digits."""
    return uid.lower().removesuffix(identifiers.SUFFIX).rstrip(DIGITS)


def given_identifier_problem(
    uid: str, reserved: dict[str, int], existing: Container[str], retired: Container[str]
) -> str | None:
    """Why an identifier the file requires cannot be given (None: it can); `reserved`:
    lower-case identifiers given by earlier lines → their line."""
    if not identifiers.is_valid_identifier(uid):
        return f"identifier {uid!r} does not follow the rules (prenom.nom-px, SPEC §3)"
    if uid.lower() in reserved:
        return f"identifier {uid} already given at line {reserved[uid.lower()]}"
    if uid.lower() in existing:
        return f"identifier {uid} is already another account's"
    if uid.lower() in retired:
        return f"identifier {uid} belonged to a deleted account: it is never issued again"
    return None
