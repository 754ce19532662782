"""The catalogue of DGFiP applications and their profiles (agents)."""

from __future__ import annotations

import re

from apexdir.directory.repository import Repository
from apexdir.errors import Conflict, Invalid
from apexdir.models import Application
from apexdir.rules.permissions import Action, Actor, Target, require
from apexdir.runtime import Runtime

CODE = re.compile(r"^[A-Z0-9][A-Z0-9_.-]{0,31}$")
PROFILE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _.'-]{0,63}$")
ANYWHERE = Target(account_type=None, structure=None, service=None, identifier=None)


def normalize_code(code: str) -> str:
    value = code.strip().upper()
    if not CODE.match(value):
        raise Invalid(f"application code {code!r}: 1 to 32 letters, digits, '_', '.', '-'")
    return value


def _profile_name(name: str) -> str:
    value = name.strip()
    if not PROFILE.match(value):
        raise Invalid(f"profile {name!r}: 1 to 64 letters, digits, spaces, '_', '.', '-', \"'\"")
    return value


def add_application(rt: Runtime, actor: Actor, code: str, name: str) -> Application:
    require(actor, Action.CATALOGUE_MANAGE, ANYWHERE)
    code = normalize_code(code)
    label = name.strip()
    if not label or len(label) > 128:
        raise Invalid("application name: 1 to 128 characters")
    dn = rt.layout.application_dn(code)
    if rt.directory.exists(dn):
        raise Conflict(f"application {code} already exists")
    rt.directory.add(dn, {"objectClass": ["apexApplication"], "apexAppCode": code, "cn": label})
    rt.journal.record("app.add", code, actor=actor.identifier, operator=rt.operator)
    return Application(code=code, name=label, dn=dn)


def add_profile(rt: Runtime, actor: Actor, code: str, profile: str) -> str:
    require(actor, Action.CATALOGUE_MANAGE, ANYWHERE)
    code = normalize_code(code)
    profile = _profile_name(profile)
    repo = Repository(rt.directory, rt.layout)
    repo.application(code)
    dn = rt.layout.profile_dn(code, profile)
    if rt.directory.exists(dn):
        raise Conflict(f"profile {code}/{profile} already exists")
    rt.directory.add(dn, {"objectClass": ["apexProfile"], "cn": profile, "apexAppCode": code})
    rt.journal.record(
        "app.profile-add", f"{code}/{profile}", actor=actor.identifier, operator=rt.operator
    )
    return f"{code}/{profile}"


def list_applications(rt: Runtime) -> list[Application]:
    return Repository(rt.directory, rt.layout).applications()


def parse_habilitation(app: str, profile: str) -> tuple[str, str]:
    return normalize_code(app), _profile_name(profile)
