"""Fixtures of the authentication tests: real partner accounts, their mails and texts."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from apexdir.clock import FrozenClock
from apexdir.config import Settings
from apexdir.directory.server import SlapdInstance
from apexdir.runtime import Runtime
from tests.conftest import admin
from tests.helpers import SIRET, Cli

CODE_SUBJECT = "APEX Partenaires – Code de vérification"
RESET_SUBJECT = "APEX Partenaires – Réinitialisation de votre mot de passe"


@dataclass
class Partner:
    identifier: str
    mail: str
    dn: str
    mobile: str | None = None


@pytest.fixture
def make_partner(app_cli: Cli, slapd: SlapdInstance) -> Callable[..., Partner]:
    """Create real accounts through the CLI (invite → form → validation)."""
    app_cli.create_structure(SIRET, "Banque Exemple", "Comptabilité")

    def make(first: str = "Marie", last: str = "Martin", *, mobile: str | None = None,
             kind: str = "collaborateur") -> Partner:  # fmt: skip
        mail = f"{first.lower()}.{last.lower()}@example.org"
        service = None if kind == "administrateur" else "Comptabilité"
        identifier = app_cli.create_account(SIRET, kind, mail, first, last, service=service,
                                            mobile=mobile)  # fmt: skip
        return Partner(identifier, mail, slapd.layout.account_dn(identifier),
                       "+33" + mobile.replace(" ", "")[1:] if mobile else None)  # fmt: skip

    return make


@pytest.fixture
def partner(make_partner: Callable[..., Partner]) -> Partner:
    """Marie Martin, collaborateur, no mobile (reset by mail)."""
    return make_partner()


@pytest.fixture
def mobile_partner(make_partner: Callable[..., Partner]) -> Partner:
    """Paul Durand, collaborateur, with a mobile (reset by SMS)."""
    return make_partner("Paul", "Durand", mobile="06 12 34 32 34")


def codes_mailed(app_cli: Cli, mail: str) -> list[str]:
    """The login codes mailed to `mail`, oldest first (delivers the spool)."""
    bodies = [m["body"] for m in app_cli.mails(to=mail) if m["subject"] == CODE_SUBJECT]
    return re.findall(r"code de vérification (\d{6}) pour", "\n".join(bodies))


def sms_codes(app_cli: Cli, sinks: Any, number: str) -> list[str]:
    from apexdir.dev.captured import captured_sms

    app_cli.deliver()
    texts = [m["body"] for m in captured_sms(sinks.directory, to=number)]
    return re.findall(r"code de sécurité est (\d{6})", "\n".join(texts))


def reset_links(app_cli: Cli, mail: str) -> list[str]:
    bodies = [m["body"] for m in app_cli.mails(to=mail) if m["subject"] == RESET_SUBJECT]
    return re.findall(r"URL : (\S+)", "\n".join(bodies))


@pytest.fixture
def clock() -> FrozenClock:
    """Now, frozen: moved by the tests that expire codes and links."""
    return FrozenClock(datetime.now(UTC).replace(microsecond=0))


@pytest.fixture
def frozen_rt(settings: Settings, clock: FrozenClock) -> Iterator[Runtime]:
    """The library with an injected clock (slapd keeps real time)."""
    runtime = Runtime(settings, clock=clock, operator="tester")
    yield runtime
    runtime.close()


@pytest.fixture
def policy_override(slapd: SlapdInstance) -> Iterator[Callable[..., None]]:
    """Change attributes of the partners' ppolicy entry for one test, then restore them."""
    dn = slapd.layout.default_policy_dn
    saved: dict[str, list[Any]] = {}

    def override(**values: Any) -> None:
        with admin(slapd) as directory:
            entry = directory.get(dn, list(values))
            for name in values:
                saved.setdefault(name, [str(v) for v in entry.all(name)] if entry else [])
            directory.replace(dn, **{k: str(v) for k, v in values.items()})

    yield override
    if saved:
        with admin(slapd) as directory:
            directory.replace(dn, **saved)
