"""Structures (agents create them) and the consultation every partner type may see (SPEC §7)."""

from __future__ import annotations

from typing import Any

from apexdir.directory.mapping import LISTING_ATTRS
from apexdir.directory.repository import Repository
from apexdir.errors import Invalid
from apexdir.models import ServiceMembers, Structure, StructureConsultation
from apexdir.rules.permissions import Action, Actor, ActorType, Target, require
from apexdir.rules.siret import validate_siret
from apexdir.rules.text import display_name
from apexdir.runtime import Runtime

# Within the schema's bounds: apexTradeName and apexStreet2 {256}, street {128} and
# postalCode {40} (core.schema), apexCountry {128}.
TEXT_LIMITS = {
    "name": 256,
    "trade_name": 256,
    "street": 128,
    "street2": 256,
    "postal_code": 16,
    "city": 128,
    "country": 128,
}


def structure_target(siret: str) -> Target:
    return Target(account_type=None, structure=siret, service=None, identifier=None)


def _category(rt: Runtime, category: str) -> str:
    wanted = category.strip().casefold()
    for known in rt.settings.categories:
        if known.casefold() == wanted:
            return known
    raise Invalid(
        code="structure.category",
        params={"value": category, "known": " · ".join(rt.settings.categories)},
        field="category",
    )


# The words of the guide's récapitulatif, for the messages partners may read.
LABELS = {
    "name": "Désignation",
    "trade_name": "Nom commercial",
    "street": "Voie",
    "street2": "Complément",
    "postal_code": "Code postal",
    "city": "Ville",
    "country": "Pays",
}


def _clean(field: str, value: str | None, *, required: bool = False) -> str | None:
    """A structure's text field, with the rule of every displayed name
    (rules.text.display_name), address lines included: partners read them on their pages
    and programs read them in the directory the same way."""
    text = " ".join(value.split()) if value else ""
    if not text:
        if required:
            raise Invalid(code="text.required", params={"label": LABELS[field]}, field=field)
        return None
    if len(text) > TEXT_LIMITS[field]:
        raise Invalid(
            code="text.too_long",
            params={"label": LABELS[field], "max": TEXT_LIMITS[field], "length": len(text)},
            field=field,
        )
    return display_name(LABELS[field], text, max_length=TEXT_LIMITS[field])


def create_structure(
    rt: Runtime,
    actor: Actor,
    *,
    siret: str,
    category: str,
    name: str,
    trade_name: str | None = None,
    street: str | None = None,
    street2: str | None = None,
    postal_code: str | None = None,
    city: str | None = None,
    country: str | None = None,
) -> Structure:
    require(actor, Action.STRUCTURE_CREATE, structure_target(siret))
    structure = Structure(
        siret=validate_siret(siret),
        category=_category(rt, category),
        name=_clean("name", name, required=True) or "",
        trade_name=_clean("trade_name", trade_name),
        street=_clean("street", street),
        street2=_clean("street2", street2),
        postal_code=_clean("postal_code", postal_code),
        city=_clean("city", city),
        country=_clean("country", country),
    )
    Repository(rt.directory, rt.layout).create_structure(structure)
    rt.journal.record("structure.create", structure.siret, actor=actor.identifier,
                      operator=rt.operator, structure=structure.siret)  # fmt: skip
    return structure


def update_structure(rt: Runtime, actor: Actor, siret: str, **changes: str | None) -> Structure:
    """Change the désignation, category or address; the SIRET never changes."""
    require(actor, Action.STRUCTURE_UPDATE, structure_target(siret))
    repo = Repository(rt.directory, rt.layout)
    structure = repo.structure(validate_siret(siret))
    updates: dict[str, Any] = {}
    for field, value in changes.items():
        if value is None:
            continue
        if field == "category":
            updates[field] = _category(rt, value)
        elif field == "name":
            updates[field] = _clean(field, value, required=True)
        elif field in TEXT_LIMITS:
            updates[field] = _clean(field, value)
        else:
            raise Invalid(code="structure.unknown_field", params={"value": field})
    if updates:
        repo.update_structure(structure, **updates)
        rt.journal.record(
            "structure.update",
            structure.siret,
            actor=actor.identifier,
            operator=rt.operator,
            details={"fields": sorted(k for k, v in changes.items() if v is not None)},
            structure=structure.siret,
        )
    return repo.structure(structure.siret)


def list_structures(rt: Runtime, actor: Actor) -> list[Structure]:
    repo = Repository(rt.directory, rt.layout)
    if actor.type == ActorType.AGENT:
        return repo.structures()
    return [repo.structure(actor.structure or "")]


def structure(rt: Runtime, actor: Actor, siret: str) -> Structure:
    """One structure, for an actor who may consult it."""
    require(actor, Action.STRUCTURE_VIEW, structure_target(siret))
    return Repository(rt.directory, rt.layout).structure(siret)


def show_structure(rt: Runtime, actor: Actor, siret: str) -> StructureConsultation:
    """The consultation: structure, administrators, and per service its accounts — no phone."""
    siret = validate_siret(siret)
    require(actor, Action.STRUCTURE_VIEW, structure_target(siret))
    repo = Repository(rt.directory, rt.layout)
    structure = repo.structure(siret)
    services = {s.id: ServiceMembers(s) for s in repo.services(siret)}
    administrators = []
    for account in repo.accounts(siret=siret, attributes=LISTING_ATTRS):
        if account.type == "administrateur":
            administrators.append(account)
        elif account.service_id in services:
            members = services[account.service_id]
            if account.type == "responsable":
                members.responsables.append(account)
            elif account.type == "collaborateur":
                members.collaborateurs.append(account)
    return StructureConsultation(structure, administrators, list(services.values()))
