"""The catalogue of DGFiP applications and their profiles (agents)."""

from __future__ import annotations

import re

from apexdir.directory.repository import Repository
from apexdir.errors import Conflict, Invalid, NotFound
from apexdir.models import Application
from apexdir.rules.permissions import Action, Actor, Target, require
from apexdir.rules.urls import web_address
from apexdir.runtime import Runtime

CODE = re.compile(r"^[A-Z0-9][A-Z0-9_.-]{0,31}$")
PROFILE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _.'-]{0,63}$")
ANYWHERE = Target(account_type=None, structure=None, service=None, identifier=None)


def normalize_code(code: str) -> str:
    value = code.strip().upper()
    if not CODE.match(value):
        raise Invalid(code="catalogue.app_code", params={"value": code}, field="code")
    return value


def _profile_name(name: str) -> str:
    value = name.strip()
    if not PROFILE.match(value):
        raise Invalid(code="catalogue.profile_name", params={"value": name}, field="profile")
    return value


def _app_name(name: str) -> str:
    label = name.strip()
    if not label or len(label) > 128:
        raise Invalid(code="catalogue.app_name", field="name")
    return label


def add_application(
    rt: Runtime, actor: Actor, code: str, name: str, url: str | None = None
) -> Application:
    require(actor, Action.CATALOGUE_MANAGE, ANYWHERE)
    code = normalize_code(code)
    app = Application(
        code=code,
        name=_app_name(name),
        dn=rt.layout.application_dn(code),
        url=web_address(url) if url else None,
    )
    repo = Repository(rt.directory, rt.layout)
    if repo.application_exists(code):
        raise Conflict(code="catalogue.app_exists", params={"code": code})
    repo.add_application(app)
    rt.journal.record("app.add", code, actor=actor.identifier, operator=rt.operator)
    return app


def update_application(
    rt: Runtime, actor: Actor, code: str, *, name: str | None = None, url: str | None = None
) -> Application:
    """A new name and/or address (an empty address removes it); None keeps a value."""
    require(actor, Action.CATALOGUE_MANAGE, ANYWHERE)
    code = normalize_code(code)
    repo = Repository(rt.directory, rt.layout)
    repo.application(code)  # NotFound before anything is checked or written
    label = _app_name(name) if name is not None else None
    address = (web_address(url) if url.strip() else "") if url is not None else None
    repo.update_application(code, name=label, url=address)
    changed = [k for k, v in (("name", label), ("url", address)) if v is not None]
    rt.journal.record(
        "app.update",
        code,
        actor=actor.identifier,
        operator=rt.operator,
        details={"changed": changed},
    )
    return repo.application(code)


def add_profile(rt: Runtime, actor: Actor, code: str, profile: str) -> str:
    require(actor, Action.CATALOGUE_MANAGE, ANYWHERE)
    code = normalize_code(code)
    profile = _profile_name(profile)
    repo = Repository(rt.directory, rt.layout)
    repo.application(code)
    repo.add_profile(code, profile)
    rt.journal.record(
        "app.profile-add", f"{code}/{profile}", actor=actor.identifier, operator=rt.operator
    )
    return f"{code}/{profile}"


def list_applications(rt: Runtime) -> list[Application]:
    return Repository(rt.directory, rt.layout).applications()


def application_name(rt: Runtime, code: str) -> str | None:
    """The name partners know an application by; None when the catalogue lacks it."""
    try:
        return Repository(rt.directory, rt.layout).application(code).name
    except NotFound:
        return None


def parse_habilitation(app: str, profile: str) -> tuple[str, str]:
    return normalize_code(app), _profile_name(profile)
