"""What the management screens share: the service list of the actor's structure, the
profiles an actor may hand out, a workflow call turned into an alert."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import abort, flash

from apexdir.directory.repository import Repository
from apexdir.errors import Conflict, Invalid
from apexdir.models import Account, Service
from apexdir.portal.context import rt
from apexdir.portal.errors import french


def services_of(siret: str) -> list[Service]:
    return Repository(rt().directory, rt().layout).services(siret)


def service_or_404(siret: str, service_id: str) -> Service:
    for service in services_of(siret):
        if service.id == service_id:
            return service
    abort(404)


def app_names() -> dict[str, str]:
    return {a.code: a.name for a in Repository(rt().directory, rt().layout).applications()}


def handable_profiles(me: Account) -> list[str]:
    """An administrator hands out the profiles he holds, a responsable those delegated to
    him (SPEC §6); the workflow checks again whatever the form sends."""
    if me.type == "administrateur":
        return sorted(me.habilitations)
    if me.type == "responsable":
        return sorted(me.delegations)
    return []


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
