"""What the management screens share: the service list of the actor's structure, the
applications' names, a workflow call turned into an alert."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import abort, flash

from apexdir.errors import Conflict, Invalid
from apexdir.models import Service
from apexdir.portal.context import actor, rt
from apexdir.portal.errors import french
from apexdir.workflows import catalogue, services


def services_of(siret: str) -> list[Service]:
    return services.of_structure(rt(), actor(), siret)


def service_or_404(siret: str, service_id: str) -> Service:
    for service in services_of(siret):
        if service.id == service_id:
            return service
    abort(404)


def app_names() -> dict[str, str]:
    return {a.code: a.name for a in catalogue.list_applications(rt())}


def profile_label(key: str, names: dict[str, str]) -> str:
    app, _, profile = key.partition("/")
    return f"{names.get(app, app)} — {profile}"


def attempt(action: Callable[[], Any], success: str | Callable[[Any], str]) -> Any:
    """Run one workflow; a refusal (bad input, a state that forbids it, someone faster)
    becomes an error alert on the next page, a success its message. Rights and missing
    targets go on to the 403/404 pages."""
    try:
        result = action()
    except (Invalid, Conflict) as exc:
        flash(french(exc), "error")
        return None
    flash(success(result) if callable(success) else success, "success")
    return result if result is not None else True
